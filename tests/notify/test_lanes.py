"""The urgent lane carries someone in danger now alone (``alerts.URGENT``): nothing that comes by
the hundred waits there."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.db.base import new_id
from harbour.db.models import Alert, Case
from harbour.demo.receivers import Receiver, RouteBook
from harbour.domain.vocab import AlertKind, Lane, NotificationKind, OutboxStatus
from harbour.notify.alerts import open_alert
from harbour.notify.outbox import enqueue
from harbour.notify.relay import deliver
from tests.notify.conftest import FAST
from tests.notify.helpers import TIMEOUT, imminent_alert, new_case, rows
from tests.support import invoke


def _overdue_escalations(app: App, case: Case, n: int) -> None:
    """What a catch-up sweep does: ``n`` overdue escalations opened at once."""

    def work(uow: UnitOfWork) -> None:
        found = uow.session.get_one(Case, case.id)
        for _ in range(n):
            open_alert(
                uow,
                found,
                AlertKind.OVERDUE_ESCALATION,
                new_id(),
                NotificationKind.OVERDUE_ESCALATION,
            )

    app.run(work)


def _unroutable(app: App, case: Case, n: int, prefix: str) -> None:
    """``n`` notices to a handle with no route: each dies after the last attempt."""

    def work(uow: UnitOfWork) -> None:
        for k in range(n):
            enqueue(
                uow,
                NotificationKind.CASE_ASSIGNED,
                recipients=["cw2"],
                case=case,
                dedupe=f"{prefix}-{k}",
                context={},
                lane=Lane.NORMAL,
            )

    app.run(work)


def _kill_all(app: App, clock: FixedClock, limit: int) -> int:
    """Relay passes (at most ``limit`` rows each) until the unroutable rows are dead."""
    passes = 0
    while [r for r in rows(app, recipient="cw2") if r.status == OutboxStatus.PENDING]:
        deliver(app, lane=Lane.NORMAL, limit=limit, config=FAST)
        clock.advance(FAST.backoff_cap * 1.3)
        passes += 1
    return passes


def test_an_imminent_alert_is_sent_before_hundreds_of_escalations_and_dead_letters(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    routes.chat("sup").chat("adm").chat("cw1")
    case = new_case(napp)
    _unroutable(napp, case, 40, "gone")
    _kill_all(napp, clock, limit=4)  # many passes: several dead-letter notices
    _overdue_escalations(napp, case, 300)
    pending = Counter((r.lane, r.kind) for r in rows(napp) if r.status == OutboxStatus.PENDING)
    assert pending[(Lane.NORMAL, "overdue_escalation")] == 300
    assert pending[(Lane.NORMAL, "dead_letter")] >= 2
    assert not [key for key in pending if key[0] == Lane.URGENT]

    imminent_alert(napp, case)
    report = deliver(napp, lane=Lane.URGENT, limit=3, config=FAST)  # what a CLI command does
    assert (report.sent, dict(report.sent_by_lane)) == (1, {"urgent": 1})
    [sent] = receiver.at(RouteBook.chat_path("sup"))
    assert sent["title"].startswith("Harbour: URGENT")


def test_an_overdue_escalation_climbs_on_the_normal_lane(napp: App, clock: FixedClock) -> None:
    from harbour.notify.alerts import escalate_unacknowledged

    case = new_case(napp)
    _overdue_escalations(napp, case, 1)
    clock.advance(FAST.backoff_cap * 10)
    assert napp.run(lambda uow: escalate_unacknowledged(uow, uow.now()))["escalated"] == 1
    assert {(r.kind, r.lane, r.status) for r in rows(napp)} == {
        ("overdue_escalation", Lane.NORMAL, OutboxStatus.PENDING),
        # The climb's page is kept as its record; the person's escalation digest carries it.
        ("alert_escalated", Lane.NORMAL, OutboxStatus.BUNDLED),
        ("escalation_digest", Lane.NORMAL, OutboxStatus.PENDING),
    }


def test_rows_dying_in_one_pass_make_one_notice_per_admin(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    routes.chat("adm")
    case = new_case(napp)
    _unroutable(napp, case, 25, "down")
    assert _kill_all(napp, clock, limit=100) == FAST.max_attempts
    dead = rows(napp, status=OutboxStatus.DEAD)
    assert len(dead) == 25
    [notice] = rows(napp, kind="dead_letter")
    assert (notice.recipient, notice.lane) == ("adm", Lane.NORMAL)
    assert notice.context["outbox_id"] in {r.id for r in dead}
    deliver(napp, config=FAST)
    assert len(receiver.at(RouteBook.chat_path("adm"))) == 1


def test_a_notice_to_the_operators_is_theirs_not_the_agency_without_admins(
    napp: App, clock: FixedClock, routes: RouteBook
) -> None:
    """South has no admin: its dead rows are told to the installation's operators (adm, of
    north), whose handles are not south's to see in its outbox."""
    routes.chat("adm")

    def work(uow: UnitOfWork) -> None:
        enqueue(
            uow,
            NotificationKind.CASE_ASSIGNED,
            recipients=["cw3"],
            case=None,
            dedupe="south-down",
            context={},
            lane=Lane.NORMAL,
        )

    napp.run(work)
    while [r for r in rows(napp, recipient="cw3") if r.status == OutboxStatus.PENDING]:
        deliver(napp, lane=Lane.NORMAL, config=FAST)
        clock.advance(FAST.backoff_cap * 1.3)
    [notice] = rows(napp, kind="dead_letter")
    assert notice.recipient == "adm"
    south = json.loads(invoke(napp, "outbox", "--as", "sup2", "--json").stdout)
    assert [r["recipient"] for r in south["rows"]] == ["cw3"]
    north = json.loads(invoke(napp, "outbox", "--as", "adm", "--json").stdout)
    assert notice.id in {r["id"] for r in north["rows"]}


