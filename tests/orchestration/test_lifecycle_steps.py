"""The lifecycle's steps after each command, inline: what they do, once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from harbour import events
from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Assessment, OutboxMessage, PlanDocument
from harbour.orchestration import pipeline
from harbour.plans.sealed_copies import stored_document
from tests.cli.helpers import answers_file, ok
from tests.orchestration.helpers import assess, case_by_reference, counts, in_mode, refer


def _open_points(app: App, case_id: str) -> list[str]:
    with app.sessions() as session:
        rows = session.scalars(
            select(Assessment).where(Assessment.case_id == case_id, Assessment.status == "open")
        )
        return [row.point for row in rows]


def test_a_referral_gets_its_initial_assessment_and_a_notice(seeded: App, tmp_path: Path) -> None:
    case = refer(seeded, tmp_path)
    assert _open_points(seeded, case.id) == ["initial_contact"]
    with seeded.sessions() as session:
        notices = session.scalars(select(OutboxMessage.kind)).all()
    assert notices == ["case_assigned"]


def test_an_assessment_stores_its_documents_sealed(seeded: App, tmp_path: Path) -> None:
    case = refer(seeded, tmp_path, "DOCMARK")
    assess(seeded, case.reference, "initial_contact", answers_file(seeded, tmp_path, "a"))
    with seeded.sessions() as session:
        rows = session.scalars(select(PlanDocument)).all()
        assert {(r.audience, r.format) for r in rows} == {
            (a, f) for a in ("staff", "youth", "family") for f in ("html", "text")
        }
        assert all(r.content_sealed and "DOCMARK" not in r.content_sealed for r in rows)
    with seeded.uow() as uow:
        from harbour.db.models import Plan

        plan = uow.session.scalars(select(Plan)).one()
        staff = stored_document(uow, plan, "staff", "text")
    assert staff is not None and "DOCMARK" in staff  # the staff copy names the people


def test_processing_the_same_events_again_changes_nothing(seeded: App, tmp_path: Path) -> None:
    case = refer(seeded, tmp_path)
    outcome = assess(seeded, case.reference, "initial_contact", answers_file(seeded, tmp_path, "a"))
    before = counts(seeded)
    for name, subject in (
        (events.CASE_REFERRED, case.id),
        (events.ASSESSMENT_SUBMITTED, outcome["assessment"]),
    ):
        with seeded.sessions() as session, session.begin():
            from sqlalchemy import update

            from harbour.db.models import LifecycleEvent

            session.execute(
                update(LifecycleEvent)
                .where(LifecycleEvent.subject_id == subject, LifecycleEvent.name == name)
                .values(processed_at=None)
            )
        pipeline.process(seeded, name, subject)
        pipeline.process(seeded, name, subject)
    assert counts(seeded) == before


def test_a_safe_discharge_assessment_discharges_and_the_last_follow_up_closes(
    seeded: App, tmp_path: Path, clock: FixedClock
) -> None:
    case = refer(seeded, tmp_path)
    safe = answers_file(seeded, tmp_path, "safe")
    assess(seeded, case.reference, "initial_contact", safe)
    assess(seeded, case.reference, "discharge", safe)
    assert case_by_reference(seeded, case.reference).status == "discharge_pending"  # plan first
    ok(seeded, "plan", "finalize", case.reference, "--leave-out-rest", "--as", "cw1")
    assert case_by_reference(seeded, case.reference).status == "discharged"
    assert _open_points(seeded, case.id) == ["follow_up"]
    for _ in range(3):
        due = case_by_reference(seeded, case.reference).next_due_at
        assert due is not None
        clock.set(due)
        assess(seeded, case.reference, "follow_up", safe)
    assert case_by_reference(seeded, case.reference).status == "closed"


def test_a_safe_discharge_waits_while_the_youth_is_missing(seeded: App, tmp_path: Path) -> None:
    # The plan of a safe discharge assessment finalized while the youth was recorded missing:
    # the step discharged the case, and the episode's alerts went on about a discharged case.
    from harbour.cases import missing

    case = refer(seeded, tmp_path)
    safe = answers_file(seeded, tmp_path, "safe")
    assess(seeded, case.reference, "initial_contact", safe)
    assess(seeded, case.reference, "discharge", safe)
    missing.report_missing(seeded, "cw1", case.reference, "08:00")
    ok(seeded, "plan", "finalize", case.reference, "--leave-out-rest", "--as", "cw1")
    assert case_by_reference(seeded, case.reference).status == "discharge_pending"


def test_a_risky_discharge_assessment_leaves_the_decision_to_staff(
    seeded: App, tmp_path: Path
) -> None:
    case = refer(seeded, tmp_path)
    safe = answers_file(seeded, tmp_path, "safe")
    risky = answers_file(seeded, tmp_path, "risky", trafficker_threat="yes", violence="yes")
    assess(seeded, case.reference, "initial_contact", safe)
    assert assess(seeded, case.reference, "discharge", risky)["risk_level"] in ("high", "imminent")
    assert case_by_reference(seeded, case.reference).status == "discharge_pending"


def test_finalising_a_plan_stores_the_final_documents(seeded: App, tmp_path: Path) -> None:
    case = refer(seeded, tmp_path)
    assess(seeded, case.reference, "initial_contact", answers_file(seeded, tmp_path, "a"))
    ok(seeded, "plan", "finalize", case.reference, "--leave-out-rest", "--as", "cw1")
    with seeded.sessions() as session:
        statuses = set(session.scalars(select(PlanDocument.plan_status)))
    assert statuses == {"final"}


def test_prefect_mode_referral_is_assigned_and_opened_before_the_flows(
    seeded: App, tmp_path: Path
) -> None:
    """The referral's own transaction assigns the caseworker and opens the initial assessment;
    the flow only tells the caseworker (and finds the rest done)."""
    app = in_mode(seeded, "prefect")
    case = refer(app, tmp_path)
    assert _open_points(app, case.id) == ["initial_contact"] and case.caseworker_id is not None
    with app.sessions() as session:
        assert session.scalars(select(OutboxMessage.kind)).all() == []
    pipeline.process(app, events.CASE_REFERRED, case.id)
    assert _open_points(app, case.id) == ["initial_contact"]
    with app.sessions() as session:
        assert session.scalars(select(OutboxMessage.kind)).all() == ["case_assigned"]
    assert case_by_reference(app, case.reference).caseworker_id == case.caseworker_id


def test_prefect_mode_cases_shows_the_worker_and_due_right_after_refer(
    seeded: App, tmp_path: Path
) -> None:
    """No flow has run yet, and `harbour cases` already shows who has the case and when the
    initial contact is due (not "-", "-" for the seconds a flow takes to start)."""
    app = in_mode(seeded, "prefect")
    case = refer(app, tmp_path)
    rows = ok(app, "cases", "--as", "coord")
    row = next(r for r in rows if r["case"] == case.reference)
    assert row["caseworker"] == "cw1" and row["next_due"] is not None


def test_a_late_safe_discharge_assessment_does_not_overrule_a_later_risky_one(
    seeded: App, tmp_path: Path, clock: FixedClock
) -> None:
    """The safe discharge assessment's event processed after a second discharge assessment
    found high risk, and after that one's plan was finalised (Prefect mode: its flow late, the
    server down, the sweep finishing it): the case is not discharged on the first one's level.
    Staff decide, as for any risky discharge assessment."""
    from datetime import timedelta

    app = in_mode(seeded, "prefect")
    case = refer(app, tmp_path)
    safe = answers_file(app, tmp_path, "safe")
    risky = answers_file(app, tmp_path, "risky", trafficker_threat="yes", violence="yes")
    assess(app, case.reference, "initial_contact", safe)
    for answers in (safe, risky):
        clock.advance(timedelta(seconds=1))
        outcome = assess(app, case.reference, "discharge", answers)
    assert outcome["risk_level"] in ("high", "imminent")
    clock.advance(timedelta(seconds=1))
    ok(app, "plan", "finalize", case.reference, "--leave-out-rest", "--as", "cw1")
    clock.advance(pipeline.PREFECT_GRACE + timedelta(seconds=1))
    from harbour.orchestration.sweep import sweep

    sweep(app)
    assert case_by_reference(app, case.reference).status == "discharge_pending"
