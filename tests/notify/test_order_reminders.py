"""Protective orders running out: reminders 30 and 7 days before, each once per expiry date, in
the sweep's digest; a renewed order is reminded of again; the plan gains the renewal step."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Case, OrderReminderMark
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
