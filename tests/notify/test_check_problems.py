"""`harbour notify check` with several problems at once says each under its own code: a case
whose background work keeps failing was said only as the first problem found ("the routes have
problems"), its own code `events_failing` nowhere, and the exit code was the configuration's
even when nothing but that work was failing. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from harbour import events
from harbour.app import App
from harbour.clock import FixedClock
from harbour.demo.receivers import RouteBook
from harbour.orchestration import pipeline, steps
from harbour.orchestration.sweep import sweep
from tests.orchestration.helpers import refer
from tests.support import invoke


def _a_case_whose_work_keeps_failing(
    app: App, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(app: App, case_id: str) -> None:
        raise ValueError("MARKERvalue quoted by a library")

    monkeypatch.setitem(
        pipeline.STEPS_OF_EVENT, events.CASE_REFERRED, (broken, *steps.INITIAL_CONTACT)
    )
    refer(app, tmp_path)
    for _ in range(6):  # an hour and a half: told, and named by the check
        clock.advance(timedelta(minutes=15))
        sweep(app)


def test_each_problem_is_said_under_its_own_code(
    napp: App,
    seeded: App,
    routes: RouteBook,
    tmp_path: Path,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routes.chat("sup").chat("adm")
    assert invoke(napp, "notify", "check", "--as", "adm").exit_code == 0
    _a_case_whose_work_keeps_failing(napp, tmp_path, clock, monkeypatch)

    alone = invoke(napp, "notify", "check", "--as", "adm")
    assert "keeps failing" in alone.stdout
    # A failure, not the configuration: exit 1, as the README's codes say.
    assert alone.exit_code == 1, alone.stderr
    assert alone.stderr.splitlines() == [
        "error: events_failing: background work keeps failing (listed above)"
    ]

    both = invoke(seeded, "notify", "check", "--as", "adm")  # the same store, no routes
    assert "problem: no_config" in both.stdout and "keeps failing" in both.stdout
    assert both.exit_code == 2  # the routes are the configuration's
    assert both.stderr.splitlines() == [
        "error: routes_problem: the routes have problems (listed above)",
        "error: events_failing: background work keeps failing (listed above)",
    ]
    as_json = invoke(seeded, "notify", "check", "--as", "adm", "--json")
    assert as_json.exit_code == 2
    said = json.loads(as_json.stderr)
    assert said["error"] == "routes_problem"
    assert said["found"] == [
        {"error": "routes_problem", "detail": "the routes have problems (listed above)"},
        {"error": "events_failing", "detail": "background work keeps failing (listed above)"},
    ]
    assert "MARKER" not in both.stdout + both.stderr + as_json.stdout + as_json.stderr
