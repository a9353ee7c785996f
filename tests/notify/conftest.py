"""Real delivery targets on 127.0.0.1 (``harbour.demo.receivers``) as fixtures, and a relay
configuration fast enough for tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from harbour.app import App
from harbour.clock import FixedClock
from harbour.demo import receivers
from harbour.demo.receivers import (
    Receiver,
    RouteBook,
    SmtpServer,
    smtp_server,
    webhook_receiver,
)
from harbour.notify.relay import RelayConfig
from harbour.settings import Settings

STAFF = ("cw1", "cw2", "sup", "coord", "adm")  # reachable through ``mail``

# A "timeout" fault answers after SLOW seconds here (the demo's receivers wait 2.5 s): every
# timed-out attempt is a real wait, so both are short, with room for a loaded machine.
SLOW = 1.5
FAST = RelayConfig(  # few attempts, short backoffs; the production timeout: a loaded machine's
    workers=4,  # local servers answered a send in over a second (a spurious retry)
    max_attempts=3,
    timeout=5.0,
    lease=timedelta(minutes=2),
    backoff=timedelta(seconds=30),
    urgent_backoff=timedelta(seconds=5),
    backoff_cap=timedelta(minutes=5),
)
GIVES_UP = dataclasses.replace(FAST, timeout=1.0)  # before a SLOW fault answers


@pytest.fixture
def one_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """Digests name one item and count the rest ("and N more"), as past ``MAX_ITEMS``."""
    from harbour.notify import digests

    monkeypatch.setattr(digests, "MAX_ITEMS", 1)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setattr(receivers, "SLOW", SLOW)
    with webhook_receiver() as state:
        yield state


@pytest.fixture
def routes(tmp_path: Path, smtp: SmtpServer, receiver: Receiver) -> RouteBook:
    return RouteBook(tmp_path / "apprise.yaml", smtp, receiver)


@pytest.fixture
def mail(request: pytest.FixtureRequest) -> RouteBook:
    """Every staff member reachable by email at a local SMTP server (sup also by chat)."""
    book: RouteBook = request.getfixturevalue("routes")
    for handle in STAFF:
        book.email(handle)
    book.chat("sup")
    return book


@pytest.fixture
def napp(seeded: App, settings: Settings, clock: FixedClock, routes: RouteBook) -> Iterator[App]:
    """The seeded store, with the routes file configured."""
    application = App(settings.model_copy(update={"apprise_config": routes.path}), clock)
    yield application
    application.dispose()
