"""The reminder pass commits batch by batch: other commands write between its batches, and each
reminder is still in exactly one digest, one digest per recipient per sweep."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import ReminderMark, Staff
from harbour.demo.receivers import Receiver, RouteBook
from harbour.notify.digests import HOLD
from harbour.notify.relay import deliver
from harbour.orchestration.sweep import send_reminders
from tests.notify.conftest import FAST
from tests.notify.helpers import new_case, open_assessment, rows


def _due_tomorrow(app: App, clock: FixedClock, n: int) -> None:
    for k in range(n):
        open_assessment(app, new_case(app, f"B{k}"), clock.now() + timedelta(days=1))


def _marks(app: App) -> int:
    return app.run(
        lambda uow: uow.session.scalar(select(func.count()).select_from(ReminderMark)) or 0
    )


def _writer(app: App) -> Callable[[], None]:
    """Another command's write, which must not wait: on SQLite a connection that gives up at once
    if the write lock is taken (the sweep's batch transaction would hold it)."""
    if app.engine.dialect.name == "sqlite":
        path = app.settings.resolved_database_url.split("///", 1)[1]

        def write() -> None:
            connection = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("UPDATE staff SET on_call = on_call WHERE handle = 'cw2'")
                connection.execute("COMMIT")
            finally:
                connection.close()

        return write

    def write_pg() -> None:
        app.run(
            lambda uow: uow.session.execute(
                update(Staff).where(Staff.handle == "cw2").values(on_call=Staff.on_call)
            )
        )

    return write_pg


def test_other_commands_write_between_batches_and_the_digest_waits_for_the_end(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    routes.chat("cw1")
    _due_tomorrow(napp, clock, 7)
    write = _writer(napp)
    seen: list[tuple[int, int]] = []

    def between() -> None:
        write()  # raises "database is locked" if the sweep still held its transaction
        seen.append((_marks(napp), deliver(napp, config=FAST).sent))

    assert send_reminders(napp, clock.now(), batch=3, between=between) == 7
    assert seen == [(3, 0), (6, 0)]  # each batch committed; the digest held back
    [digest] = rows(napp, kind="reminder_digest")
    assert (digest.recipient, digest.context["count"], len(digest.context["items"])) == (
        "cw1",
        7,
        7,
    )
    assert deliver(napp, config=FAST).sent == 1
    assert len(receiver.at(RouteBook.chat_path("cw1"))) == 1
    assert send_reminders(napp, clock.now(), batch=3) == 0  # once per threshold


def test_a_sweep_that_dies_half_way_loses_no_reminder(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    routes.chat("cw1")
    _due_tomorrow(napp, clock, 7)

    def die() -> None:  # the process ends (killed, stopped): nothing more of the pass runs
        raise SystemExit("the sweep's process was killed")

    with pytest.raises(SystemExit):
        send_reminders(napp, clock.now(), batch=3, between=die)
    assert _marks(napp) == 3
    assert deliver(napp, config=FAST).sent == 0  # held: the pass might still be running
    clock.advance(HOLD)
    assert deliver(napp, config=FAST).sent == 1  # what the committed batch put in it
    assert send_reminders(napp, clock.now(), batch=3) == 4  # the next sweep does the rest
    assert deliver(napp, config=FAST).sent == 1
    counts = [row.context["count"] for row in rows(napp, kind="reminder_digest")]
    assert counts == [3, 4]
    assert len(receiver.at(RouteBook.chat_path("cw1"))) == 2


def test_reminders_committed_before_a_failed_batch_go_out_with_that_pass(
    napp: App, clock: FixedClock, mail: RouteBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second batch fails (a transient error; the process lives on). The first batch's
    # reminders are committed: they go out with this pass's delivery, not after the digests'
    # hold, past the next sweep; the next pass sends the rest.
    from harbour.notify import reminders
    from harbour.orchestration.sweep import SweepIncomplete, finish_events, sweep

    for k in range(4):
        open_assessment(napp, new_case(napp, f"F{k}"), clock.now() + timedelta(days=3))
    finish_events(napp, clock.now())
    real, calls = reminders._batch, []

    def second_fails(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database is locked")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    clock.advance(timedelta(days=1))  # every planning meeting's due_soon has passed
    monkeypatch.setattr(reminders, "_batch", second_fails)
    with pytest.raises(SweepIncomplete):
        sweep(napp, batch=2)
    monkeypatch.undo()
    deliver(napp, config=FAST)

    def sent() -> tuple[int, int]:
        marked = select(func.count()).where(ReminderMark.outcome == "sent")
        digests = rows(napp, kind="reminder_digest")
        told = sum(d.context["count"] for d in digests if d.status == "sent")
        return napp.run(lambda uow: uow.session.scalar(marked)), told

    assert sent() == (2, 2)
    clock.advance(timedelta(minutes=15))
    sweep(napp, batch=2)
    deliver(napp, config=FAST)
    marked, told = sent()
    assert marked == told > 2
