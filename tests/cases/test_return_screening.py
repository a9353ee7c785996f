"""A youth back from being missing is screened: the return opens a ``just_left`` assessment (the
return screening), which a discharged case takes too, and which no lifecycle move drops. Through
the command line, as staff type it, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
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


def test_discharge_waits_for_the_return_screening(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    # Discharging after the youth's return cancelled the return screening still open (discharge
    # cancels every open assessment): a youth back from being missing left the program unscreened.
    ref, safe = _active(seeded, tmp_path)
    _gone_and_back(seeded, clock, ref)
    ok(seeded, "assess", ref, "--point", "discharge", "--answers", safe, "--as", "cw1")
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")  # a safe discharge
    assert _status(seeded, ref) == "discharge_pending"  # it waits for the screening
    refused = invoke(seeded, "discharge", ref, "--as", "cw1")
    assert refused.exit_code == 1 and "return_screening_open" in refused.stderr, refused.stderr
    assert "--point just_left" in refused.stderr  # says what to do
    assert _status(seeded, ref) == "discharge_pending" and "just_left" in _open_points(seeded, ref)

    back = answers_file(seeded, tmp_path, "back", situation="just_left", return_traded="no")
    ok(seeded, "assess", ref, "--point", "just_left", "--answers", back, "--as", "cw1")
    assert _status(seeded, ref) == "active"  # the situation changed: discharge is assessed anew
    ok(seeded, "assess", ref, "--point", "discharge", "--answers", safe, "--as", "cw1")
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    assert ok(seeded, "discharge", ref, "--as", "cw1")["status"] == "discharged"


def test_the_last_follow_up_and_close_wait_for_the_return_screening(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    # The last follow-up done after the youth's return closed the case by itself, and `close`
    # closed it, each cancelling the return screening still open.
    ref, safe = _discharged(seeded, tmp_path)
    for number in range(3):
        due = ok(seeded, "case", "show", ref, "--as", "cw1")["next_due"]
        clock.set(datetime.fromisoformat(due))
        if number == 2:
            _gone_and_back(seeded, clock, ref)
        ok(seeded, "assess", ref, "--point", "follow_up", "--answers", safe, "--as", "cw1")
    assert _status(seeded, ref) == "discharged" and _open_points(seeded, ref) == ["just_left"]
    refused = invoke(seeded, "close", ref, "--as", "sup")
    assert refused.exit_code == 1 and "return_screening_open" in refused.stderr, refused.stderr
    assert _status(seeded, ref) == "discharged" and _open_points(seeded, ref) == ["just_left"]

    back = answers_file(seeded, tmp_path, "back", situation="just_left", return_traded="no")
    ok(seeded, "assess", ref, "--point", "just_left", "--answers", back, "--as", "cw1")
    assert ok(seeded, "close", ref, "--as", "sup")["status"] == "closed"


def test_a_reopened_case_keeps_the_return_screening(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    # Reopening a discharged case whose youth had come back cancelled the return screening
    # with the follow-ups (reopen cancelled every open assessment): back in the program, the
    # youth was never screened.
    ref, _ = _discharged(seeded, tmp_path)
    _gone_and_back(seeded, clock, ref)
    assert ok(seeded, "reopen", ref, "--as", "sup")["status"] == "reopened"
    assert _open_points(seeded, ref) == ["just_left", "planning_meeting"]
    back = answers_file(seeded, tmp_path, "back", situation="just_left", return_traded="no")
    ok(seeded, "assess", ref, "--point", "just_left", "--answers", back, "--as", "cw1")
    assert _status(seeded, ref) == "active" and _open_points(seeded, ref) == ["planning_meeting"]
