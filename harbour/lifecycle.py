"""A case's lifecycle: named states and the explicit transitions between them.

    referred -> active -> discharge_pending -> discharged -> closed
                  ^              |                  |           |
                  +--------------+                  +-> reopened <+
                                                          |
                                         active, discharge_pending

Every transition records one lifecycle event. The first completed assessment makes a case active;
a ``discharge`` assessment makes it discharge_pending; ``discharge`` then discharges it and opens
the follow-ups; once the last follow-up is done the case can close; a supervisor may reopen it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from harbour import events, schedule
from harbour.access import Actor, audit, load_case, resolve_actor
from harbour.app import App, UnitOfWork
from harbour.clock import local_time
from harbour.db.base import new_id
from harbour.db.models import Assessment, Case
from harbour.domain.vocab import AssessmentPoint, AssessmentStatus, CaseStatus
from harbour.errors import Conflict, InvalidInput
from harbour.notify import hooks

S = CaseStatus
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.REFERRED: frozenset({S.ACTIVE}),
    S.ACTIVE: frozenset({S.DISCHARGE_PENDING}),
    S.DISCHARGE_PENDING: frozenset({S.ACTIVE, S.DISCHARGED}),
    S.DISCHARGED: frozenset({S.CLOSED, S.REOPENED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REOPENED: frozenset({S.ACTIVE, S.DISCHARGE_PENDING}),
}
EVENT_FOR = {S.DISCHARGED: events.CASE_DISCHARGED, S.CLOSED: events.CASE_CLOSED}
EVENT_FOR[S.REOPENED] = events.CASE_REOPENED
# A change in the youth's situation takes a case back from discharge_pending to active.
SITUATION_CHANGES = frozenset(
    {AssessmentPoint.INCIDENT, AssessmentPoint.CONSIDERING_LEAVING, AssessmentPoint.JUST_LEFT}
)
AFTER_DISCHARGE = frozenset({AssessmentPoint.FOLLOW_UP, AssessmentPoint.INCIDENT})


def transition(uow: UnitOfWork, actor: Actor | None, case: Case, to: CaseStatus) -> None:
    """Move ``case`` to ``to`` if the lifecycle allows it, recording the event."""
    current = CaseStatus(case.status)
    if to not in TRANSITIONS[current]:
        raise Conflict("transition_not_allowed", f"a {current} case cannot become {to}")
    case.status = to
    case.updated_at = uow.now()
    name = EVENT_FOR.get(to, events.CASE_STATUS_CHANGED)
    events.record(uow, case.id, name, new_id(), from_status=current.value, to_status=to.value)
    audit(uow, actor, f"case.status.{to.value}", case.id, from_status=current.value)


def check_point(uow: UnitOfWork, case: Case, point: AssessmentPoint) -> None:
    """Refuse an assessment point the case's state (or the follow-up schedule) does not allow."""
    status = CaseStatus(case.status)
    if status == S.CLOSED:
        raise Conflict("case_closed", "the case is closed: a supervisor may reopen it")
    if status == S.DISCHARGED and point not in AFTER_DISCHARGE:
        raise Conflict(
            "point_not_allowed", f"a discharged case takes only: {_names(AFTER_DISCHARGE)}"
        )
    if status != S.DISCHARGED and point == AssessmentPoint.FOLLOW_UP:
        raise Conflict("point_not_allowed", "follow-up assessments come after discharge")
    if point == AssessmentPoint.FOLLOW_UP:
        _check_follow_up_window(uow, case)


def _check_follow_up_window(uow: UnitOfWork, case: Case) -> None:
    """A follow-up is recorded from when its due-soon reminder fires, so the follow-ups spread
    over the months after discharge as the policy sets them; they cannot all be done at once."""
    opens = schedule.follow_up_opens_at(uow, case)
    if opens is not None and uow.now() < opens:
        local = local_time(opens, schedule.zone_of(uow, case))
        raise Conflict(
            "follow_up_not_open",
            f"the next follow-up opens {local}; for a change in the youth's situation, "
            "assess at the incident point",
        )


