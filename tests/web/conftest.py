"""The console served for real (uvicorn on 127.0.0.1), for the browser tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

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
    """The console of ``seeded``'s store (with these settings changed) served in a thread."""
    import uvicorn

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = App(seeded.settings.model_copy(update={"base_url": base, **settings}), clock)
    config = uvicorn.Config(
        create_app(app), host="127.0.0.1", port=port, access_log=False, log_level="warning"
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
        app.dispose()
