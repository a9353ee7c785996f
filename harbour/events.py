"""The domain's lifecycle event log: recorded in Harbour's database, in the transaction of the change.

A publisher later emits each as a Prefect event with ids only; the pipeline marks it processed.
Recording is idempotent: the same (case, name, subject) is recorded once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select

from harbour.app import UnitOfWork
from harbour.db.models import LifecycleEvent

CASE_REFERRED = "harbour.case.referred"
CASE_ASSIGNED = "harbour.case.assigned"
ASSESSMENT_OPENED = "harbour.assessment.opened"
ASSESSMENT_SUBMITTED = "harbour.assessment.submitted"
ASSESSMENT_COMPLETED = "harbour.assessment.completed"
CASE_ESCALATED = "harbour.case.escalated"
ALERT_ACKNOWLEDGED = "harbour.alert.acknowledged"
CASE_DISCHARGED = "harbour.case.discharged"
CASE_STATUS_CHANGED = "harbour.case.status_changed"
CASE_CLOSED = "harbour.case.closed"
CASE_REOPENED = "harbour.case.reopened"
PLAN_FINALIZED = "harbour.plan.finalized"
RISK_OVERRIDDEN = "harbour.assessment.overridden"
COVER_STARTED = "harbour.case.cover_started"
COVER_ENDED = "harbour.case.cover_ended"
MISSING_OPENED = "harbour.case.missing_opened"  # subject: the episode
# Subject: the episode (the youth is back, or the episode was withdrawn as recorded in error).
MISSING_CLOSED = "harbour.case.missing_closed"
# A staff visit not checked in by its deadline (subject: the alert). Of no case, even when the
# visit was for one (as its alert): it is about the staff member's safety alone.
VISIT_OVERDUE = "harbour.visit.overdue"

# An event whose steps failed this many times and that has waited this long (four sweeps) is
# stuck: its agency's admins are told once (``harbour.orchestration.pipeline``) and `harbour
# notify check` names it until a try succeeds. A step that failed a moment (the database busy)
# is not, nor a backlog that failed once when processed late.
STUCK_AFTER_FAILURES = 3
STUCK_AFTER = timedelta(hours=1)


def is_stuck(failures: int, occurred_at: datetime, now: datetime) -> bool:
    return failures >= STUCK_AFTER_FAILURES and occurred_at <= now - STUCK_AFTER


def stuck(now: datetime) -> Select[Any]:
    """The unprocessed events ``is_stuck`` at ``now``, oldest first."""
    E = LifecycleEvent
    return (
        select(E)
        .where(E.processed_at.is_(None), E.failures >= STUCK_AFTER_FAILURES)
        .where(E.occurred_at <= now - STUCK_AFTER)
        .order_by(E.occurred_at, E.id)
    )


def record(
    uow: UnitOfWork, case_id: str | None, name: str, subject_id: str, **payload: Any
) -> LifecycleEvent:
    """Record an event once; ``payload`` holds operational values only (codes, levels, ids)."""
    existing = uow.session.scalar(
        select(LifecycleEvent).where(
            LifecycleEvent.case_id == case_id,
            LifecycleEvent.name == name,
            LifecycleEvent.subject_id == subject_id,
        )
    )
    if existing is not None:
        return existing
    event = record_new(uow, case_id, name, subject_id, **payload)
    uow.session.flush()
    return event


def recorded(uow: UnitOfWork, name: str, subject_ids: list[str]) -> set[tuple[str | None, str]]:
    """(case id, subject id) of the events ``name`` already recorded about ``subject_ids``: what
    ``record`` would find, for many subjects in one query."""
    found = uow.session.execute(
        select(LifecycleEvent.case_id, LifecycleEvent.subject_id).where(
            LifecycleEvent.name == name, LifecycleEvent.subject_id.in_(subject_ids)
        )
    )
    return set(found)


def record_new(
    uow: UnitOfWork, case_id: str | None, name: str, subject_id: str, **payload: Any
) -> LifecycleEvent:
    """Record an event about a subject created in this transaction: none can exist yet, so the
    lookup ``record`` makes is skipped, and the row is written by the next flush, or at the end of
    an ``inserting`` block (one statement and one flush fewer on a hot path such as intake)."""
    event = LifecycleEvent(
        case_id=case_id, name=name, subject_id=subject_id, payload=payload, occurred_at=uow.now()
    )
    uow.add(event)
    return event