def _names(points: frozenset[AssessmentPoint]) -> str:
    return ", ".join(sorted(points))


def after_assessment(
    uow: UnitOfWork, actor: Actor | None, case: Case, point: AssessmentPoint
) -> None:
    """The transitions a completed assessment brings about."""
    if case.status in (S.REFERRED, S.REOPENED):
        transition(uow, actor, case, S.ACTIVE)
    if point == AssessmentPoint.DISCHARGE and case.status == S.ACTIVE:
        transition(uow, actor, case, S.DISCHARGE_PENDING)
    elif point in SITUATION_CHANGES and case.status == S.DISCHARGE_PENDING:
        transition(uow, actor, case, S.ACTIVE)


def discharge(uow: UnitOfWork, actor: Actor | None, case: Case) -> Case:
    """Discharge after a completed discharge assessment; opens the first follow-up. Idempotent."""
    if case.status == S.DISCHARGED:
        return case
    if case.status != S.DISCHARGE_PENDING or not _has_discharge_assessment(uow, case):
        raise Conflict("discharge_assessment_required", "complete a discharge assessment first")
    transition(uow, actor, case, S.DISCHARGED)
    schedule.cancel_open(uow, case)
    schedule.open_next_follow_up(uow, case)
    hooks.case_discharged(uow, case)
    return case


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
    if case.status == S.DISCHARGED and schedule.follow_ups_remaining(uow, case) > 0:
        raise Conflict("follow_ups_outstanding", "follow-up assessments remain before closing")
    transition(uow, actor, case, S.CLOSED)
    schedule.cancel_open(uow, case)
    return case


def close_if_follow_ups_done(uow: UnitOfWork, case: Case) -> bool:
    """After a follow-up: close the case if it was the last one (for the follow-up flow)."""
    if case.status != S.DISCHARGED or schedule.follow_ups_remaining(uow, case) > 0:
        return False
    close(uow, None, case)
    return True


def reopen(uow: UnitOfWork, actor: Actor | None, case: Case) -> Case:
    """Reopen a discharged or closed case; its next assessment is due as a new contact's."""
    transition(uow, actor, case, S.REOPENED)
    schedule.cancel_open(uow, case)
    schedule.open_after_reopen(uow, case)
    return case


# -- as staff ask for them (one transaction each, agency-scoped and audited) ---------------------

ACTIONS: dict[str, tuple[str, Callable[[UnitOfWork, Actor | None, Case], Case]]] = {
    "discharge": ("case.discharge", discharge),
    "close": ("case.close", close),
    "reopen": ("case.reopen", reopen),
}


def run_action(app: App, actor_handle: str | None, ref: str, name: str) -> dict[str, Any]:
    """Discharge, close or reopen a case; returns its status and what falls due next."""
    permission, action = ACTIONS[name]

    def work(uow: UnitOfWork) -> dict[str, Any]:
        actor = resolve_actor(uow, actor_handle)
        case = load_case(uow, actor, ref, permission)
        action(uow, actor, case)
        return {
            "case": case.reference,
            "status": case.status,
            "next_due": case.next_due_at.isoformat() if case.next_due_at else None,
            "follow_ups_remaining": schedule.follow_ups_remaining(uow, case),
        }

    return app.run(work)


def dry_run(app: App, actor_handle: str | None, ref: str, weeks: int = 8) -> list[dict[str, Any]]:
    """``harbour schedule REF``: what will fall due and fire in the coming weeks."""
    if not 1 <= weeks <= 104:
        raise InvalidInput([("--weeks", "from 1 to 104")])

    def work(uow: UnitOfWork) -> list[dict[str, Any]]:
        actor = resolve_actor(uow, actor_handle)
        case = load_case(uow, actor, ref, "case.read")
        return schedule.dry_run(uow, case, weeks)

    return app.run(work)
