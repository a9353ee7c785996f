"""What the program report reads of a case's assessments and plans, kept on its row
(``harbour.cases.milestones``): when its first assessment was completed, and whether the plan
version of its latest assessment is final. Through one case's whole lifecycle as a user types
it, each step checked against the values written and against the assessments and plans
themselves, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from harbour.app import App, UnitOfWork
from harbour.cases import milestones
from harbour.clock import FixedClock
from harbour.db.models import Assessment, Case, Plan
from tests.cli.helpers import answers_file, ok, referred_case
from tests.support import given

Reached = tuple[datetime | None, bool]


def _reached(app: App, ref: str) -> Reached:
    """The case's milestones as its row holds them, checked against its assessments and
    plans: the first completed assessment's time, and whether the latest one's plan is final."""

    def work(uow: UnitOfWork) -> tuple[Reached, Reached]:
        case = uow.session.scalars(select(Case).where(Case.reference == ref)).one()
        completed = uow.session.execute(
            select(Assessment.completed_at, Plan.status)
            .join(Plan, Plan.assessment_id == Assessment.id)
            .where(Assessment.case_id == case.id, Assessment.status == "completed")
            .order_by(Plan.version_number)
        ).all()
        derived = (
            min((at for at, _ in completed), default=None),
            bool(completed) and completed[-1].status == "final",
        )
        return (case.first_assessed_at, case.latest_plan_final), derived

    kept, derived = app.run(work)
    assert kept == derived
    return kept


def test_kept_right_through_a_whole_lifecycle(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    app = seeded
    ref = referred_case(app, tmp_path)
    assert _reached(app, ref) == (None, False)
    safe = answers_file(app, tmp_path, "safe")

    def assess(point: str) -> None:
        ok(app, "assess", ref, "--point", point, "--answers", safe, "--as", "cw1")

    def finalize() -> None:
        ok(app, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")

    clock.advance(timedelta(hours=30))
    first = clock.now()
    assess("initial_contact")
    assert _reached(app, ref) == (first, False)  # the first assessment: its plan a draft
    finalize()
    assert _reached(app, ref) == (first, True)

    clock.advance(timedelta(days=1))
    assess("planning_meeting")
    assert _reached(app, ref) == (first, False)  # the earlier version final, the latest a draft
    assess("incident")  # another before the draft was finalised: that draft superseded
    assert _reached(app, ref) == (first, False)
    finalize()
    assert _reached(app, ref) == (first, True)
    ok(app, "override", ref, "--level", "high", "--reason", given("MKreason"), "--as", "sup")
    assert _reached(app, ref) == (first, True)  # a level, not a plan

    clock.advance(timedelta(days=7))
    assess("discharge")
    assert _reached(app, ref) == (first, False)
    finalize()
    ok(app, "discharge", ref, "--as", "cw1")
    assert _reached(app, ref) == (first, True)
    for _ in range(3):
        clock.set(datetime.fromisoformat(ok(app, "case", "show", ref, "--as", "cw1")["next_due"]))
        assess("follow_up")
        assert _reached(app, ref) == (first, False)
    finalize()
    ok(app, "close", ref, "--as", "sup")
    assert _reached(app, ref) == (first, True)
    assert ok(app, "reopen", ref, "--as", "sup")["status"] == "reopened"
    assert _reached(app, ref) == (first, True)  # reopened: not active, so not counted

    clock.advance(timedelta(days=2))
    assess("initial_contact")  # its first assessment again, but not its first ever
    assert _reached(app, ref) == (first, False)
    finalize()
    assert _reached(app, ref) == (first, True)


def test_a_finalize_leaves_the_case_version_to_other_writers(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """A finalize writes the case's milestones without its version: the sweep escalating the
    case, or a colleague reassigning it, meanwhile is not refused as stale, nor is the
    finalize. The session's own copy of the case follows the write."""
    ref = referred_case(seeded, tmp_path)
    safe = answers_file(seeded, tmp_path, "safe")
    ok(seeded, "assess", ref, "--point", "initial_contact", "--answers", safe, "--as", "cw1")

    def version(uow: UnitOfWork) -> int:
        return uow.session.scalars(select(Case.version).where(Case.reference == ref)).one()

    before = seeded.run(version)
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    assert seeded.run(version) == before

    def noted_in_session(uow: UnitOfWork) -> bool:
        case = uow.session.scalars(select(Case).where(Case.reference == ref)).one()
        assessment = uow.session.scalars(
            select(Assessment).where(
                Assessment.case_id == case.id, Assessment.status == "completed"
            )
        ).one()
        plan = uow.session.scalars(select(Plan).where(Plan.case_id == case.id)).one()
        plan.status = "draft"  # as a new assessment's version would be
        milestones.note(uow, case, assessment, plan)
        return case.latest_plan_final

    assert seeded.run(noted_in_session) is False
