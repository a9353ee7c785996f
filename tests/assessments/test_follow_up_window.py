"""Follow-ups spread over the months after discharge: each opens as its due-soon reminder fires.
And an interactive assessment is refused before any question is asked."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from harbour.app import App
from harbour.clock import FixedClock
from tests.cli.helpers import answers_file, ok, referred_case
from tests.support import invoke


def _discharged(app: App, clock: FixedClock, tmp_path: Path) -> tuple[str, str]:
    ref = referred_case(app, tmp_path)
    safe = answers_file(app, tmp_path, "safe")
    ok(app, "assess", ref, "--point", "initial_contact", "--answers", safe, "--as", "cw1")
    ok(app, "assess", ref, "--point", "discharge", "--answers", safe, "--as", "cw1")
    ok(app, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    ok(app, "discharge", ref, "--as", "cw1")
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
