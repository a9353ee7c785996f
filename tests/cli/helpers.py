"""Answer sets, a referred case and a command that must succeed, through the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harbour.app import App
from tests.support import invoke, recorded_unpaged, referral


def safest(app: App) -> dict[str, Any]:
    """Every structured question answered on its safest side."""
    questions = app.reference.instrument.questions.values()
    return {q.id: q.answers()[0] for q in questions if q.type != "text"}


def answers_file(app: App, tmp_path: Path, name: str, **changed: Any) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(safest(app) | changed))
    return str(path)


def referred_case(app: App, tmp_path: Path, marker: str = "LC", **extra: Any) -> str:
    path = tmp_path / f"referral-{marker}.json"
    path.write_text(json.dumps(referral(marker, **extra)))
    result = invoke(app, "refer", "--file", str(path), "--as", "coord", "--json")
    assert result.exit_code == 0, result.stderr
    ref: str = result.json()["case"]
    assigned = invoke(app, "assign", ref, "cw1", "--as", "coord")
    assert assigned.exit_code == 0, assigned.stderr
    return ref


def ok(app: App, *args: str) -> Any:
    """Run a command that must succeed; its JSON output. An assessment whose imminent alert
    reached nobody (a store without routes) is recorded, and exits 3 saying so: accepted here,
    where paging is not what is tested (tests/notify/test_unrouted_warning.py tests it)."""
    result = invoke(app, *args, "--json")
    assert result.exit_code == 0 or recorded_unpaged(result), (args, result.stderr)
    return result.json()


def assess_just_left(app: App, ref: str, point: str = "planning_meeting") -> None:
    """An assessment of a youth who has just left, whose family is at risk too."""
    from harbour.assessments.submit import submit_assessment

    answers = safest(app) | {"situation": "just_left", "family_at_risk": "yes"}
    submit_assessment(app, "cw1", ref, point, answers)
