"""The case lifecycle as Prefect flows: a referral's initial contact and each assessment point.

Every flow takes one opaque id, runs ``harbour.orchestration.steps`` as tasks, marks its lifecycle event
processed, then delivers what the steps enqueued. A second run for the same event finds every
step already done.
"""

from __future__ import annotations

from prefect import flow

from flows.ids import Id
from flows.relay import deliver_pending
from flows.tasks import StepFailed, harbour_task
from harbour import events
from harbour.domain.vocab import AssessmentPoint
from harbour.orchestration import pipeline, steps
from harbour.orchestration.steps import Step

is_pending = harbour_task(pipeline.is_pending)
mark_processed = harbour_task(pipeline.mark_processed)
flow_of_assessment = harbour_task(pipeline.flow_of_assessment)
# Each step as a task, once; which event runs which is pipeline's table (pipeline.steps_of).
ROUTED_STEPS = {
    *(step for run in pipeline.STEPS_OF_EVENT.values() for step in run),
    *(step for extra in steps.AFTER_POINT.values() for step in extra),
}
TASKS = {step: harbour_task(step) for step in ROUTED_STEPS}
FLOW_OPTIONS = {"persist_result": False, "log_prints": False, "validate_parameters": True}


@flow(name="initial_contact", **FLOW_OPTIONS)  # type: ignore[call-overload]
def initial_contact(case_id: Id) -> None:
    """A referred case: open the initial assessment, assign per the agency's rule, notify."""
    _process(events.CASE_REFERRED, case_id)


@flow(name="safety_assessment", **FLOW_OPTIONS)  # type: ignore[call-overload]
def safety_assessment(assessment_id: Id) -> None:
    """A submitted assessment (evaluated, planned and scheduled as it was recorded): its plan's
    documents, its next assessment checked, its notifications sent. Its points (initial contact,
    considering leaving, just left, an incident) add no steps, and Prefect is never told which."""
    _assessment(assessment_id, pipeline.FLOW_OF_OTHER_POINTS, None, pipeline.STEPS_OF_OTHER_POINTS)


@flow(name="planning_meeting", **FLOW_OPTIONS)  # type: ignore[call-overload]
def planning_meeting(assessment_id: Id) -> None:
    _assessment(assessment_id, "planning_meeting", AssessmentPoint.PLANNING_MEETING)


@flow(name="discharge", **FLOW_OPTIONS)  # type: ignore[call-overload]
def discharge(assessment_id: Id) -> None:
    """The assessment before discharge, then the discharge and its follow-ups."""
    _assessment(assessment_id, "discharge", AssessmentPoint.DISCHARGE)


@flow(name="follow_up", **FLOW_OPTIONS)  # type: ignore[call-overload]
def follow_up(assessment_id: Id) -> None:
    """A follow-up assessment after discharge; the last one closes the case."""
    _assessment(assessment_id, "follow_up", AssessmentPoint.FOLLOW_UP)


def _assessment(
    assessment_id: str, flow: str, point: AssessmentPoint | None, extra: tuple[Step, ...] = ()
) -> None:
    """The assessment's steps, once it is known to be this flow's (a run started by hand with
    another point's id fails before any step); ``extra``: the shared flow's, for any point."""
    if flow_of_assessment(assessment_id) != flow:
        raise StepFailed("flow_of_assessment", "wrong_point")
    _process(events.ASSESSMENT_SUBMITTED, assessment_id, point, extra)


def _process(
    name: str, subject_id: str, point: str | None = None, extra: tuple[Step, ...] = ()
) -> None:
    """The event's steps as tasks, in order, then the event marked processed and delivered."""
    if not is_pending(name, subject_id):
        return
    for step in (*pipeline.steps_of(name, point), *extra):
        TASKS[step](subject_id)
    mark_processed(name, subject_id)
    deliver_pending()
