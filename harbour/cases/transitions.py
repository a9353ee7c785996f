"""A case's lifecycle moves as services: each transition recorded as a lifecycle event and audited,
and discharge, close and reopen as staff ask for them. The table itself is ``domain.lifecycle``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from harbour import events
from harbour.access import Actor, agency_zone, audit, on_case
from harbour.app import App, UnitOfWork
from harbour.cases import schedule
from harbour.cases.missing import open_episode, open_return_screening
from harbour.clock import local_time
from harbour.db.base import new_id
from harbour.db.models import Assessment, Case, Plan
from harbour.domain import lifecycle
from harbour.domain.lifecycle import S, check_transition
from harbour.domain.vocab import AssessmentPoint, AssessmentStatus, CaseStatus, PlanStatus
from harbour.errors import Conflict

EVENT_FOR = {
    S.DISCHARGED: events.CASE_DISCHARGED,
    S.CLOSED: events.CASE_CLOSED,
    S.REOPENED: events.CASE_REOPENED,
}


def transition(uow: UnitOfWork, actor: Actor | None, case: Case, to: CaseStatus) -> None:
    """Move ``case`` to ``to`` if the lifecycle allows it, recording the event."""
    current = CaseStatus(case.status)
    check_transition(current, to)
    case.status = to
    case.updated_at = uow.now()
    name = EVENT_FOR.get(to, events.CASE_STATUS_CHANGED)
    events.record(uow, case.id, name, new_id(), from_status=current.value, to_status=to.value)
    audit(uow, actor, f"case.status.{to.value}", case.id, from_status=current.value)


def check_point(uow: UnitOfWork, case: Case, point: AssessmentPoint) -> None:
    """Refuse an assessment point the case's state (or the follow-up schedule) does not allow.
    The return screening a youth's return opened is taken in any state it is open in: a
    discharged case's youth back from being missing is screened as any other."""
    if point == AssessmentPoint.JUST_LEFT and open_return_screening(uow, case) is not None:
        return
    lifecycle.check_point(CaseStatus(case.status), point)
    if point == AssessmentPoint.FOLLOW_UP:
        _check_follow_up_window(uow, case)


def _check_follow_up_window(uow: UnitOfWork, case: Case) -> None:
    """A follow-up is recorded from when its due-soon reminder fires, so the follow-ups spread
    over the months after discharge as the policy sets them; they cannot all be done at once."""
    opens = schedule.follow_up_opens_at(uow, case)
    if opens is not None and uow.now() < opens:
        local = local_time(opens, agency_zone(uow, case.agency_id))
        raise Conflict(
            "follow_up_not_open",
            f"the next follow-up opens {local}; for a change in the youth's situation, "
            "assess at the incident point",
        )


def after_assessment(
    uow: UnitOfWork, actor: Actor | None, case: Case, point: AssessmentPoint
) -> None:
    """The transitions a completed assessment brings about."""
    for to in lifecycle.moves_after_assessment(CaseStatus(case.status), point):
        transition(uow, actor, case, to)


def discharge(uow: UnitOfWork, actor: Actor | None, case: Case) -> Case:
    """Discharge after a completed discharge assessment; opens the first follow-up. Idempotent."""
    if case.status == S.DISCHARGED:
        return case
    _refuse_while_missing(uow, case, "discharge")
    if case.status != S.DISCHARGE_PENDING or not _has_discharge_assessment(uow, case):
        raise Conflict("discharge_assessment_required", "complete a discharge assessment first")
    if not discharge_plan_final(uow, case):
        raise Conflict(
            "discharge_plan_not_final",
            "finalize the plan version of the discharge assessment first "
            "(harbour plan show, then harbour plan finalize), then discharge",
        )
    transition(uow, actor, case, S.DISCHARGED)
    schedule.cancel_open(uow, case)
    schedule.open_next_follow_up(uow, case)  # its reminders come from the sweep, as any due date's
    return case


def discharge_plan_final(uow: UnitOfWork, case: Case) -> bool:
    """Whether the plan version of the case's latest discharge assessment is final: the youth
    leaves with a plan staff agreed with them."""
    status = uow.session.scalar(
        select(Plan.status)
        .where(Plan.case_id == case.id, Plan.point == AssessmentPoint.DISCHARGE)
        .order_by(Plan.version_number.desc())
        .limit(1)
    )
    return status == PlanStatus.FINAL


