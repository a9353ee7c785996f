"""`harbour sweep` and `harbour deliver`: in-process, no Prefect, bad input named."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from harbour.app import App
from tests.support import invoke


def test_sweep_reports_counts(seeded: App) -> None:
    result = invoke(seeded, "sweep", "--json", "--at", "2026-03-02T15:00:00+00:00")
    assert result.exit_code == 0, result.stderr
    assert set(result.json()) >= {"opened", "reminders", "escalated", "events", "delivered"}


def test_sweep_refuses_a_naive_time_naming_the_option(seeded: App) -> None:
    result = invoke(seeded, "sweep", "--at", "2026-03-02T15:00:00")
    assert result.exit_code == 2 and "--at" in result.stderr


def test_deliver_refuses_an_unknown_lane(seeded: App) -> None:
    result = invoke(seeded, "deliver", "--lane", "fast")
    assert result.exit_code == 2 and "--lane" in result.stderr


def test_operator_commands_with_as_need_a_manager(seeded: App) -> None:
    assert invoke(seeded, "deliver", "--as", "cw1").exit_code == 1
    assert invoke(seeded, "deliver", "--as", "sup", "--json").exit_code == 0


def test_serve_needs_a_prefect_server(seeded: App, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = invoke(seeded, "serve")
    assert result.exit_code == 2 and "PREFECT_API_URL" in result.stderr


def test_the_cli_never_imports_prefect(tmp_path: Path) -> None:
    """Refer, list, sweep and deliver in a fresh interpreter: `prefect` is never loaded, and with
    nothing to render or send neither are Jinja nor Apprise (they cost a command's start)."""
    script = textwrap.dedent(
        """
        import json, sys
        from harbour.cli import cli
        from harbour.cli.base import run
        from tests.support import referral
        open("r.json", "w").write(json.dumps(referral("X")))
        assert run(cli, ["init", "--agency", "north", "--admin", "adm"]) == 0
        assert run(cli, ["staff", "add", "coord", "--agency", "north", "--role", "coordinator",
                         "--as", "adm"]) == 0
        assert run(cli, ["refer", "--file", "r.json", "--as", "coord"]) == 0
        assert run(cli, ["cases", "--as", "coord"]) == 0
        assert run(cli, ["sweep"]) == 0 and run(cli, ["deliver"]) == 0
        for library in ("prefect", "jinja2", "apprise"):
            assert library not in sys.modules, f"{library} was imported"
        """
    )
    env = {**os.environ, "HARBOUR_HOME": str(tmp_path), "PYTHONPATH": str(Path.cwd())}
    env.pop("HARBOUR_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
