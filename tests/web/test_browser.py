"""The console in a real browser (Debian's chromium, driven by Playwright): enrol from the link,
sign in with a real TOTP code, see the caseload at a phone's width, take an alert, sign out.

Needs ``chromium`` (``.ci/run`` installs it) and the ``playwright`` package; skipped with a
reason when either is absent. Set ``HARBOUR_TEST_ARTIFACTS`` to keep screenshots of each page.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harbour.app import App
from harbour.clock import FixedClock
from harbour.web.server import create_app
from tests.notify.helpers import imminent_alert, new_case
from tests.web.helpers import PASSWORD, code, enrolment_path, next_step

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
    ),
    pytest.mark.slow,
    # One database is enough for the browser; the HTTP tests cover both.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def console(seeded: App, clock: FixedClock) -> Iterator[tuple[App, str]]:
    """The console served by uvicorn on 127.0.0.1 for the seeded store, in a thread."""
    import uvicorn

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = App(seeded.settings.model_copy(update={"base_url": base}), clock)
    config = uvicorn.Config(
        create_app(app), host="127.0.0.1", port=port, access_log=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield app, base
    server.should_exit = True
    thread.join(timeout=10)
    app.dispose()


def shot(page: object, name: str) -> None:
    folder = os.environ.get("HARBOUR_TEST_ARTIFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"console-{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_enrol_sign_in_see_the_caseload_take_an_alert_and_sign_out(
    console: tuple[App, str], clock: FixedClock
) -> None:
    app, base = console
    case = new_case(app)
    alert = imminent_alert(app, case)
    link = base + enrolment_path(app, "sup")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport=PHONE)
        page.goto(link)
        secret = page.locator("code.secret").inner_text().replace(" ", "")
        assert page.locator(".qr svg").count() == 1
        shot(page, "enrol")
        page.fill("#password", PASSWORD)
        page.fill("#password_again", PASSWORD)
        page.fill("#code", code(app, secret))
        page.click("button[type=submit]")
        assert page.locator("h1").inner_text() == "Sign-in set up"

        next_step(clock)
        page.goto(f"{base}/alerts/{alert.id}")  # the link in the message: sign in first
        assert page.url.startswith(f"{base}/sign-in")
        shot(page, "sign-in")
        page.fill("#handle", "sup")
        page.fill("#password", PASSWORD)
        page.fill("#code", code(app, secret))
        page.click("main button[type=submit]")
        assert page.url == f"{base}/alerts/{alert.id}"
        shot(page, "alert")
        page.click("text=I'm taking this")
        assert "Taken by sup" in page.locator("main").inner_text()

        page.click("nav >> text=Caseload")
        assert page.locator("h1").inner_text() == "Caseload"
        assert case.reference[:12] in page.locator("table.cases").inner_text()
        # Usable at a phone's width: nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(page, "caseload")

        page.click("text=Sign out")
        assert page.url == f"{base}/sign-in"
        page.goto(f"{base}/")
        assert page.url.startswith(f"{base}/sign-in")
        browser.close()
    acknowledged = app.run(lambda uow: uow.session.get_one(type(alert), alert.id).acknowledged_by)
    assert acknowledged == "sup"
