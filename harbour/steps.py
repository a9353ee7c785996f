"""The lifecycle steps, as plain functions ``step(app, subject_id)``: each opens its own unit of
work, is safe to run again (a retry, a duplicate trigger, the sweep after a crash), and calls the
domain's services rather than doing their work.

The CLI's embedded mode runs them in-process (``harbour.pipeline``); ``flows/`` wraps each one
as a Prefect task.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from harbour.app import App, UnitOfWork
from harbour.db.models import Assessment, Case, Staff
from harbour.domain.vocab import AssessmentPoint, CaseStatus, Role
from harbour.errors import NotFound
from harbour.notify import hooks


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
    """Open the initial-contact assessment, due by the policy's ``initial_contact_within``."""
    # WIRE(issue 3): schedule.open_assessment(uow, case, INITIAL_CONTACT, initial_contact_due(...))


def assign_caseworker(app: App, case_id: str) -> str | None:
    """Give the case a caseworker by its agency's rule unless it has one, and tell them, in one
    transaction; returns the caseworker's id (None when the agency has no caseworker).

    The notice is keyed on the assignment, so running this again enqueues nothing new.
    """

    def work(uow: UnitOfWork) -> str | None:
        from harbour.cases import assign_case

        case = case_row(uow, case_id)
        if case.caseworker_id is None:
            handle = least_loaded_caseworker(uow, case.agency_id)
            if handle is not None:
                assign_case(uow, None, case, handle)
        hooks.case_assigned(uow, case)
        return case.caseworker_id

    return app.run(work)


def least_loaded_caseworker(uow: UnitOfWork, agency_id: str) -> str | None:
    """The agency's active caseworker with the fewest open cases (by handle on a tie)."""
    open_cases = (
        select(func.count(Case.id))
        .where(Case.caseworker_id == Staff.id, Case.status != CaseStatus.CLOSED)
        .scalar_subquery()
    )
    return uow.session.scalar(
        select(Staff.handle)
        .where(Staff.agency_id == agency_id, Staff.active.is_(True), Staff.role == Role.CASEWORKER)
        .order_by(open_cases, Staff.handle)
        .limit(1)
    )


# -- an assessment (subject: the assessment id) ------------------------------------------------


def evaluate_assessment(app: App, assessment_id: str) -> None:
    """Evaluate the risk and store the result, unless already done."""
    # WIRE(issue 3): complete_assessment for a submitted-but-unevaluated assessment


def compose_plan(app: App, assessment_id: str) -> None:
    """Compose the next plan version from the assessment (one per assessment)."""
    # WIRE(issue 3): planning.compose(uow, assessment) if no plan has this assessment_id


def render_documents(app: App, assessment_id: str) -> None:
    """Render the new plan version's documents and store them sealed (one set per plan)."""
    # WIRE(issue 5): harbour.documents render per audience/format -> plan_documents rows


def schedule_next(app: App, assessment_id: str) -> None:
    """Set when the case's next assessment falls due, by the policy and the level."""
    # WIRE(issue 3): schedule.next_due(...) -> case.next_due_at


def discharge_case(app: App, assessment_id: str) -> None:
    """After the discharge assessment: move the case on and schedule its follow-ups."""
    # WIRE(issue 3): lifecycle.discharge(...) + follow_up_dues


def close_after_last_follow_up(app: App, assessment_id: str) -> None:
    """After the last follow-up assessment: close the case."""
    # WIRE(issue 3): lifecycle.close(...) when no follow-up remains


# The assignment comes last: its notice is keyed on the case's last change.
INITIAL_CONTACT = (open_initial_assessment, assign_caseworker)
ASSESSMENT = (evaluate_assessment, compose_plan, render_documents, schedule_next)
AFTER_POINT: dict[str, tuple[Callable[[App, str], object], ...]] = {
    AssessmentPoint.DISCHARGE: (discharge_case,),
    AssessmentPoint.FOLLOW_UP: (close_after_last_follow_up,),
}
