"""The program report (``harbour report``, the console's dashboard) over a small known store: every
figure checked exactly, another agency's cases, alerts, messages and episodes never counted, and
only supervisors and admins may read it (audited). On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from harbour.app import App, UnitOfWork
from harbour.assessments.submit import submit_assessment
from harbour.cases.intake import refer
from harbour.cases.report import program_report
from harbour.clock import FixedClock
from harbour.db.models import (
    Agency,
    Alert,
    Assessment,
    AuditEvent,
    Case,
    MissingEpisode,
    OutboxMessage,
)
from harbour.errors import Forbidden
from harbour.plans.actions import finalize
from harbour.plans.store import Undecided
from tests.cli.helpers import safest
from tests.support import executed, referral

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def build_store(app: App, clock: FixedClock) -> dict[str, str]:
    """North: A (active, final plan, first assessed after 50 h), B (active, draft plan, after
    26 h), C (referred), E (closed). South: D (active, after 60 h). Then ten days on, the
    alerts, messages and missing episodes each figure must count or leave out."""
    start = clock.now()
    refs = {
        name: refer(
            app, who, referral(f"R{name}", caseworker=worker), None, allow_duplicate=True
        ).reference
        for name, who, worker in (
            ("A", "coord", "cw1"),
            ("B", "coord", "cw1"),
            ("C", "coord", "cw1"),
            ("E", "coord", "cw1"),
            ("D", "coord2", "cw3"),
        )
    }
    for name, after, worker in (("B", 26, "cw1"), ("A", 50, "cw1"), ("D", 60, "cw3")):
        clock.set(start + after * HOUR)
        submit_assessment(app, worker, refs[name], "initial_contact", safest(app))
    finalize(app, "cw1", refs["A"], Undecided(accept_rest=True))
    clock.set(start + 10 * DAY)
    now = clock.now()
    app.run(lambda uow: _rows(uow, refs, now))
    return refs


def _case_id(uow: UnitOfWork, ref: str) -> str:
    return uow.session.scalars(select(Case.id).where(Case.reference == ref)).one()


def _rows(uow: UnitOfWork, refs: dict[str, str], now: Any) -> None:
    ids = {name: _case_id(uow, ref) for name, ref in refs.items()}
    agencies = dict(uow.session.execute(select(Agency.name, Agency.id)).all())
    north, south = agencies["north"], agencies["south"]
    uow.session.execute(update(Case).where(Case.id == ids["E"]).values(status="closed"))
    # Open assessments: C's overdue 3 days, A's 40 days, B's not yet, D's (south) 10 days;
    # E's (closed) cancelled.
    for name, due in (("C", -3 * DAY), ("A", -40 * DAY), ("B", 2 * DAY), ("D", -10 * DAY)):
        uow.session.execute(
            update(Assessment)
            .where(Assessment.case_id == ids[name], Assessment.status == "open")
            .values(due_at=now + due)
        )
    uow.session.execute(
        update(Assessment).where(Assessment.case_id == ids["E"]).values(status="cancelled")
    )
    alerts = [
        # (agency, kind, opened ago, acknowledged after)
        (north, "imminent_threat", 2 * HOUR, timedelta(minutes=10)),
        (north, "imminent_threat", 1 * HOUR, timedelta(minutes=30)),
        (north, "imminent_threat", 3 * HOUR, None),  # open
        (north, "imminent_threat", 40 * DAY, timedelta(minutes=90)),  # before the window
        (north, "risk_raised", 1 * HOUR, None),  # not imminent
        (south, "imminent_threat", 1 * HOUR, None),
        (south, "imminent_threat", 2 * HOUR, timedelta(minutes=1)),
    ]
    for n, (agency, kind, ago, acknowledged) in enumerate(alerts):
        uow.session.add(
            Alert(
                agency_id=agency,
                case_id=ids["A"] if agency == north else ids["D"],
                kind=kind,
                source_id=f"source{n}",
                opened_at=now - ago,
                acknowledged_at=now - ago + acknowledged if acknowledged else None,
                acknowledged_by="sup" if acknowledged else None,
            )
        )
    messages: list[tuple[str, str, str, timedelta | None]] = [
        # (agency, kind, status, sent ago)
        (north, "assessment_due_soon", "sent", 2 * DAY),
        (north, "reminder_digest", "sent", 5 * DAY),
        (north, "assessment_overdue", "sent", 40 * DAY),  # before the window
        (north, "assessment_due_today", "pending", None),  # not sent
        (north, "assessment_due_today", "dead", None),
        (north, "overdue_escalation", "sent", 1 * DAY),
        (north, "alert_escalated", "sent", 3 * DAY),
        (north, "case_assigned", "sent", 1 * DAY),  # neither
        (south, "assessment_due_soon", "sent", 1 * DAY),
        (south, "overdue_escalation", "sent", 1 * DAY),
    ]
    for n, (agency, kind, status, sent) in enumerate(messages):
        uow.session.add(
            OutboxMessage(
                dedupe_key=f"report-test-{n}",
                kind=kind,
                lane="normal",
                recipient="sup",
                channel="email",
                status=status,
                next_attempt_at=now,
                agency_id=agency,
                created_at=now - (sent or DAY),
                sent_at=now - sent if sent else None,
            )
        )
    episodes = [("A", 5 * HOUR, None), ("B", 30 * HOUR, 2 * HOUR), ("D", 50 * HOUR, None)]
    for name, ago, returned in episodes:
        uow.session.add(
            MissingEpisode(
                case_id=ids[name],
                last_seen_at=now - ago,
                recorded_at=now - ago,
                returned_at=now - returned if returned else None,
            )
        )


def test_every_figure_of_the_agency_and_none_of_another(seeded: App, clock: FixedClock) -> None:
    build_store(seeded, clock)
    report = program_report(seeded, "sup")
    shown = report.as_json()
    level = shown["open_cases"]["by_status_and_risk"]["active"]
    assessed = next(risk for risk, n in level.items() if n)  # the safest answers' level
    assert level[assessed] == 2 and sum(level.values()) == 2
    assert shown["open_cases"]["by_status"] == {
        "referred": 1,
        "active": 2,
        "discharge_pending": 0,
        "discharged": 0,
        "reopened": 0,
    }
    assert shown["open_cases"]["total"] == 3
    assert shown["open_cases"]["by_risk"] == {
        "low": 0,
        "moderate": 0,
        "high": 0,
        "imminent": 0,
        "none": 1,
    } | {assessed: 2}
    assert shown["final_plans"] == {
        "active_cases": 2,
        "with_final_plan_of_latest_assessment": 1,
        "percent": 50.0,
    }
    assert shown["overdue_assessments"] == {
        "total": 2,
        "by_days_overdue": {
            "under_1_day": 0,
            "1_to_7_days": 1,
            "8_to_30_days": 0,
            "over_30_days": 1,
        },
        "longest_days": 40,
    }
    # 26 h and 50 h: 38 h is 1.6 days (D's 60 h, in the south, would make it 2.1).
    assert shown["referral_to_first_assessment"] == {"cases": 2, "median_days": 1.6}
    assert shown["imminent_alerts"] == {
        "open": 1,
        "raised": 3,
        "acknowledged": 2,
        "median_minutes_to_acknowledge": 20.0,
    }
    assert shown["notifications_sent"] == {"reminders": 2, "escalations": 2}
    assert shown["missing_episodes"] == {"open": 1, "oldest_hours": 5}
    assert shown["agency"] == "north" and shown["window_days"] == 30
    assert shown["as_of"] == clock.now().isoformat()


def test_the_other_agency_sees_its_own(seeded: App, clock: FixedClock) -> None:
    build_store(seeded, clock)
    shown = program_report(seeded, "sup2").as_json()
    assert shown["open_cases"]["total"] == 1
    assert shown["final_plans"] == {
        "active_cases": 1,
        "with_final_plan_of_latest_assessment": 0,
        "percent": 0.0,
    }
    assert shown["overdue_assessments"]["total"] == 1
    assert shown["overdue_assessments"]["by_days_overdue"]["8_to_30_days"] == 1
    assert shown["referral_to_first_assessment"] == {"cases": 1, "median_days": 2.5}
    assert shown["imminent_alerts"] == {
        "open": 1,
        "raised": 2,
        "acknowledged": 1,
        "median_minutes_to_acknowledge": 1.0,
    }
    assert shown["notifications_sent"] == {"reminders": 1, "escalations": 1}
    assert shown["missing_episodes"] == {"open": 1, "oldest_hours": 50}


def test_an_empty_agency_has_zeros_and_no_medians(seeded: App) -> None:
    shown = program_report(seeded, "adm").as_json()
    assert shown["open_cases"]["total"] == 0
    assert shown["final_plans"]["percent"] is None
    assert shown["overdue_assessments"]["longest_days"] is None
    assert shown["referral_to_first_assessment"]["median_days"] is None
    assert shown["imminent_alerts"]["median_minutes_to_acknowledge"] is None
    assert shown["missing_episodes"] == {"open": 0, "oldest_hours": None}


def _audited(app: App, handle: str, outcome: str) -> int:
    with app.engine.connect() as conn:
        return (
            conn.scalar(
                select(func.count()).where(
                    AuditEvent.actor_handle == handle,
                    AuditEvent.action == "program.report",
                    AuditEvent.outcome == outcome,
                )
            )
            or 0
        )


@pytest.mark.parametrize("handle", ["coord", "cw1"])
def test_coordinators_and_caseworkers_may_not_and_are_audited(seeded: App, handle: str) -> None:
    with pytest.raises(Forbidden):
        program_report(seeded, handle)
    assert _audited(seeded, handle, "denied") == 1


@pytest.mark.parametrize("handle", ["sup", "adm"])
def test_supervisors_and_admins_read_it_audited(seeded: App, handle: str) -> None:
    program_report(seeded, handle)
    assert _audited(seeded, handle, "ok") == 1


def test_a_final_plan_counts_only_while_its_assessment_is_the_latest(
    seeded: App, clock: FixedClock
) -> None:
    ref = refer(seeded, "coord", referral("RF", caseworker="cw1"), None).reference

    def final_plans() -> tuple[int, int]:
        report = program_report(seeded, "sup")
        return report.active_with_final_plan, report.active_cases

    clock.advance(HOUR)
    submit_assessment(seeded, "cw1", ref, "initial_contact", safest(seeded))
    assert final_plans() == (0, 1)
    finalize(seeded, "cw1", ref, Undecided(accept_rest=True))
    assert final_plans() == (1, 1)
    clock.advance(DAY)
    submit_assessment(seeded, "cw1", ref, "planning_meeting", safest(seeded))
    assert final_plans() == (0, 1)  # the earlier version is final, the latest a draft
    finalize(seeded, "cw1", ref, Undecided(accept_rest=True))
    assert final_plans() == (1, 1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_sqlite_the_report_reads_indexes_not_the_caseload(
    seeded: App, clock: FixedClock
) -> None:
    """Over 100,000 cases the report must read indexes: no table scanned, no list of the
    agency's case ids built, no case row read per case, and no case's assessments or plans
    (its row keeps what the report needs of them: benchmarks/dashboard.py)."""
    build_store(seeded, clock)
    with executed(seeded.engine) as seen:
        program_report(seeded, "sup")
    issued = [(sql, params) for sql, params in seen if "assessments" in sql]
    assert len(issued) == 2
    with seeded.engine.connect() as conn:
        plans = [
            [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
            for sql, params in issued
        ]
    for plan in plans:
        details = " | ".join(plan)
        assert "LIST SUBQUERY" not in details, details
        for step in plan:
            if step.startswith("SCAN"):
                assert step in ("SCAN CONSTANT ROW",) or step.startswith("SCAN anon_"), details
            for table in ("cases", "assessments", "plans"):
                if step.startswith(f"SEARCH {table} "):
                    by_key = step == f"SEARCH {table} USING INDEX sqlite_autoindex_{table}_1 (id=?)"
                    assert "COVERING INDEX" in step or by_key, details
    everything = " | ".join(" | ".join(plan) for plan in plans)
    assert "COVERING INDEX ix_cases_agency" in everything
    assert "plans" not in everything, everything
    assessments = [step for step in everything.split(" | ") if " assessments " in step]
    assert assessments and all("ix_assessments_open_due" in step for step in assessments), (
        everything
    )
