"""A youth back from being missing is screened: the return opens a ``just_left`` assessment (the
return screening), which a discharged case takes too, and which no lifecycle move drops. Through
the command line, as staff type it, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Assessment, Case
from harbour.domain.vocab import AssessmentStatus
from tests.cli.helpers import answers_file, ok, referred_case
from tests.support import invoke


def _active(app: App, tmp_path: Path) -> tuple[str, str]:
    ref = referred_case(app, tmp_path)
    safe = answers_file(app, tmp_path, "safe")
    ok(app, "assess", ref, "--point", "initial_contact", "--answers", safe, "--as", "cw1")
    return ref, safe


def _discharged(app: App, tmp_path: Path) -> tuple[str, str]:
    ref, safe = _active(app, tmp_path)
    ok(app, "assess", ref, "--point", "discharge", "--answers", safe, "--as", "cw1")
    ok(app, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    assert ok(app, "discharge", ref, "--as", "cw1")["status"] == "discharged"
    return ref, safe


def _gone_and_back(app: App, clock: FixedClock, ref: str) -> None:
    since = (clock.now() - timedelta(hours=3)).isoformat()
    ok(app, "missing", ref, "--since", since, "--as", "cw1")
    clock.advance(timedelta(hours=2))
    ok(app, "returned", ref, "--at", clock.now().isoformat(), "--as", "cw1")


def _open_points(app: App, ref: str) -> list[str]:
    return list(
        app.run(
            lambda uow: uow.session.scalars(
                select(Assessment.point)
                .join(Case, Case.id == Assessment.case_id)
                .where(Case.reference == ref, Assessment.status == AssessmentStatus.OPEN)
                .order_by(Assessment.point)
            ).all()
        )
    )


def _status(app: App, ref: str) -> str:
    status: str = ok(app, "case", "show", ref, "--as", "sup")["status"]
    return status


def test_a_discharged_case_takes_the_return_screening_of_its_youth(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    # A youth recorded missing in the follow-up period came back: `returned` opened the return
    # screening (just_left), but a discharged case took only follow_up and incident, so the
    # screening could never be done and its reminders and escalation fired for good.
    ref, safe = _discharged(seeded, tmp_path)
    unasked = invoke(
        seeded, "assess", ref, "--point", "just_left", "--answers", safe, "--as", "cw1"
    )
    assert unasked.exit_code == 1 and "point_not_allowed" in unasked.stderr  # no return yet
    _gone_and_back(seeded, clock, ref)
    assert _open_points(seeded, ref) == ["follow_up", "just_left"]
    back = answers_file(seeded, tmp_path, "back", situation="just_left", return_traded="no")
    screened = ok(seeded, "assess", ref, "--point", "just_left", "--answers", back, "--as", "cw1")
    assert screened["point"] == "just_left"
    assert _status(seeded, ref) == "discharged"
    assert _open_points(seeded, ref) == ["follow_up"]  # the follow-ups go on as scheduled
    again = invoke(seeded, "assess", ref, "--point", "just_left", "--answers", back, "--as", "cw1")
    assert again.exit_code == 1 and "point_not_allowed" in again.stderr  # screened once
