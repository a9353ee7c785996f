"""A case given to another caseworker is taken out of the reminder digests not yet sent: a
digest waiting to be retried, or held by a sweep, no longer carries it to the caseworker
before (its reminders fire afresh for the new one), whatever else it still says. Found by
review: a digest's retry took the case to the caseworker it had been taken from."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Case, OutboxMessage
from harbour.demo.receivers import WEBHOOK_TOKEN, Receiver, RouteBook
from harbour.domain import refs
from harbour.domain.vocab import Lane, NotificationKind, OutboxStatus
from harbour.notify.context import MAX_ITEMS
from harbour.notify.digests import HOLD, REASSIGNED, withdraw_case
from harbour.notify.outbox import enqueue
from harbour.notify.relay import deliver
from harbour.orchestration.sweep import send_reminders
from tests.notify.conftest import FAST
from tests.notify.helpers import drain, new_case, open_assessment, reassign, rows

CW1 = RouteBook.chat_path("cw1")


def _cases(app: App, clock: FixedClock, *markers: str) -> list[Case]:
    """cw1's cases, each with an assessment due tomorrow (one reminder each), in sweep order."""
    found = []
    for n, marker in enumerate(markers):
        case = new_case(app, marker)
        open_assessment(app, case, clock.now() + timedelta(days=1, minutes=n))
        found.append(case)
    return found


def _short(case: Case) -> str:
    return refs.short_form(case.reference)


def _told(receiver: Receiver, path: str = CW1) -> str:
    return "\n".join(body["message"] for body in receiver.at(path))


def _digests(app: App, recipient: str) -> list[OutboxMessage]:
    return rows(app, kind=NotificationKind.REMINDER_DIGEST, recipient=recipient)


def _shown(row: OutboxMessage) -> list[str]:
    return [item["case_ref"] for item in row.context["items"]]


