"""What the browser tests share: Debian's chromium, a phone's viewport, screenshots, the
axe-core accessibility check, and signing a person in through the pages.

Needs ``chromium`` (``.ci/run`` installs it) and the ``playwright`` package; a test module that
imports this is skipped with a reason when either is absent. Screenshots of each page go to the
folder in ``HARBOUR_TEST_ARTIFACTS`` when it is set (``make screenshots``). A test takes the
``browser`` fixture (tests/web/conftest.py): the session's one Chromium, each page it opens in a
context of its own.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from harbour.app import App
from harbour.clock import FixedClock
from tests.web.helpers import PASSWORD, code, enrolment_path, next_step

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


# Where the test server serves axe-core beside the console (``with_axe``): a page loads it as
# its own script (the console's Content-Security-Policy allows the console's origin), from the
# browser's cache after the first time. Sent in through the DevTools protocol instead, its 650 kB
# crossed Playwright's pipes at every check: most of a check's time.
AXE_PATH = "/__test-only/axe.min.js"
# Only the violations, made into lines in the page: building axe's results for every rule that
# passed, and sending them back, took as long again as the checks themselves.
RUN_AXE = """tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
  .then(result => result.violations.map(v =>
    `${v.id} (${v.impact}): ${JSON.stringify(v.nodes.slice(0, 5).map(n => n.target))}`))"""


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 AA violations on the page as it stands."""
    if page.url.startswith("http"):
        page.add_script_tag(url=AXE_PATH)
    else:  # a page made with set_content: no server to load it from
        page.evaluate(AXE.read_text(encoding="utf-8"))
    return list(page.evaluate(RUN_AXE, WCAG_21_AA))


def with_axe(console: Any) -> Any:
    """The console's ASGI app, with axe-core served at ``AXE_PATH`` (cached by the browser)."""
    script = AXE.read_bytes()
    headers = [(b"content-type", b"text/javascript"), (b"cache-control", b"max-age=3600")]

    async def served(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != AXE_PATH:
            return await console(scope, receive, send)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": script})

    return served


def fits_a_phone(page: Any) -> bool:
    """Nothing wider than a phone's screen (no sideways scrolling)."""
    return bool(page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"])


def checked(page: Any, name: str, problems: dict[str, list[str]]) -> None:
    shot(page, name)
    found = axe_violations(page)
    if not fits_a_phone(page):
        found.append("wider than a 390 px screen")
    if found:
        problems[name] = found


def enrol_and_sign_in(page: Any, app: App, clock: FixedClock, base: str, handle: str) -> str:
    """Enrol ``handle`` through its link and sign in: the code app's secret (to sign in again)."""
    page.goto(base + enrolment_path(app, handle))
    follow(page, "button[name=show_key]")
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.fill("#password", PASSWORD)
    page.fill("#password_again", PASSWORD)
    page.fill("#code", code(app, secret))
    follow(page, "main button[type=submit]")
    next_step(clock)
    sign_in_again(page, app, base, handle, secret)
    return secret


def sign_in_again(page: Any, app: App, base: str, handle: str, secret: str) -> None:
    page.goto(f"{base}/sign-in")
    page.fill("#handle", handle)
    page.fill("#password", PASSWORD)
    page.fill("#code", code(app, secret))
    follow(page, "main button[type=submit]")
    assert page.url in (f"{base}/", f"{base}/staff"), page.url  # an admin's start: their staff


def follow(page: Any, target: Any) -> None:
    """Click what opens another page (a link, a form posted the ordinary way), and wait for that
    page: a click does not wait for the page it opens, and a check made at once would look at the
    page before it, or at an empty one. ``target`` is a selector or a locator on ``page``."""
    with page.expect_navigation():
        (page.locator(target) if isinstance(target, str) else target).click()


def open_assessment(page: Any, base: str, case: str, point: str) -> None:
    """The assessment at ``point``, opened from the case page as a caseworker opens it: posted,
    so the page's URL never names the point (``/cases/HB-.../assess``)."""
    page.goto(f"{base}/cases/{case}")
    page.select_option("#f-point", point)
    follow(page, "text=Open the assessment")
    assert page.url == f"{base}/cases/{case}/assess", page.url
