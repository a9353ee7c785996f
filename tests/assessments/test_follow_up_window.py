"""Follow-ups spread over the months after discharge: each opens as its due-soon reminder fires.
And an interactive assessment is refused before any question is asked."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from harbour.app import App
from harbour.clock import FixedClock
from harbour.domain.vocab import RiskLevel
from tests.cli.helpers import answers_file, ok, referred_case
from tests.support import given, invoke


def _discharged(app: App, clock: FixedClock, tmp_path: Path) -> tuple[str, str]:
    ref = referred_case(app, tmp_path)
    safe = answers_file(app, tmp_path, "safe")
    ok(app, "assess", ref, "--point", "initial_contact", "--answers", safe, "--as", "cw1")
    ok(app, "assess", ref, "--point", "discharge", "--answers", safe, "--as", "cw1")
    ok(app, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    ok(app, "discharge", ref, "--as", "cw1")
    return ref, safe


def _last_follow_up_finding(
    app: App, clock: FixedClock, tmp_path: Path, **found: str
) -> tuple[str, str]:
    """A discharged case whose three follow-ups are done, the last with the answers ``found``
    changed from the safest; its reference and the safest answers' file."""
    ref, safe = _discharged(app, clock, tmp_path)
    last = answers_file(app, tmp_path, "last", **found)
    for number in range(3):
        clock.set(_next_due(app, ref))
        answers = last if number == 2 else safe
        ok(app, "assess", ref, "--point", "follow_up", "--answers", answers, "--as", "cw1")
    return ref, safe


def _next_due(app: App, ref: str) -> datetime:
    return datetime.fromisoformat(ok(app, "case", "show", ref, "--as", "cw1")["next_due"])