def test_a_digest_waiting_to_be_retried_goes_without_the_case(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    routes.chat("cw1").chat("cw2")
    taken, kept = _cases(napp, clock, "MKX", "MKY")
    assert send_reminders(napp, clock.now()) == 2
    receiver.script(CW1, ["500"])
    assert deliver(napp, config=FAST).retried == 1

    reassign(napp, taken, "cw2")
    [digest] = _digests(napp, "cw1")
    assert (digest.status, digest.attempts) == (OutboxStatus.PENDING, 1)
    assert (_shown(digest), digest.context["count"]) == ([_short(kept)], 1)
    drain(napp, clock)
    assert _short(kept) in _told(receiver) and _short(taken) not in _told(receiver)
    assert "1 reminder" in _told(receiver)

    send_reminders(napp, clock.now())
    drain(napp, clock)
    assert _short(taken) in _told(receiver, RouteBook.chat_path("cw2"))  # theirs now


def test_a_held_digest_with_nothing_else_is_cancelled(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    """A sweep that died half-way left the digest held; the case in it is given to another."""
    routes.chat("cw1").chat("cw2")
    taken, kept = _cases(napp, clock, "MKX", "MKY")

    def die() -> None:
        raise SystemExit("the sweep's process was killed")

    with pytest.raises(SystemExit):
        send_reminders(napp, clock.now(), batch=1, between=die)
    reassign(napp, taken, "cw2")
    [digest] = _digests(napp, "cw1")
    assert (digest.status, digest.last_error) == (OutboxStatus.CANCELLED, REASSIGNED)
    assert _shown(digest) == [_short(taken)]  # the record of what was withdrawn
    clock.advance(HOLD)
    deliver(napp, config=FAST)
    assert receiver.at(CW1) == []
    assert send_reminders(napp, clock.now()) == 2  # the rest for cw1, the case again for cw2
    drain(napp, clock)
    assert _short(taken) not in _told(receiver) and _short(kept) in _told(receiver)
    assert _short(taken) in _told(receiver, RouteBook.chat_path("cw2"))


def test_a_sweep_still_running_does_not_put_the_case_back(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    """Reassigned between two batches of a pass: the pass's own copy of the digest still shows
    the case, and must not be written back over the digest; cw1's later reminders go in a
    second digest."""
    routes.chat("cw1").chat("cw2")
    taken, first, later = _cases(napp, clock, "MKX", "MKZ", "MKY")
    moved: list[int] = []

    def give_away() -> None:
        if not moved:
            reassign(napp, taken, "cw2")
            moved.append(1)

    assert send_reminders(napp, clock.now(), batch=2, between=give_away) == 3
    by_start = sorted(_digests(napp, "cw1"), key=lambda row: row.dedupe_key.count(":"))
    withdrawn, second = by_start  # the pass's second digest for cw1 has a numbered key
    assert (_shown(withdrawn), withdrawn.context["count"]) == ([_short(first)], 1)
    assert (_shown(second), second.context["count"]) == ([_short(later)], 1)
    clock.advance(HOLD)
    drain(napp, clock)
    told = _told(receiver)
    assert _short(first) in told and _short(later) in told and _short(taken) not in told


def test_a_digest_that_reached_a_route_is_settled_as_sent(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    """cw1 has it on one route, its other route keeps failing: tried there no more."""
    pager = f"/{WEBHOOK_TOKEN}/cw1-pager"
    routes.chat("cw1").add(f"json://127.0.0.1:{receiver.port}{pager}", "cw1", "chat")
    receiver.script(pager, ["500"] * 10)
    taken, _ = _cases(napp, clock, "MKX", "MKY")
    send_reminders(napp, clock.now())
    deliver(napp, config=FAST)
    reassign(napp, taken, "cw2")
    [digest] = _digests(napp, "cw1")
    assert (digest.status, digest.last_error) == (OutboxStatus.SENT, "send_failure")
    drain(napp, clock)
    assert (len(receiver.at(CW1)), receiver.hits[pager]) == (1, 1)


def test_a_full_digest_keeps_its_count_of_the_rest(napp: App) -> None:
    """Items past ``MAX_ITEMS`` are only counted: the count loses the items taken out, and what
    the digest says it does not show stays as it was."""
    taken, kept = new_case(napp, "MKX"), new_case(napp, "MKY")
    items = [_item(taken), *[_item(kept)] * (MAX_ITEMS - 1)]
    napp.run(
        lambda uow: enqueue(
            uow,
            NotificationKind.REMINDER_DIGEST,
            recipients=["cw1"],
            case=None,
            dedupe="digest:full",
            context={"items": items, "count": MAX_ITEMS + 10, "more": 10},
            lane=Lane.NORMAL,
        )
    )
    assert napp.run(lambda uow: withdraw_case(uow, taken.reference)) == 1
    [digest] = _digests(napp, "cw1")
    assert len(digest.context["items"]) == MAX_ITEMS - 1
    assert (digest.context["count"], digest.context["more"]) == (MAX_ITEMS + 9, 10)
    assert napp.run(lambda uow: withdraw_case(uow, taken.reference)) == 0  # nothing twice


def _item(case: Case) -> dict[str, str]:
    return {
        "case_ref": _short(case),
        "kind": "assessment_due_soon",
        "due_date": "2026-03-03",
        "path": f"/cases/{case.reference}",
    }


def test_a_relay_recording_a_delivery_meanwhile_is_waited_for(
    napp: App, clock: FixedClock, routes: RouteBook
) -> None:
    """The relay commits the digest's first delivery while the reassignment waits for its row:
    the digest is settled as it then stands (sent: cw1 has it), not as it was before."""
    if napp.engine.dialect.name == "sqlite":
        pytest.skip(
            "SQLite's writers queue: the relay's record and the reassignment cannot overlap"
        )
    routes.chat("cw1")
    taken, _ = _cases(napp, clock, "MKX", "MKY")
    send_reminders(napp, clock.now())
    [digest] = _digests(napp, "cw1")
    with napp.engine.connect() as relay_record:
        relay_record.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == digest.id)
            .values(attempts=1, sent_at=clock.now(), last_error="send_failure")
        )
        giving = threading.Thread(target=reassign, args=(napp, taken, "cw2"))
        giving.start()
        giving.join(timeout=0.5)
        assert giving.is_alive()  # waiting for the row the relay is recording
        relay_record.commit()
    giving.join(timeout=10)
    [digest] = _digests(napp, "cw1")
    assert digest.status == OutboxStatus.SENT
    assert len(digest.context["items"]) == 2  # what it reached cw1 with


def test_a_digest_still_counting_other_cases_is_not_cancelled(
    napp: App,
    clock: FixedClock,
    routes: RouteBook,
    receiver: Receiver,
    one_named: None,
) -> None:
    """Every case it named taken out, it still goes for those only counted past ``MAX_ITEMS``
    (it was cancelled, and their reminders never reached the caseworker)."""
    routes.chat("cw1").chat("cw2")
    taken, _counted = _cases(napp, clock, "MKX", "MKY")
    send_reminders(napp, clock.now())
    [digest] = _digests(napp, "cw1")
    assert (_shown(digest), digest.context["count"]) == ([_short(taken)], 2)

    reassign(napp, taken, "cw2")
    [digest] = _digests(napp, "cw1")
    assert (digest.status, _shown(digest), digest.context["count"]) == (
        OutboxStatus.PENDING,
        [],
        1,
    )
    drain(napp, clock)
    told = _told(receiver)
    assert "1 reminder" in told and "See them in Harbour." in told
    assert _short(taken) not in told