_TIERS = select(Alert.id, Alert.tier)


def _tiers(app: App) -> dict[str, int]:
    return dict(app.run(lambda uow: uow.session.execute(_TIERS).all()))


def test_escalations_climb_a_batch_per_transaction_an_imminent_one_first(
    napp: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a catch-up sweep opened thousands of overdue-work alerts, moving them up held
    SQLite's write lock 11 s in one transaction: they climb a batch per transaction, and an
    imminent alert overdue with them, though it waited the least, is in the first."""
    from harbour.notify import alerts

    monkeypatch.setattr(alerts, "ESCALATION_BATCH", 2)
    case = new_case(napp)
    _overdue_escalations(napp, case, 5)
    clock.advance(timedelta(minutes=1))
    imminent = imminent_alert(napp, case)
    clock.advance(TIMEOUT)
    after_each: list[dict[str, int]] = []
    run = napp.run

    def counted(work, **options):  # type: ignore[no-untyped-def]
        done = run(work, **options)
        after_each.append(dict(run(lambda uow: uow.session.execute(_TIERS).all())))
        return done

    monkeypatch.setattr(napp, "run", counted)
    assert alerts.escalate_due(napp, clock.now()) == 6
    # Three full batches, one that finds none, then the pass's escalation digests released.
    assert len(after_each) == 5
    assert after_each[0][imminent.id] == 1
    assert sum(tier for tier in after_each[0].values()) == 2
    assert set(after_each[-1].values()) == {1}


def test_a_command_escalates_only_the_urgent_alerts(napp: App, clock: FixedClock) -> None:
    """What a command runs after its change (the urgent lane) moves up an overdue imminent
    alert, not the overdue-work ones beside it: those are the relay's periodic pass's."""
    case = new_case(napp)
    _overdue_escalations(napp, case, 3)
    imminent = imminent_alert(napp, case)
    clock.advance(TIMEOUT)
    assert deliver(napp, lane=Lane.URGENT, config=FAST).escalated == 1
    assert {alert: tier for alert, tier in _tiers(napp).items() if tier} == {imminent.id: 1}
    assert deliver(napp, config=FAST).escalated == 3
    assert set(_tiers(napp).values()) == {1}


def test_a_command_s_follow_through_moves_up_one_batch_of_the_rest(
    napp: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inline, a command then delivers a bounded share of the normal lane: one batch of the
    overdue-work alerts waiting to move up, not all of a catch-up's thousands."""
    from harbour.notify import alerts

    monkeypatch.setattr(alerts, "ESCALATION_BATCH", 2)
    case = new_case(napp)
    _overdue_escalations(napp, case, 5)
    clock.advance(TIMEOUT)
    assert deliver(napp, config=FAST, escalation_batches=1).escalated == 2
    assert deliver(napp, config=FAST).escalated == 3


def test_each_escalation_query_reads_the_index_in_order(napp: App, clock: FixedClock) -> None:
    """A batch of escalations reads the overdue alerts in the escalation index's order, urgent
    kinds and the rest each by a query of its own: sorting them all by urgency made every batch
    read and sort the whole overdue set."""
    from harbour.notify.alerts import escalate_unacknowledged
    from tests.support import executed

    with executed(napp.engine) as seen:
        napp.run(lambda uow: escalate_unacknowledged(uow, clock.now(), limit=40))
    statements = [
        (statement, parameters)
        for statement, parameters in seen
        if statement.lstrip().upper().startswith("SELECT") and "FROM alerts" in statement
    ]
    assert len(statements) == 2, statements
    if napp.engine.dialect.name != "sqlite":
        return  # PostgreSQL's planner picks by the table's size: a small one is read whole
    with napp.engine.connect() as conn:
        for statement, parameters in statements:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            details = " | ".join(row[-1] for row in plan)
            assert "ix_alerts_escalation" in details and "TEMP B-TREE" not in details, details
