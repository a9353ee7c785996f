"""What the browser tests share: Debian's chromium, a phone's viewport, screenshots, and the
axe-core accessibility check.

Needs ``chromium`` (``.ci/run`` installs it) and the ``playwright`` package; a test module that
imports this is skipped with a reason when either is absent. Screenshots of each page go to the
folder in ``HARBOUR_TEST_ARTIFACTS`` when it is set (``make screenshots``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
playwright = pytest.importorskip("playwright.sync_api")
BROWSER = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
    ),
    pytest.mark.slow,
    # One database is enough for the browser; the HTTP tests cover both.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
PHONE = {"width": 390, "height": 844}
# axe-core 4.14.1 from the npm registry (`npm pack axe-core`), package/axe.min.js unchanged:
# sha256 29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c. MPL-2.0.
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("HARBOUR_TEST_ARTIFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"console-{name}.png"), full_page=True)


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 AA violations on the page as it stands. The script goes in through
    the DevTools protocol, so the console's Content-Security-Policy stays as it is."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA
    )
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
    ]


def fits_a_phone(page: Any) -> bool:
    """Nothing wider than a phone's screen (no sideways scrolling)."""
    return bool(page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"])