def test_a_follow_up_before_its_window_is_refused_and_changes_nothing(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    ref, safe = _discharged(seeded, clock, tmp_path)
    due = _next_due(seeded, ref)
    early = invoke(seeded, "assess", ref, "--point", "follow_up", "--answers", safe, "--as", "cw1")
    assert early.exit_code == 1 and "follow_up_not_open" in early.stderr
    assert "incident" in early.stderr  # says what to do instead
    assert _next_due(seeded, ref) == due

    clock.set(due - timedelta(days=2))  # the due-soon reminder fires: the window opens
    ok(seeded, "assess", ref, "--point", "follow_up", "--answers", safe, "--as", "cw1")
    assert _next_due(seeded, ref) > due  # the next follow-up, months later


def test_an_incident_after_discharge_is_taken_at_any_time(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    ref, safe = _discharged(seeded, clock, tmp_path)
    ok(seeded, "assess", ref, "--point", "incident", "--answers", safe, "--as", "cw1")


def test_interactive_assess_is_refused_before_any_question(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    cases = [
        (("HB-ZZZZ-ZZZZ", "--point", "incident", "--as", "cw1"), "not_found"),
        ((ref, "--point", "incident", "--as", "coord"), "not_permitted"),
        ((ref, "--point", "follow_up", "--as", "cw1"), "point_not_allowed"),
    ]
    for args, code in cases:
        result = invoke(seeded, "assess", *args)
        assert result.exit_code != 0 and code in result.stderr, (args, result.stderr)
        assert "?" not in result.stdout  # no question was asked


def test_an_imminent_incident_after_discharge_schedules_the_thorough_assessment(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """Imminent threat overrides everything, after discharge too: the thorough assessment is
    due as the policy's imminent interval says (the next day), not at the next follow-up
    months away."""
    ref, _ = _discharged(seeded, clock, tmp_path)
    follow_up = _next_due(seeded, ref)
    danger = answers_file(seeded, tmp_path, "danger", immediate_danger="yes")
    ok(seeded, "assess", ref, "--point", "incident", "--answers", danger, "--as", "cw1")
    shown = ok(seeded, "case", "show", ref, "--as", "cw1")
    assert shown["risk_level"] == "imminent"
    assert _next_due(seeded, ref) <= clock.now() + timedelta(days=2) < follow_up


def test_an_imminent_last_follow_up_does_not_close_the_case(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """The last follow-up finding the youth in immediate danger leaves the case open, its
    thorough assessment due the next day: closing it would cancel that assessment."""
    ref, safe = _last_follow_up_finding(seeded, clock, tmp_path, immediate_danger="yes")
    shown = ok(seeded, "case", "show", ref, "--as", "cw1")
    assert shown["status"] == "discharged" and shown["risk_level"] == "imminent"
    assert _next_due(seeded, ref) <= clock.now() + timedelta(days=2)

    clock.set(_next_due(seeded, ref))  # the thorough assessment finds the youth safe again
    ok(seeded, "assess", ref, "--point", "incident", "--answers", safe, "--as", "cw1")
    assert ok(seeded, "case", "show", ref, "--as", "cw1")["status"] == "closed"


def test_a_level_raised_to_imminent_after_discharge_schedules_the_thorough_assessment(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    ref, safe = _discharged(seeded, clock, tmp_path)
    follow_up = _next_due(seeded, ref)
    ok(seeded, "assess", ref, "--point", "incident", "--answers", safe, "--as", "cw1")
    assert _next_due(seeded, ref) == follow_up
    raised = ("--level", "imminent", "--reason", given("FWwhy"), "--as", "sup")
    ok(seeded, "override", ref, *raised)
    assert _next_due(seeded, ref) <= clock.now() + timedelta(days=2)


def test_a_level_lowered_from_imminent_after_discharge_withdraws_the_thorough_assessment(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """As an open case's next assessment is re-timed to a level overridden: the thorough
    assessment an imminent level opened after discharge is cancelled once the level is lowered
    by hand, and the next due is the follow-up again (not an incident due the next day, that
    would escalate and keep the last follow-up from closing the case)."""
    ref, _ = _discharged(seeded, clock, tmp_path)
    follow_up = _next_due(seeded, ref)
    danger = answers_file(seeded, tmp_path, "danger", immediate_danger="yes")
    ok(seeded, "assess", ref, "--point", "incident", "--answers", danger, "--as", "cw1")
    assert _next_due(seeded, ref) < follow_up
    lowered = ("--level", "high", "--reason", given("FWwhy"), "--as", "sup")
    ok(seeded, "override", ref, *lowered)
    assert _next_due(seeded, ref) == follow_up


def test_a_last_follow_up_at_high_risk_keeps_the_case_followed_up(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """The last follow-up finding high risk does not close the case (as a discharge assessment
    at high risk does not discharge it): another follow-up falls due as the policy's interval
    for high risk says, and so on until one finds the risk lower; then the case closes."""
    ref, safe = _last_follow_up_finding(seeded, clock, tmp_path, trafficker_contact="threats")
    shown = ok(seeded, "case", "show", ref, "--as", "cw1")
    assert shown["status"] == "discharged" and shown["risk_level"] == "high"
    high = seeded.reference.policy.next_assessment[RiskLevel.HIGH].delta
    assert clock.now() < _next_due(seeded, ref) <= clock.now() + high + timedelta(days=1)

    clock.set(_next_due(seeded, ref))  # the extra follow-up, found lower: the case closes
    ok(seeded, "assess", ref, "--point", "follow_up", "--answers", safe, "--as", "cw1")
    assert ok(seeded, "case", "show", ref, "--as", "cw1")["status"] == "closed"


def test_an_imminent_last_follow_up_lowered_to_high_keeps_the_case_followed_up(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """A supervisor lowering an imminent last follow-up to high withdraws the thorough
    assessment; high risk then keeps one more follow-up due, as that follow-up at high would
    have: not a case left discharged with nothing due (which the sweep does not look for)."""
    ref, _ = _last_follow_up_finding(seeded, clock, tmp_path, immediate_danger="yes")
    ok(seeded, "override", ref, "--level", "high", "--reason", given("FWwhy"), "--as", "sup")
    shown = ok(seeded, "case", "show", ref, "--as", "cw1")
    assert shown["status"] == "discharged" and shown["risk_level"] == "high"
    assert shown["next_due"] is not None
    high = seeded.reference.policy.next_assessment[RiskLevel.HIGH].delta
    assert clock.now() < _next_due(seeded, ref) <= clock.now() + high + timedelta(days=1)


def test_an_imminent_last_follow_up_lowered_below_high_closes_the_case(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """Lowered by hand below high, an imminent last follow-up's thorough assessment is
    withdrawn, and the case closes as that follow-up would have at this level: not left
    discharged with nothing due and nothing to close it."""
    ref, _ = _last_follow_up_finding(seeded, clock, tmp_path, immediate_danger="yes")
    ok(seeded, "override", ref, "--level", "moderate", "--reason", given("FWwhy"), "--as", "sup")
    shown = ok(seeded, "case", "show", ref, "--as", "cw1")
    assert (shown["status"], shown["next_due"]) == ("closed", None)


def test_a_high_last_follow_up_lowered_by_hand_withdraws_the_extra_follow_up(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """The one more follow-up a high last follow-up keeps due is withdrawn once a supervisor
    lowers that level below high, and the case closes as the follow-up would have at this
    level: not an extra follow-up nobody's finding asks for any more."""
    ref, _ = _last_follow_up_finding(seeded, clock, tmp_path, trafficker_contact="threats")
    assert _next_due(seeded, ref) > clock.now()
    ok(seeded, "override", ref, "--level", "moderate", "--reason", given("FWwhy"), "--as", "sup")
    shown = ok(seeded, "case", "show", ref, "--as", "cw1")
    assert (shown["status"], shown["next_due"]) == ("closed", None)
