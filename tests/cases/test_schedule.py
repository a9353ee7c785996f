"""The reassessment schedule on a real store with a frozen clock, across New York's DST changes."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from harbour.app import App, UnitOfWork
from harbour.assessments.submit import submit_assessment
from harbour.cases.schedule import cases_missing_next, ensure_next
from harbour.clock import FixedClock
from harbour.crypto import Keyring
from harbour.db.base import new_id
from harbour.db.models import Agency, Assessment, Case
from harbour.domain.vocab import AssessmentStatus
from harbour.settings import Settings
from tests.cli.helpers import ok, referred_case, safest
from tests.support import executed, invoke

NY = ZoneInfo("America/New_York")


def open_assessments(app: App, ref: str) -> list[tuple[str, datetime]]:
    def read(uow):
        case = uow.session.scalar(select(Case).where(Case.reference == ref))
        rows = uow.session.scalars(
            select(Assessment).where(
                Assessment.case_id == case.id, Assessment.status == AssessmentStatus.OPEN
            )
        )
        return [(a.point, a.due_at) for a in rows]

    return app.run(read)


def test_two_years_of_planning_meetings_one_due_per_period(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """Each meeting held when due (at varied hours): every due is 09:00 local, 30 days apart."""
    ref = referred_case(seeded, tmp_path)
    moderate = safest(seeded) | {"trafficker_threat": "yes"}
    submit_assessment(seeded, "cw1", ref, "initial_contact", moderate)
    dues = []
    end = clock.now() + timedelta(days=730)
    while clock.now() < end:
        [(point, due)] = open_assessments(seeded, ref)  # exactly one open, never doubled
        assert point == "planning_meeting"
        dues.append(due)
        clock.set(due + timedelta(hours=len(dues) % 7))  # held a few hours after it fell due
        submit_assessment(seeded, "cw1", ref, "planning_meeting", moderate)
    local = [d.astimezone(NY) for d in dues]
    assert all(d.time() == time(9, 0) for d in local)
    assert all((b.date() - a.date()).days == 30 for a, b in pairwise(local))
    assert {d.utcoffset() for d in local} == {timedelta(hours=-5), timedelta(hours=-4)}
    assert len(dues) == 25


def test_dry_run_across_the_autumn_change(seeded: App, clock: FixedClock, tmp_path: Path) -> None:
    clock.set(datetime(2026, 10, 28, 15, 0, tzinfo=UTC))  # a Wednesday, 11:00 EDT
    ref = referred_case(seeded, tmp_path)
    submit_assessment(seeded, "cw1", ref, "initial_contact", safest(seeded) | {"violence": "yes"})
    entries = ok(seeded, "schedule", ref, "--weeks", "3", "--as", "cw1")
    dues = [e for e in entries if e["threshold"] is None]
    assert [datetime.fromisoformat(e["at"]).astimezone(NY).date() for e in dues] == [
        date(2026, 11, 4),
        date(2026, 11, 11),
        date(2026, 11, 18),
    ]
    assert all(datetime.fromisoformat(e["at"]).astimezone(NY).time() == time(9) for e in entries)
    assert [e["projected"] for e in dues] == [False, True, True]
    first = [e["threshold"] for e in entries if e["point"] == "planning_meeting"][:4]
    assert first == ["due_soon", None, "due_today", "overdue"]
    assert "escalation" in {e["threshold"] for e in entries}
    text = invoke(seeded, "schedule", ref, "--as", "cw1").stdout  # local times for people
    assert "2026-11-04 09:00 EST" in text and "(due_soon)" in text


def test_discharge_follow_ups_and_the_sweep_reconciler(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    ref = referred_case(seeded, tmp_path)
    answers = safest(seeded)
    submit_assessment(seeded, "cw1", ref, "discharge", answers)
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    ok(seeded, "discharge", ref, "--as", "cw1")
    [(point, due)] = open_assessments(seeded, ref)
    assert point == "follow_up"
    assert due.astimezone(NY).date() == (clock.now().astimezone(NY).date() + timedelta(days=30))
    projected = ok(seeded, "schedule", ref, "--weeks", "30", "--as", "cw1")
    follow_ups = [e for e in projected if e["threshold"] is None]
    assert [e["projected"] for e in follow_ups] == [False, True, True]

    # A crash left the case without its open follow-up: the sweep's reconciler reopens it.
    def lose(uow):
        for a in uow.session.scalars(select(Assessment).where(Assessment.status == "open")):
            a.status = AssessmentStatus.CANCELLED

    seeded.run(lose)

    def reconcile(uow):
        missing = cases_missing_next(uow, due_by=due)
        return [ensure_next(uow, uow.session.get(Case, case_id)) is not None for case_id in missing]

    assert seeded.run(reconcile) == [True]
    assert seeded.run(reconcile) == []
    assert open_assessments(seeded, ref) == [("follow_up", due)]

    # Every follow-up done: nothing is left to open, and the sweep no longer finds the case
    # (discharged, with no assessment open) sweep after sweep until someone closes it.
    for _ in seeded.reference.policy.follow_ups_after_discharge:
        [(point, due)] = open_assessments(seeded, ref)
        clock.set(due)
        submit_assessment(seeded, "cw1", ref, "follow_up", answers)
    assert open_assessments(seeded, ref) == []
    assert seeded.run(reconcile) == []


def _case(
    uow: UnitOfWork,
    agency_id: str,
    status: str,
    *assessment_statuses: str,
    due: datetime | None = None,
) -> str:
    now = uow.now()
    case = Case(
        reference=f"HB-{new_id()}",
        agency_id=agency_id,
        status=status,
        situation="considering_leaving",
        created_at=now,
        updated_at=now,
        next_due_at=due,
    )
    uow.session.add(case)
    uow.session.flush()
    for assessment_status in assessment_statuses:
        uow.session.add(
            Assessment(
                case_id=case.id,
                point="planning_meeting",
                status=assessment_status,
                opened_at=now,
                due_at=now,
            )
        )
    return case.id


def test_cases_missing_next_finds_exactly_the_cases_due_by_the_horizon_without_an_open_one(
    seeded: App,
) -> None:
    statuses = ("referred", "active", "discharge_pending", "discharged", "closed", "reopened")
    shapes = ((), ("open",), ("completed",), ("completed", "open"), ("cancelled", "completed"))
    horizon = timedelta(days=4)

    def make(uow: UnitOfWork) -> set[str]:
        agency_id = uow.session.scalar(select(Agency.id).where(Agency.name == "north"))
        assert agency_id is not None
        expected = set()
        for status in statuses:
            for shape in shapes:
                for due in (None, uow.now() - timedelta(days=9), uow.now() + horizon):
                    case_id = _case(uow, agency_id, status, *shape, due=due)
                    # A discharged case with no discharge on record has no follow-up to open.
                    if status not in ("referred", "closed", "discharged") and "open" not in shape:
                        expected.add(case_id)
                # Due after the horizon: left for a later sweep, before its first reminder.
                _case(uow, agency_id, status, *shape, due=uow.now() + horizon * 2)
        return expected

    expected = seeded.run(make)
    found = seeded.run(lambda uow: cases_missing_next(uow, due_by=uow.now() + horizon))
    assert found == sorted(expected)


def _reads_of_assessments(seen: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [
        (statement, parameters)
        for statement, parameters in seen
        if statement.lstrip().upper().startswith("SELECT") and "assessments" in statement
    ]


def test_cases_missing_next_reads_two_index_ranges_on_sqlite(
    tmp_path: Path, sqlite_template: Path, clock: FixedClock
) -> None:
    """The cases are found by their due date and the open assessments by theirs, each a range
    of its own index: neither is a walk over the caseload (a lookup per case that walked the
    (status, due_at) index made it quadratic once)."""
    key_file = tmp_path / "keys.json"
    Keyring.generate().save(key_file)
    url = f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'plan.db')}"
    app = App(Settings(home=tmp_path, database_url=url, key_file=key_file), clock)
    engine = app.engine
    try:
        with executed(engine) as seen:
            app.run(lambda uow: cases_missing_next(uow, due_by=uow.now()))
        [(statement, parameters)] = _reads_of_assessments(seen)
        with engine.connect() as conn:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    finally:
        app.dispose()
    details = " | ".join(row[-1] for row in plan)
    assert "ix_assessments_open_due (status=? AND due_at<?)" in details, details
    assert "ix_cases_due (next_due_at" in details, details
    assert "SCAN" not in details.replace("SCAN CONSTANT ROW", ""), details


def test_cases_missing_next_joins_the_ranges_as_each_database_does_best(app: App) -> None:
    """PostgreSQL: a hashed anti-join, which spills to disk past work_mem, never ``NOT IN``'s
    subplan (past work_mem it read the due assessments again for every case: 460 s at a
    million cases). SQLite: ``NOT IN``'s set, built once as an index of its own."""
    with executed(app.engine) as seen:
        app.run(lambda uow: cases_missing_next(uow, due_by=uow.now()))
    [(statement, parameters)] = _reads_of_assessments(seen)
    sqlite = app.engine.dialect.name == "sqlite"
    explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    with app.engine.connect() as conn:
        plan = " | ".join(
            str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters)
        )
    if sqlite:
        assert "LIST SUBQUERY" in plan, plan
    else:
        assert "Anti Join" in plan and "SubPlan" not in plan, plan


def test_dry_run_of_an_imminent_case_stays_readable(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    ref = referred_case(seeded, tmp_path)
    submit_assessment(seeded, "cw1", ref, "initial_contact", safest(seeded))
    submit_assessment(seeded, "cw1", ref, "incident", safest(seeded) | {"immediate_danger": "yes"})
    entries = ok(seeded, "schedule", ref, "--as", "cw1")
    projected = [e for e in entries if e["projected"]]
    dues = [e for e in projected if e["threshold"] is None]
    assert len(dues) == 4  # at most four projected assessments, however short the interval
    assert {e["threshold"] for e in projected} <= {None, "due_soon", "due_today"}
    real = [e["at"] for e in entries if not e["projected"] and e["threshold"] is None]
    assert all(e["at"] >= real[0] for e in projected)  # none before the open one is due
    assert len(entries) < 20
