"""The reassessment sweep over N open cases, on SQLite and PostgreSQL: its time and peak Python
memory against the bare indexed query that selects the cases with a reminder due.

Every case has one open assessment, due somewhere from 10 days ago to 30 days ahead. Checked on
the way: the assessments the sweep reminded or escalated are exactly those the policy says have a
threshold passed, and a second sweep at the same moment enqueues nothing.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update

from benchmarks.common import BACKENDS, START, Row, temp_store
from harbour import refs
from harbour.app import App, UnitOfWork
from harbour.db.base import new_id
from harbour.db.models import Alert, Assessment, Case, LifecycleEvent, OutboxMessage, ReminderMark
from harbour.policy import load_policy, reminder_times
from harbour.staffing import AgencyIn, StaffIn, create_agency, create_staff
from harbour.sweep import sweep

ZONE = "America/New_York"
SPREAD = timedelta(days=40)
CHUNK = 5000


def run(size: int = 100_000) -> list[Row]:
    rows = []
    for backend in BACKENDS:
        with temp_store(backend) as app:
            seed_cases(app, size)
            seconds, idle, memory = _measure(app)
            bare_seconds, bare_memory = _bare(app)
        label = f"sweep over {size:,} cases, {backend}"
        rows.append(Row(f"{label}: time", seconds, bare_seconds, "s", "bare indexed due query"))
        rows.append(Row(f"{label}: again", idle, bare_seconds, "s", "bare indexed due query"))
        rows.append(Row(f"{label}: memory", memory, bare_memory, "MB peak", "bare due query"))
    return rows


def _measure(app: App) -> tuple[float, float, float]:
    """Seconds of the first sweep (its due set checked) and of a second one at the same moment
    (which must enqueue nothing: the routine cost), then the peak memory of the first sweep
    done again from scratch."""
    seconds = _seconds(lambda: sweep(app, START))
    check_due_set(app)
    enqueued = outbox_rows(app)
    idle = _seconds(lambda: sweep(app, START))
    if outbox_rows(app) != enqueued:
        raise AssertionError("a second sweep at the same moment enqueued notifications")
    _forget_reminders(app)
    return seconds, idle, _peak_megabytes(lambda: sweep(app, START))


def _seconds(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _bare(app: App) -> tuple[float, float]:
    """The due query alone: open assessments due by the earliest reminder's horizon."""
    horizon = START + _earliest_offset(app)

    def query() -> int:
        with app.engine.connect() as conn:
            found = conn.execute(
                select(Assessment.id).where(
                    Assessment.status == "open", Assessment.due_at <= horizon
                )
            ).all()
        return len(found)

    return _seconds(query), _peak_megabytes(query)


def _earliest_offset(app: App) -> timedelta:
    policy = load_policy(app.settings)
    return max(START - at for _, at in reminder_times(policy, START, ZoneInfo(ZONE)))


def _peak_megabytes(work: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def check_due_set(app: App, now: datetime = START) -> None:
    """The assessments reminded or escalated are exactly those with a threshold passed."""
    policy, zone = load_policy(app.settings), ZoneInfo(ZONE)
    with app.engine.connect() as conn:
        dues = conn.execute(select(Assessment.id, Assessment.due_at)).all()
        marked = set(conn.scalars(select(ReminderMark.assessment_id).distinct()))
    expected = {
        assessment_id
        for assessment_id, due_at in dues
        if any(at <= now for _, at in reminder_times(policy, due_at, zone))
    }
    if marked != expected:
        raise AssertionError(f"due set differs: {len(marked ^ expected)} assessments")


def outbox_rows(app: App) -> int:
    with app.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def _forget_reminders(app: App) -> None:
    with app.engine.begin() as conn:
        for table in (ReminderMark, OutboxMessage, Alert):
            conn.execute(delete(table))
        conn.execute(delete(LifecycleEvent))
        conn.execute(update(Case).values(escalated=False))


def seed_cases(app: App, size: int) -> None:
    """``size`` active cases of agency "bench", each with one open assessment, due from 10
    days before START to 30 days after."""

    def staff(uow: UnitOfWork) -> tuple[str, list[str]]:
        agency = create_agency(uow, AgencyIn(name="bench", timezone=ZONE))
        create_staff(uow, StaffIn(handle="bench-sup", agency="bench", role="supervisor"))
        workers = [
            create_staff(uow, StaffIn(handle=f"bench-cw{i}", agency="bench", role="caseworker")).id
            for i in range(20)
        ]
        return agency.id, workers

    agency_id, workers = app.run(staff)
    for first in range(0, size, CHUNK):
        cases, assessments = _rows(agency_id, workers, range(first, min(first + CHUNK, size)), size)
        with app.engine.begin() as conn:
            conn.execute(insert(Case), cases)
            conn.execute(insert(Assessment), assessments)


def _rows(
    agency_id: str, workers: list[str], numbers: range, size: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    cases, assessments = [], []
    for n in numbers:
        case_id = new_id()
        due = START - timedelta(days=10) + SPREAD * n / size
        cases.append(_case(case_id, agency_id, workers[n % len(workers)], due))
        assessments.append(_assessment(case_id, due))
    return cases, assessments


def _case(case_id: str, agency_id: str, worker: str, due: datetime) -> dict[str, Any]:
    return {
        "id": case_id,
        "reference": refs.new_reference(),
        "agency_id": agency_id,
        "caseworker_id": worker,
        "status": "active",
        "situation": "stabilizing",
        "risk_level": "moderate",
        "persons_at_risk": ["youth"],
        "next_due_at": due,
        "escalated": False,
        "created_at": START - SPREAD,
        "updated_at": START - SPREAD,
        "version": 1,
    }


def _assessment(case_id: str, due: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "case_id": case_id,
        "point": "planning_meeting",
        "status": "open",
        "due_at": due,
        "opened_at": START - SPREAD,
        "version": 1,
    }
