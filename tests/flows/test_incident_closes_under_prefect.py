"""Under Prefect, the thorough assessment an imminent last follow-up called for closes the case,
as it does in process (steps.AFTER_POINT's incident step runs in the safety_assessment flow)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flows.lifecycle import safety_assessment
from harbour.app import App
from harbour.clock import FixedClock
from harbour.demo.receivers import RouteBook
from tests.cli.helpers import answers_file, ok, referred_case


def _next_due(app: App, ref: str) -> datetime:
    return datetime.fromisoformat(ok(app, "case", "show", ref, "--as", "cw1")["next_due"])


def test_the_thorough_assessment_after_an_imminent_last_follow_up_closes_the_case(
    flow_app: App, mail: RouteBook, clock: FixedClock, tmp_path: Path
) -> None:
    ref = referred_case(flow_app, tmp_path)
    safe = answers_file(flow_app, tmp_path, "safe")
    danger = answers_file(flow_app, tmp_path, "danger", immediate_danger="yes")
    ok(flow_app, "assess", ref, "--point", "initial_contact", "--answers", safe, "--as", "cw1")
    ok(flow_app, "assess", ref, "--point", "discharge", "--answers", safe, "--as", "cw1")
    ok(flow_app, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    ok(flow_app, "discharge", ref, "--as", "cw1")
    for number in range(3):
        clock.set(_next_due(flow_app, ref))
        answers = danger if number == 2 else safe
        ok(flow_app, "assess", ref, "--point", "follow_up", "--answers", answers, "--as", "cw1")
    clock.set(_next_due(flow_app, ref))
    args = ("--point", "incident", "--answers", safe, "--as", "cw1")
    thorough = ok(flow_app, "assess", ref, *args)
    safety_assessment(thorough["assessment"])
    assert ok(flow_app, "case", "show", ref, "--as", "cw1")["status"] == "closed"