def _has_discharge_assessment(uow: UnitOfWork, case: Case) -> bool:
    return bool(
        uow.session.scalar(
            select(func.count(Assessment.id)).where(
                Assessment.case_id == case.id,
                Assessment.point == AssessmentPoint.DISCHARGE,
                Assessment.status == AssessmentStatus.COMPLETED,
            )
        )
    )


def close(uow: UnitOfWork, actor: Actor | None, case: Case) -> Case:
    """Close a discharged case whose follow-ups are all done. Idempotent."""
    if case.status == S.CLOSED:
        return case
    _refuse_while_missing(uow, case, "close the case")
    if case.status == S.DISCHARGED and schedule.follow_ups_remaining(uow, case) > 0:
        raise Conflict("follow_ups_outstanding", "follow-up assessments remain before closing")
    transition(uow, actor, case, S.CLOSED)
    schedule.cancel_open(uow, case)
    return case


def close_if_follow_ups_done(uow: UnitOfWork, case: Case) -> bool:
    """After a follow-up, or an incident after discharge: close the case if the policy's
    follow-ups are all done (for the follow-up flow), unless the youth is missing or not yet
    screened since their return, or another assessment is still open (the thorough one after
    an imminent threat, one more follow-up after high risk: ``schedule.open_next_follow_up``):
    staff close it after that."""
    if case.status != S.DISCHARGED or schedule.follow_ups_remaining(uow, case) > 0:
        return False
    if missing_work_open(uow, case) or schedule.open_assessments(uow, case):
        return False
    close(uow, None, case)
    return True


def missing_work_open(uow: UnitOfWork, case: Case) -> bool:
    """Whether the youth is recorded missing, or back and not yet screened (see below)."""
    return open_episode(uow, case) is not None or open_return_screening(uow, case) is not None


def _refuse_while_missing(uow: UnitOfWork, case: Case, then: str) -> None:
    """A case whose youth is missing is worked until the return is recorded, then until the
    youth is screened: discharged or closed, its episode's alerts would go on climbing about a
    case nobody works any more, and the return screening would be cancelled, never done."""
    if open_episode(uow, case) is not None:
        raise Conflict(
            "youth_missing",
            "the youth is recorded missing: record their return first (harbour returned REF "
            f"--at TIME, or the case's Missing youth page), then {then}",
        )
    if open_return_screening(uow, case) is not None:
        raise Conflict(
            "return_screening_open",
            "the youth is back from being missing and not yet screened: complete the return "
            "screening first (harbour assess REF --point just_left, or the case's assess page), "
            f"then {then}",
        )


def reopen(uow: UnitOfWork, actor: Actor | None, case: Case) -> Case:
    """Reopen a discharged or closed case: its follow-ups are cancelled (a return screening
    still open stays: the youth back is screened), its next assessment due as a new contact's."""
    transition(uow, actor, case, S.REOPENED)
    schedule.cancel_open(uow, case, [AssessmentPoint.FOLLOW_UP])
    schedule.open_after_reopen(uow, case)
    return case


# -- as staff ask for them (one transaction each, agency-scoped and audited) ---------------------

ACTIONS: dict[str, tuple[str, Callable[[UnitOfWork, Actor | None, Case], Case]]] = {
    "discharge": ("case.discharge", discharge),
    "close": ("case.close", close),
    "reopen": ("case.reopen", reopen),
}


@dataclass(frozen=True)
class StatusChange:
    """A case's status after a discharge, close or reopen, and what falls due next."""

    case: str  # the reference
    status: str
    next_due: datetime | None
    follow_ups_remaining: int

    def as_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "status": self.status,
            "next_due": self.next_due.isoformat() if self.next_due else None,
            "follow_ups_remaining": self.follow_ups_remaining,
        }


def run_action(app: App, actor_handle: str | None, ref: str, name: str) -> StatusChange:
    """Discharge, close or reopen a case; returns its status and what falls due next."""
    permission, action = ACTIONS[name]

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> StatusChange:
        action(uow, actor, case)
        remaining = schedule.follow_ups_remaining(uow, case)
        return StatusChange(case.reference, case.status, case.next_due_at, remaining)

    return on_case(app, actor_handle, ref, permission, work)
