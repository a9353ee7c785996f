"""The lifecycle steps, as plain functions ``step(app, subject_id)``: each opens its own unit of
work, is safe to run again (a retry, a duplicate trigger, the sweep after a crash), and calls the
domain's services rather than doing their work. Being safe to repeat, a step commutes with a
concurrent run of itself: one that meets a row changed under it runs again (``App.run``) and
finds the work done, rather than leaving its event unprocessed as stale.

The CLI's embedded mode runs them in-process (``harbour.orchestration.pipeline``); ``flows/`` wraps each one
as a Prefect task.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from harbour.app import App, UnitOfWork
from harbour.cases import schedule
from harbour.cases import transitions as lifecycle
from harbour.db.models import Assessment, Case, Plan
from harbour.domain.vocab import (
    AssessmentPoint,
    AssessmentStatus,
    CaseStatus,
    PlanStatus,
    RiskLevel,
)
from harbour.errors import Conflict, NotFound
from harbour.notify import hooks
from harbour.plans import sealed_copies as plan_documents
from harbour.plans import store as planning


def case_row(uow: UnitOfWork, case_id: str) -> Case:
    case = uow.session.get(Case, case_id)
    if case is None:
        raise NotFound("case_not_found", "no such case")
    return case


def assessment_row(uow: UnitOfWork, assessment_id: str) -> Assessment:
    assessment = uow.session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound("assessment_not_found", "no such assessment")
    return assessment


def point_of(app: App, assessment_id: str) -> str:
    return app.run(lambda uow: assessment_row(uow, assessment_id).point)


# -- initial contact (subject: the case id) ----------------------------------------------------


def open_initial_assessment(app: App, case_id: str) -> None:
    """The initial-contact assessment is open while the case is still referred: the referral
    opened it in its own transaction, so this normally finds it and changes nothing (a contact
    already recorded, by a fast caseworker or before a late flow, needs none)."""

    def work(uow: UnitOfWork) -> None:
        case = case_row(uow, case_id)
        if case.status == CaseStatus.REFERRED:
            schedule.open_initial(uow, case)

    app.run(work, commutes=True)


def assign_caseworker(app: App, case_id: str) -> str | None:
    """Tell the case's caseworker (the referral assigned them in its own transaction, by the
    agency's rule unless it named one); a case left without one, its agency having had no
    caseworker then, gets one by the rule now. Returns the caseworker's id (None when the agency
    has none).

    The notice is keyed on the latest assignment (the referral's, when it named the caseworker),
    so running this again, even after the case changed, enqueues nothing new.
    """

    def work(uow: UnitOfWork) -> str | None:
        from harbour.cases.reads import assign_case, latest_assignment, least_loaded_caseworker

        case = case_row(uow, case_id)
        if case.caseworker_id is None:  # the agency had no caseworker when it was referred
            staff = least_loaded_caseworker(uow, case.agency_id)
            if staff is not None:
                assign_case(uow, None, case, staff.handle)  # records it and tells them
        elif (assignment := latest_assignment(uow, case)) is not None:
            hooks.case_assigned(uow, case, assignment)
        return case.caseworker_id

    return app.run(work, commutes=True)


# -- an assessment (subject: the assessment id) ------------------------------------------------
# `harbour assess` evaluates, stores, composes the plan version, schedules the next assessment
# and enqueues the notifications in its own transaction (an imminent alert must not wait for an
# orchestrator); these steps do what follows it.


def confirm_completed(app: App, assessment_id: str) -> None:
    """The assessment was evaluated and its plan version composed (the record, not Prefect)."""

    def work(uow: UnitOfWork) -> None:
        assessment = assessment_row(uow, assessment_id)
        if assessment.status != AssessmentStatus.COMPLETED:
            raise Conflict("assessment_not_completed", "the assessment is not completed")
        if planning.plan_for_assessment(uow, assessment) is None:
            raise Conflict("plan_missing", "the assessment has no plan version")

    app.run(work, commutes=True)


def render_documents(app: App, assessment_id: str) -> int:
    """Render the assessment's plan version for every audience and keep it sealed."""

    def work(uow: UnitOfWork) -> int:
        plan = planning.plan_for_assessment(uow, assessment_row(uow, assessment_id))
        return plan_documents.store_documents(uow, plan) if plan is not None else 0

    return app.run(work, commutes=True)


def ensure_next_assessment(app: App, assessment_id: str) -> None:
    """The case has its next assessment open (normally done with the assessment itself)."""

    def work(uow: UnitOfWork) -> None:
        schedule.ensure_next(uow, case_row(uow, assessment_row(uow, assessment_id).case_id))

    app.run(work, commutes=True)


def discharge_when_safe(app: App, assessment_id: str) -> str:
    """After the discharge assessment, once its plan version is final: discharge the case and
    open its first follow-up, unless the assessment found high or imminent risk, or the youth is
    missing or not yet screened since their return (then staff decide, with ``harbour
    discharge``). Returns the case's status.

    Only the case's latest discharge plan version decides, and only for its own assessment:
    an earlier assessment's event processed late (a flow that waited, the sweep after an
    outage) would otherwise discharge on its level once a later one's plan was finalised."""

    def work(uow: UnitOfWork) -> str:
        assessment = assessment_row(uow, assessment_id)
        case = case_row(uow, assessment.case_id)
        level = RiskLevel(assessment.level or RiskLevel.LOW)
        if (
            case.status == CaseStatus.DISCHARGE_PENDING
            and level.rank < RiskLevel.HIGH.rank
            and _final_discharge_plan_is_of(uow, case, assessment)
            and not lifecycle.missing_work_open(uow, case)
        ):
            lifecycle.discharge(uow, None, case)
        return case.status

    return app.run(work, commutes=True)


def _final_discharge_plan_is_of(uow: UnitOfWork, case: Case, assessment: Assessment) -> bool:
    latest = uow.session.execute(
        select(Plan.assessment_id, Plan.status)
        .where(Plan.case_id == case.id, Plan.point == AssessmentPoint.DISCHARGE)
        .order_by(Plan.version_number.desc())
        .limit(1)
    ).first()
    return latest is not None and tuple(latest) == (assessment.id, PlanStatus.FINAL)


def discharge_after_final_plan(app: App, plan_id: str) -> str | None:
    """A finalised discharge plan: the discharge that waited for it (see above)."""
    assessment_id = app.run(lambda uow: _plan_row(uow, plan_id).assessment_id)
    point = app.run(lambda uow: assessment_row(uow, assessment_id).point) if assessment_id else None
    if assessment_id is None or point != AssessmentPoint.DISCHARGE:
        return None
    return discharge_when_safe(app, assessment_id)


def close_after_last_follow_up(app: App, assessment_id: str) -> bool:
    """After a follow-up (or an incident) of a discharged case: close it if nothing is left to
    follow up (``close_if_follow_ups_done``); True if closed."""

    def work(uow: UnitOfWork) -> bool:
        assessment = assessment_row(uow, assessment_id)
        # The shared flow runs it for every point without a flow of its own
        # (``pipeline.STEPS_OF_OTHER_POINTS``): only a follow-up or an incident may close.
        if assessment.point not in (AssessmentPoint.FOLLOW_UP, AssessmentPoint.INCIDENT):
            return False
        return lifecycle.close_if_follow_ups_done(uow, case_row(uow, assessment.case_id))

    return app.run(work, commutes=True)


# -- a finalised plan (subject: the plan id) ---------------------------------------------------


def render_final_documents(app: App, plan_id: str) -> int:
    """Render the finalised version again: what staff agreed with the youth is what is kept."""

    def work(uow: UnitOfWork) -> int:
        return plan_documents.store_documents(uow, _plan_row(uow, plan_id))

    return app.run(work, commutes=True)


def _plan_row(uow: UnitOfWork, plan_id: str) -> Plan:
    plan = uow.session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("plan_not_found", "no such plan")
    return plan


Step = Callable[[App, str], object]
# The assignment comes last: its notice is keyed on the case's last change.
INITIAL_CONTACT: tuple[Step, ...] = (open_initial_assessment, assign_caseworker)
ASSESSMENT: tuple[Step, ...] = (confirm_completed, render_documents, ensure_next_assessment)
AFTER_POINT: dict[str, tuple[Step, ...]] = {
    AssessmentPoint.DISCHARGE: (discharge_when_safe,),
    AssessmentPoint.FOLLOW_UP: (close_after_last_follow_up,),
    # After the last follow-up, the thorough assessment an imminent one called for may be last.
    AssessmentPoint.INCIDENT: (close_after_last_follow_up,),
}
PLAN_FINALIZED: tuple[Step, ...] = (render_final_documents, discharge_after_final_plan)
