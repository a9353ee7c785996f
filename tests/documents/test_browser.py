"""The youth copy in a real browser: the wallet card prints on one page, emergency first.

Needs Debian's ``chromium`` (``.ci/run`` installs it); skipped with a reason when it is absent.
Set ``HARBOUR_TEST_ARTIFACTS`` to a folder to keep the PDF and screenshot for the record.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.documents.fixtures import crowded_plan, fixed_plan
from tests.documents.helpers import rendered
from tests.documents.png import pixel, read_png

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)
EMERGENCY_BACKGROUND = (244, 244, 244)  # #f4f4f4, the emergency panel in youth.html
DPI = 96


def chromium(tmp_path: Path, *args: str) -> None:
    assert CHROMIUM is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    subprocess.run([CHROMIUM, *flags, *args], check=True, capture_output=True, timeout=90)


def page_count(pdf: Path) -> int:
    try:
        from pypdf import PdfReader
    except ImportError:
        return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf.read_bytes()))
    return len(PdfReader(pdf).pages)


def keep(*paths: Path) -> None:
    folder = os.environ.get("HARBOUR_TEST_ARTIFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copy(path, Path(folder) / path.name)


@pytest.mark.parametrize("plan_name", ["fixed", "crowded"])
def test_wallet_card_prints_on_exactly_one_page(tmp_path: Path, plan_name: str) -> None:
    plan = fixed_plan() if plan_name == "fixed" else crowded_plan()
    html = tmp_path / f"youth-card-{plan_name}.html"
    html.write_text(rendered(plan, "youth", "html"), encoding="utf-8")
    pdf = tmp_path / f"youth-card-{plan_name}.pdf"
    chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.as_uri())
    keep(html, pdf)
    assert page_count(pdf) == 1


def drawn(pdf: Path) -> list[bytes]:
    """What a PDF's pages draw: its content streams holding text, uncompressed."""
    streams = re.findall(rb"stream\r?\n(.*?)endstream", pdf.read_bytes(), re.S)
    found = []
    for raw in streams:
        try:
            content = zlib.decompress(raw)
        except zlib.error:
            continue  # an image, or a stream that is not Flate-compressed
        if b"BT" in content:
            found.append(content)
    return found


@pytest.mark.parametrize("audience", ["youth", "family"])
def test_a_copy_handed_over_prints_without_the_browsers_header_and_footer(
    tmp_path: Path, audience: str
) -> None:
    """Printed from the console as it opens (Chromium's headers and footers on, as a browser has
    them by default), the youth's card and the family's copy carry nothing of the browser's:
    not the page's address (the console's host, the case reference, "plan/print/youth"), nor
    the date or the page's title. They print as with the headers and footers turned off."""
    folder = tmp_path / "cases" / "HB-7Q4K-M2XD" / "plan" / "print"
    folder.mkdir(parents=True)
    html = folder / f"{audience}.html"
    html.write_text(rendered(fixed_plan(), audience, "html"), encoding="utf-8")
    default, bare = tmp_path / f"{audience}-default.pdf", tmp_path / f"{audience}-bare.pdf"
    chromium(tmp_path, f"--print-to-pdf={default}", html.as_uri())
    chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={bare}", html.as_uri())
    keep(default)
    assert drawn(default) and drawn(default) == drawn(bare)


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.ids.append(dict(attrs).get("id") or "")


def test_emergency_section_comes_first_in_the_dom() -> None:
    parser = _Sections()
    parser.feed(rendered(fixed_plan(), "youth", "html"))
    assert parser.ids[0] == "emergency"
    assert parser.ids == ["emergency", "steps", "ideas", "contacts", "calm", "numbers"]


def test_screenshot_shows_the_emergency_panel_first(tmp_path: Path) -> None:
    html = tmp_path / "youth-card.html"
    html.write_text(rendered(fixed_plan(), "youth", "html"), encoding="utf-8")
    shot = tmp_path / "youth-card.png"
    chromium(
        tmp_path,
        "--hide-scrollbars",
        "--window-size=720,760",
        f"--screenshot={shot}",
        html.as_uri(),
    )
    keep(shot)
    width, height, rows, bpp = read_png(shot, max_rows=int(3 * DPI))  # the top panel row is enough
    grey = [
        [pixel(rows, bpp, x, y) == EMERGENCY_BACKGROUND for x in range(width)]
        for y in range(height)
    ]
    ink = [[max(pixel(rows, bpp, x, y)) for x in range(width)] for y in range(height)]
    top = next(y for y in range(height) if min(ink[y]) < 250)
    left = min(x for y in range(height) for x in range(width) if ink[y][x] < 250)
    # The panel: rows and columns that are mostly its background (stray anti-aliased pixels aside).
    g_rows = [y for y in range(height) if sum(grey[y]) > DPI]
    g_cols = [x for x in range(width) if sum(row[x] for row in grey) > DPI]
    assert abs(g_cols[0] - left) <= 4 and abs(g_rows[0] - top) <= 4, (
        "emergency panel is not top left"
    )
    assert abs(len(g_cols) - 3.5 * DPI) < 12 and abs(len(g_rows) - 2.25 * DPI) < 12
    drawn = [ink[y][x] < 80 for y in g_rows for x in g_cols]
    assert any(drawn), "no text drawn in the emergency panel"
