"""The lifecycle flows under Prefect: once per event, however often they run, and whatever step
a run is killed at, the next sweep finishes the work with nothing lost or sent twice."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

import flows.tasks
from flows.lifecycle import initial_contact, safety_assessment
from flows.sweep import reassessment_sweep
from flows.tasks import StepFailed
from harbour import events
from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import LifecycleEvent, OutboxMessage, PlanDocument
from harbour.demo.receivers import RouteBook
from harbour.orchestration import pipeline
from tests.cli.helpers import answers_file
from tests.orchestration.helpers import assess, case_by_reference, counts, refer
from tests.support import invoke

INITIAL_CONTACT_TASKS = ["is_pending", "open_initial_assessment", "assign_caseworker"]
INITIAL_CONTACT_TASKS += ["mark_processed", "deliver"]
ASSESSMENT_TASKS = ["flow_of_assessment", "is_pending", "confirm_completed", "render_documents"]
ASSESSMENT_TASKS += ["ensure_next_assessment", "close_after_last_follow_up", "mark_processed"]
ASSESSMENT_TASKS += ["deliver"]


class Killed(Exception):
    """Stands for the process dying: the step's transaction never commits."""


def kill_before(monkeypatch: pytest.MonkeyPatch, task_name: str) -> None:
    """The next run of the task ``task_name`` dies before its step starts."""
    from prefect.context import TaskRunContext

    real = flows.tasks.harbour_app

    def dying() -> App:
        context = TaskRunContext.get()
        if context is not None and context.task.name == task_name:
            raise Killed
        return real()

    monkeypatch.setattr(flows.tasks, "harbour_app", dying)


def sent_once(app: App, mail: RouteBook) -> None:
    """Every notification was sent, each email exactly once."""
    with app.sessions() as session:
        statuses = Counter(session.scalars(select(OutboxMessage.status)))
        emails = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "email")
        )
    assert set(statuses) == {"sent"}
    assert len(mail.smtp.received) == emails


def unprocessed(app: App, name: str) -> int:
    with app.sessions() as session:
        query = select(func.count()).select_from(LifecycleEvent)
        query = query.where(LifecycleEvent.name == name, LifecycleEvent.processed_at.is_(None))
        return session.scalar(query) or 0


def test_each_flow_twice_does_the_work_once(flow_app: App, mail: RouteBook, tmp_path: Path) -> None:
    case = refer(flow_app, tmp_path)
    initial_contact(case.id)
    initial_contact(case.id)
    answers = answers_file(flow_app, tmp_path, "a", immediate_danger="yes")
    outcome = assess(flow_app, case.reference, "initial_contact", answers)
    safety_assessment(outcome["assessment"])
    once = counts(flow_app)
    safety_assessment(outcome["assessment"])
    initial_contact(case.id)
    assert counts(flow_app) == once
    assert (once["assessments"], once["plans"], once["plan_documents"]) == (2, 1, 6)
    assert len([e for e in events_named(flow_app, events.CASE_ASSIGNED)]) == 1
    sent_once(flow_app, mail)


def events_named(app: App, name: str) -> list[LifecycleEvent]:
    with app.sessions() as session:
        return list(session.scalars(select(LifecycleEvent).where(LifecycleEvent.name == name)))


