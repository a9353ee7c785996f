"""The console served for real (uvicorn on 127.0.0.1), and the session's Chromium, for the
browser tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harbour.app import App
from harbour.clock import FixedClock
from harbour.web.server import create_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def console(seeded: App, clock: FixedClock) -> Iterator[tuple[App, str]]:
    """The console served by uvicorn on 127.0.0.1 for the seeded store, in a thread."""
    with serving(seeded, clock) as served:
        yield served


@contextlib.contextmanager
def serving(seeded: App, clock: FixedClock, **settings: object) -> Iterator[tuple[App, str]]:
    """The console of ``seeded``'s store (with these settings changed) served in a thread, and
    axe-core beside it for the accessibility checks (``browsing.with_axe``)."""
    import uvicorn

    from tests.web.browsing import with_axe

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = App(seeded.settings.model_copy(update={"base_url": base, **settings}), clock)
    app.engine = seeded.engine  # the same store: the seeded App's engine (the `app` fixture's)
    config = uvicorn.Config(
        with_axe(create_app(app)),
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield app, base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Chromium:
    """The session's Playwright driver and Chromium (see ``chromium_session``)."""

    def __init__(self, driver: Any, executable: str) -> None:
        self.driver = driver
        self.executable = executable
        self.browser = self._launch()

    def _launch(self) -> Any:
        return self.driver.chromium.launch(executable_path=self.executable, args=["--no-sandbox"])

    def for_a_test(self) -> Any:
        """The browser, marked running for the sync calls (see ``browser``); launched again if
        an earlier test (e.g. one stopped by its timeout) left it closed."""
        asyncio._set_running_loop(self.driver._loop)
        if not self.browser.is_connected():
            self.browser = self._launch()
        return self.browser


@pytest.fixture(scope="session")
def chromium_session() -> Iterator[Chromium]:
    """One Playwright driver and one Chromium for the whole session (each xdist worker's own),
    started by the first browser test: starting both costs about two seconds of CPU, which every
    browser test paid again. Each test still gets fresh contexts (the ``browser`` fixture)."""
    from tests.web.browsing import CHROMIUM, playwright

    assert CHROMIUM is not None  # the browser tests are skipped without it
    driver = playwright.sync_playwright().start()
    try:
        session = Chromium(driver, CHROMIUM)
        asyncio._set_running_loop(None)  # until a test drives it (see ``browser``)
        yield session
    finally:
        asyncio._set_running_loop(driver._loop)
        with contextlib.suppress(Exception):  # a driver a test's timeout left broken
            driver.stop()
        asyncio._set_running_loop(None)


@pytest.fixture
def browser(chromium_session: Chromium) -> Iterator[Any]:
    """The session's Chromium for one test. Each ``browser.new_page(...)`` opens a page in a new
    context of its own (its own cookies and storage): people signed in on two pages of one test
    stay apart, and every context a test opened is closed after it, so the next test starts with
    none."""
    chromium = chromium_session.for_a_test()
    try:
        yield chromium
    finally:
        for context in chromium.contexts:
            with contextlib.suppress(Exception):
                context.close()
        # Playwright's sync API marks its event loop as running in this thread between its
        # calls. Left so while other tests run on this worker, asyncio.run() would refuse to
        # start and Prefect would take them for async code: the mark is set only while a test
        # drives the browser.
        asyncio._set_running_loop(None)
