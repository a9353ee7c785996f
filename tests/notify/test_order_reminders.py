"""Protective orders running out: reminders 30 and 7 days before, each once per expiry date, in
the sweep's digest; a renewed order is reminded of again; the plan gains the renewal step."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.db.models import Case, OrderReminderMark, ThreatSource
from harbour.demo.receivers import RouteBook
from harbour.domain import orders
from harbour.domain.vocab import NotificationKind
from harbour.orchestration.sweep import sweep
from tests.conftest import START
from tests.notify.helpers import new_case, order_expires, reassign, rows


def _order_items(app: App, recipient: str = "cw1") -> list[dict[str, object]]:
    found = []
    for row in rows(app, kind=NotificationKind.REMINDER_DIGEST, recipient=recipient):
        found += [i for i in row.context["items"] if i["kind"] == orders.EXPIRING]
    return found


def _at(clock: FixedClock, day: date) -> None:
    clock.set(START.replace(year=day.year, month=day.month, day=day.day))


def test_each_threshold_fires_once_and_a_renewal_rearms_them(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    case = new_case(napp)
    expiry = START.date() + timedelta(days=40)
    order_expires(napp, case, expiry)
    sweep(napp)
    assert _order_items(napp) == []
    _at(clock, expiry - timedelta(days=30))
    assert sweep(napp).reminders >= 1
    [item] = _order_items(napp)
    assert item["due_date"] == expiry.isoformat() and item["case_ref"] == case.reference[:12]
    sweep(napp)
    _at(clock, expiry - timedelta(days=20))
    sweep(napp)
    assert len(_order_items(napp)) == 1  # once per threshold, across sweeps
    _at(clock, expiry - timedelta(days=7))
    sweep(napp)
    sweep(napp)
    assert len(_order_items(napp)) == 2
    _at(clock, expiry + timedelta(days=1))
    sweep(napp)
    assert len(_order_items(napp)) == 2  # an expired order is shown, not reminded of

    renewed = expiry + timedelta(days=365)
    order_expires(napp, case, renewed)
    _at(clock, renewed - timedelta(days=29))
    sweep(napp)
    assert [i["due_date"] for i in _order_items(napp)][-1] == renewed.isoformat()


def test_an_order_entered_late_sends_only_the_latest_threshold(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    case = new_case(napp)
    order_expires(napp, case, START.date() + timedelta(days=5))
    sweep(napp)
    assert len(_order_items(napp)) == 1
    marks = napp.run(
        lambda uow: uow.session.execute(
            select(OrderReminderMark.threshold, OrderReminderMark.outcome).order_by(
                OrderReminderMark.threshold
            )
        ).all()
    )
    assert sorted(tuple(m) for m in marks) == [
        ("order_30_days", "skipped"),
        ("order_7_days", "sent"),
    ]


def test_a_case_given_to_another_caseworker_reminds_them_of_its_order(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    """As of its assessments (tests/notify/test_reminders.py): the new caseworker is reminded at
    the next sweep, of the latest threshold passed. Found by review: only the caseworker before
    was ever reminded of an order running out."""
    case = new_case(napp)
    expiry = START.date() + timedelta(days=5)
    order_expires(napp, case, expiry)
    sweep(napp)
    reassign(napp, case, "cw1")
    sweep(napp)
    assert _order_items(napp, "cw2") == []  # given to the caseworker it has: nothing again
    reassign(napp, case, "cw2")
    sweep(napp)
    [item] = _order_items(napp, "cw2")
    assert (item["case_ref"], item["due_date"]) == (case.reference[:12], expiry.isoformat())
    assert len(_order_items(napp, "cw1")) == 1
    sweep(napp)
    assert len(_order_items(napp, "cw2")) == 1  # once per threshold, for them too


def test_a_closed_case_is_not_reminded(napp: App, clock: FixedClock, mail: RouteBook) -> None:
    case = new_case(napp)
    order_expires(napp, case, START.date() + timedelta(days=5))
    napp.run(
        lambda uow: uow.session.execute(
            update(Case).where(Case.id == case.id).values(status="closed")
        )
    )
    sweep(napp)
    assert _order_items(napp) == []


def test_with_no_order_near_its_expiry_the_step_reads_nothing_more(napp: App) -> None:
    """The usual sweep: one query finds no order near its expiry (after the agencies' zones,
    for their dates), and nothing else is read (neither the marks of no threats nor the people
    of no cases)."""
    from harbour.notify import order_reminders
    from harbour.notify.digests import Digests
    from tests.support import executed

    new_case(napp)  # a case with no protective order
    with executed(napp.engine) as seen:
        counts, started = napp.run(lambda uow: order_reminders.remind(uow, uow.now(), Digests()))
    assert (counts["orders_expiring"], started) == (0, {})
    selects = [s for s, _ in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2 and "agencies.timezone" in selects[0]
    assert "threat_sources" in selects[1]


WAIT = 0.5  # how long the edit stays uncommitted once the batch has read its candidates


@pytest.mark.parametrize("renewed_in", [365, 25])
def test_an_order_renewed_while_the_batch_waited_for_its_case_is_reminded_as_renewed(
    napp: App, clock: FixedClock, mail: RouteBook, monkeypatch: pytest.MonkeyPatch, renewed_in: int
) -> None:
    """PostgreSQL: an edit renewing the order holds its case (as every edit of a case does), the
    new expiry written but not committed, when the order batch reads its candidates; the batch
    waits for the case, and the edit commits a moment later. The batch goes by the expiry the
    order has once the case is held: renewed for a year, it is not reminded of; renewed to run
    out in 25 days, the 30-day reminder names the new date, and so does its mark. Found by
    review: the batch reminded of, and marked, the expiry it read before the wait."""
    if napp.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's writers queue: no edit is under way while a batch reads")
    from harbour.cases import details
    from harbour.notify import order_reminders

    case = new_case(napp)
    order_expires(napp, case, START.date() + timedelta(days=5))
    renewed = START.date() + timedelta(days=renewed_in)
    holding, commit = threading.Event(), threading.Event()
    apply, candidates = details._apply_threat, order_reminders._candidates

    def applied_then_held(uow: UnitOfWork, row: ThreatSource, values: dict[str, Any]) -> None:
        apply(uow, row, values)
        uow.session.flush()
        holding.set()
        commit.wait(10)

    def read_then(uow: UnitOfWork, now: datetime) -> list[Any]:
        found = candidates(uow, now)
        threading.Timer(WAIT, commit.set).start()
        return found

    monkeypatch.setattr(details, "_apply_threat", applied_then_held)
    monkeypatch.setattr(order_reminders, "_candidates", read_then)
    other = App(napp.settings, clock)  # another process
    change = {"protective_order_expires_on": renewed}
    editing = threading.Thread(
        target=details.edit_threat, args=(other, "cw1", case.reference, 0, change)
    )
    editing.start()
    try:
        assert holding.wait(10)
        sweep(napp)
        edited_first = not editing.is_alive()  # committed before the batch could
    finally:
        commit.set()
        editing.join(10)
        other.dispose()
    monkeypatch.undo()
    assert edited_first
    expiry = select(ThreatSource.protective_order_expires_on).where(ThreatSource.case_id == case.id)
    assert napp.run(lambda uow: uow.session.scalar(expiry)) == renewed  # the edit went through
    M = OrderReminderMark
    marked = select(M.threshold, M.expires_on, M.outcome)
    marks = napp.run(lambda uow: uow.session.execute(marked).all())
    if renewed_in == 365:
        assert (_order_items(napp), marks) == ([], [])
    else:
        assert [item["due_date"] for item in _order_items(napp)] == [renewed.isoformat()]
        assert [tuple(mark) for mark in marks] == [("order_30_days", renewed, "sent")]