def test_initial_contact_killed_at_each_step_is_finished_by_the_sweep(
    flow_app: App,
    mail: RouteBook,
    tmp_path: Path,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = []
    for task_name in INITIAL_CONTACT_TASKS:
        case = refer(flow_app, tmp_path, task_name)
        with monkeypatch.context() as patch:
            kill_before(patch, task_name)
            with pytest.raises(StepFailed):
                initial_contact(case.id)
        cases.append(case)
    clock.advance(pipeline.PREFECT_GRACE + timedelta(seconds=1))
    reassessment_sweep()
    assert unprocessed(flow_app, events.CASE_REFERRED) == 0
    for case in cases:
        assert case_by_reference(flow_app, case.reference).caseworker_id is not None
    assert len(events_named(flow_app, events.CASE_ASSIGNED)) == len(cases)
    assert len(events_named(flow_app, events.ASSESSMENT_OPENED)) == len(cases)
    sent_once(flow_app, mail)


def test_safety_assessment_killed_at_each_step_is_finished_by_the_sweep(
    flow_app: App,
    mail: RouteBook,
    tmp_path: Path,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = answers_file(flow_app, tmp_path, "a", immediate_danger="yes")
    for task_name in ASSESSMENT_TASKS:
        case = refer(flow_app, tmp_path, task_name)  # its initial contact left to the sweep
        # Not assigned yet: its agency's supervisor assesses (a caseworker may not, issue 13).
        outcome = assess(flow_app, case.reference, "initial_contact", answers, actor="sup")
        with monkeypatch.context() as patch:
            kill_before(patch, task_name)
            with pytest.raises(StepFailed):
                safety_assessment(outcome["assessment"])
    clock.advance(pipeline.PREFECT_GRACE + timedelta(seconds=1))
    reassessment_sweep()
    assert unprocessed(flow_app, events.ASSESSMENT_SUBMITTED) == 0
    with flow_app.sessions() as session:
        documents = session.scalar(select(func.count()).select_from(PlanDocument))
    assert documents == 6 * len(ASSESSMENT_TASKS)
    sent_once(flow_app, mail)


def test_a_flow_for_an_event_never_recorded_does_nothing(flow_app: App) -> None:
    before = counts(flow_app)
    initial_contact("0" * 32)
    assert counts(flow_app) == before


def test_flow_parameters_accept_only_ids() -> None:
    schema = initial_contact.parameters.model_dump()
    assert schema["properties"]["case_id"]["pattern"] == "^[0-9a-f]{32}$"


def test_the_point_flows_twice_do_their_work_once(
    flow_app: App, mail: RouteBook, tmp_path: Path, clock: FixedClock
) -> None:
    from flows.lifecycle import discharge, follow_up, planning_meeting

    case = refer(flow_app, tmp_path)
    initial_contact(case.id)
    safe = answers_file(flow_app, tmp_path, "safe")
    for point, flow in (
        ("initial_contact", safety_assessment),
        ("planning_meeting", planning_meeting),
        ("discharge", discharge),
    ):
        outcome = assess(flow_app, case.reference, point, safe)
        if point == "discharge":  # discharge waits for the final plan to leave with
            finalize = ("plan", "finalize", case.reference, "--leave-out-rest", "--as", "cw1")
            assert invoke(flow_app, *finalize).exit_code == 0
        flow(outcome["assessment"])
        once = counts(flow_app)
        flow(outcome["assessment"])
        assert counts(flow_app) == once, point
    assert case_by_reference(flow_app, case.reference).status == "discharged"
    for number in range(3):
        clock.set(case_by_reference(flow_app, case.reference).next_due_at)  # type: ignore[arg-type]
        outcome = assess(flow_app, case.reference, "follow_up", safe)
        for _ in range(1 if number == 1 else 2):  # twice for the first and the closing one
            follow_up(outcome["assessment"])
    assert case_by_reference(flow_app, case.reference).status == "closed"
    sent_once(flow_app, mail)


def test_a_point_flow_refuses_another_point_s_assessment(flow_app: App, tmp_path: Path) -> None:
    from flows.lifecycle import discharge

    case = refer(flow_app, tmp_path)
    answers = answers_file(flow_app, tmp_path, "a")
    # Not assigned yet: its agency's supervisor assesses (a caseworker may not, issue 13).
    outcome = assess(flow_app, case.reference, "initial_contact", answers, actor="sup")
    with pytest.raises(StepFailed, match="wrong_point"):
        discharge(outcome["assessment"])
