"""`harbour demo`, inline (no Prefect) over six simulated weeks: what it writes, what it counts,
that no delivered message identifies a youth, and that the same seed gives the same run."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harbour.cli import cli
from harbour.cli.base import run
from harbour.demo import cast
from harbour.demo.failure import DemoFailure
from harbour.demo.inbox import Delivered
from harbour.demo.leaks import Leak, find_in_files, find_leaks
from harbour.demo.run import Options, run_demo
from harbour.errors import ConfigError

WEEKS = 6  # the imminent alert, the forgotten assessment's escalation, a discharge, a follow-up


def _options(folder: Path, **changed: Any) -> Options:
    base = Options(folder / "home", folder / "out", orchestration="inline", days=WEEKS * 7)
    return Options(**(base.__dict__ | changed))


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[str]]:
    folder = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    summary = run_demo(_options(folder), lines.append)
    return folder, summary, lines


def test_output_holds_every_plan_document_and_every_message(demo: Any) -> None:
    folder, summary, _ = demo
    out = folder / "out"
    for case in summary["cases"]["list"]:
        (home,) = (out / "plans").glob(f"{case['case']}-{case['youth']}")
        for version in range(1, case["plan_versions"] + 1):
            names = {p.name for p in (home / f"v{version}").iterdir()}
            assert names == {
                f"{a}.{e}" for a in ("staff", "youth", "family") for e in ("html", "txt")
            }
    diffs = list((out / "plans").glob("*/diffs/*-planning_meeting.txt"))
    assert diffs and all(p.with_suffix(".html").exists() for p in diffs)
    messages = [p for p in (out / "messages").iterdir() if p.name != "index.tsv"]
    assert len(messages) == summary["leak_check"]["messages"] > 0
    assert {p.name.split("-")[1] for p in messages} == {"email", "chat"}
    assert json.loads((out / "summary.json").read_text()) == summary
    assert "Leak check" in (out / "summary.txt").read_text()
    assert (out / "progress.log").read_text().count("\n") > 20


def test_staff_documents_carry_what_the_messages_must_not(demo: Any) -> None:
    """The leak check looks for values that Harbour really holds (the staff plan shows them)."""
    folder, summary, _ = demo
    alpha = next(c for c in summary["cases"]["list"] if c["youth"] == "alpha")
    (staff,) = (folder / "out" / "plans").glob(f"{alpha['case']}-alpha/v2/staff.txt")
    assert "Walk to Makebelieve High" in staff.read_text()
    assert summary["leak_check"] == {
        "messages": summary["leak_check"]["messages"],
        "values": 71,
        "leaks": 0,
    }


def test_the_story_happened(demo: Any) -> None:
    _, summary, lines = demo
    alerts = summary["alerts"]
    assert alerts["opened"] == {"imminent_threat": 1, "overdue_escalation": 1, "visit_overdue": 1}
    # Imminent: supervisors, then admins; the late visit: its buddy, then the supervisors.
    assert alerts["escalation_steps"] == {"imminent_threat": 2, "visit_overdue": 1}
    assert alerts["acknowledged"] == {
        "imminent_threat": 1,
        "overdue_escalation": 1,
        "visit_overdue": 1,
    }
    # Two home visits: one back on time (no alert), one not back, its alert climbing until taken.
    visits = [line.split("] ", 1)[1] for line in lines if "] visit: " in line]
    assert visits == [
        "visit: rowan-cw out on a home visit, back by 12:00, check-in buddy sam-sup",
        "visit: rowan-cw checked in (on time)",
        "visit: wren-cw out on a home visit, back by 15:00, check-in buddy rowan-cw",
        "visit: sam-sup acknowledged the visit_overdue alert of wren-cw 25 min after the "
        "deadline (the ladder had climbed 1 tier)",
        "visit: wren-cw checked in (50 min late); everyone paged told; delivered 1 chat post, "
        "2 emails to rowan-cw, sam-sup",  # back safe: nothing more to do
    ]
    assert any(
        "sweep: 1 visit check-in overdue; delivered 1 email to rowan-cw" in line for line in lines
    )
    reminders = summary["reminders"]
    assert {"due_soon", "due_today", "overdue", "escalation"} <= set(reminders)
    delivered = summary["notifications"]["delivered_by_channel_and_kind"]
    assert delivered["chat"]["imminent_threat"] == 2  # on-call and the supervisor, at once
    # The sweep's overdue escalation reaches the supervisor as its escalation digest.
    assert delivered["email"]["escalation_digest"] == 1
    assert "overdue_escalation" not in delivered["email"]
    assert delivered["email"]["visit_overdue"] == 2  # the buddy, then the supervisor
    assert delivered["email"]["visit_back"] == 2  # and each of them hears: back safe
    assert {"reminder_digest", "case_assigned", "risk_raised"} <= set(delivered["email"])
    charlie = next(c for c in summary["cases"]["list"] if c["youth"] == "charlie")
    assert charlie["status"] == "discharged"
    points = summary["assessments"]["completed_by_point"]
    assert points["discharge"] == 1 and points["follow_up"] == 1 and points["initial_contact"] == 5
    assert any("urgent lane: sent at once" in line for line in lines)
    assert summary["notifications"]["received_by_local_servers"] == {
        channel: sum(kinds.values()) for channel, kinds in delivered.items()
    }


def test_the_stored_documents_are_what_plan_render_gives(demo: Any) -> None:
    """The files in the output are the sealed copies; `plan render` gives the same bytes, also
    for versions whose steps were done after they were finalised. (Before the next test, which
    runs the demo again over the same folders.)"""
    from harbour.app import App
    from harbour.clock import SystemClock
    from harbour.demo.cast import SUPERVISOR
    from harbour.demo.run import _settings
    from tests.support import invoke

    folder, summary, _ = demo
    options = _options(folder)
    app = App(_settings(options, options.home / "apprise.yaml"), SystemClock())
    try:
        compared = 0
        for case in summary["cases"]["list"]:
            (home,) = (options.output / "plans").glob(f"{case['case']}-{case['youth']}")
            for version in range(1, case["plan_versions"] + 1):
                for audience in ("staff", "youth", "family"):
                    args = ("--audience", audience, "--format", "text", "--version", str(version))
                    result = invoke(app, "plan", "render", case["case"], *args, "--as", SUPERVISOR)
                    assert result.exit_code == 0, result.stderr
                    stored = (home / f"v{version}" / f"{audience}.txt").read_text()
                    assert result.stdout.rstrip("\n") == stored.rstrip("\n"), (case, version)
                    compared += 1
        assert compared > 10
    finally:
        app.dispose()


def test_same_seed_same_run_and_reset_starts_afresh(demo: Any) -> None:
    folder, summary, lines = demo
    plans, messages = _files(folder / "out" / "plans"), _files(folder / "out" / "messages")
    again: list[str] = []
    assert run_demo(_options(folder, reset=True), again.append) == summary
    assert _files(folder / "out" / "plans") == plans
    assert _files(folder / "out" / "messages") == messages  # alert ids and order included
    assert (folder / "out" / "summary.json").read_text() == json.dumps(summary, indent=2) + "\n"
    assert again == lines
    other = run_demo(_options(folder, reset=True, seed=7, days=0), lambda line: None)
    refs = {c["case"] for c in summary["cases"]["list"]}
    assert refs.isdisjoint(c["case"] for c in other["cases"]["list"])


def test_existing_folders_need_reset_and_reset_spares_other_folders(tmp_path: Path) -> None:
    run_demo(_options(tmp_path, days=0), lambda line: None)
    with pytest.raises(ConfigError, match="demo_exists"):
        run_demo(_options(tmp_path, days=0), lambda line: None)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("not the demo's")
    with pytest.raises(ConfigError, match="not_a_demo_folder"):
        run_demo(_options(tmp_path, output=mine, reset=True, days=0), lambda line: None)
    assert (mine / "notes.txt").exists()


def test_a_leak_fails_the_demo() -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    clean = Delivered(1, "email", "sam-sup", at, "Urgent alert", "case HB-ABCD-EFGH")
    by_name = Delivered(2, "chat", "oncall", at, "Alert", '{"message": "about alfie demo"}')
    by_word = Delivered(3, "email", "wren-cw", at, "Due", "near   Xandrel's place")
    by_birth = Delivered(4, "email", "wren-cw", at, "Due", "born 06/15/2009")
    found = find_leaks([clean, by_name, by_word, by_birth], cast.YOUTH)
    assert {(leak.message, leak.youth) for leak in found} == {
        (2, "alpha"),
        (3, "alpha"),
        (4, "alpha"),
    }
    assert all("alfie" not in leak.field.lower() for leak in found)


def test_the_leak_check_reads_files_too(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "prefect.db").write_bytes(b"\x00\x01run 9f3a...\x00")
    assert find_in_files(tmp_path, cast.YOUTH) == []
    (tmp_path / "server.log").write_text("parameters: {'name': 'Demo Youth Bravo'}")
    assert ("server.log", "bravo", "referral.youth.name") in find_in_files(tmp_path, cast.YOUTH)


def test_cli_runs_the_demo_and_fails_loudly_on_a_leak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["demo", "--orchestration", "inline", "--weeks", "0", "--home", str(tmp_path / "h")]
    args += ["--output", str(tmp_path / "o")]
    code, out, err = _cli(args)
    assert code == 0, err
    assert "Leak check" in out and "everything is in" in out
    monkeypatch.setattr("harbour.demo.run.leaks.find_leaks", lambda *a: [Leak(1, "alpha", "x")])
    code, out, err = _cli([*args, "--reset"])
    assert code == 1 and "leak" in err
    code, _, err = _cli([*args, "--reset", "--orchestration", "airflow"])
    assert code == 2


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(cli, args)
    return code, out.getvalue(), err.getvalue()


def test_demo_failure_is_a_harbour_error() -> None:
    assert DemoFailure("leak", "x").exit_code == 1


def test_the_demo_starts_the_flow_the_deployments_trigger() -> None:
    """The Prefect orchestrator calls, per assessment point, the flow whose deployment trigger
    matches the flow label that point's events carry in deployments/prefect.yaml."""
    import yaml

    from harbour import events
    from harbour.domain.vocab import AssessmentPoint
    from harbour.orchestration.pipeline import flow_of

    prefect_file = Path(__file__).resolve().parents[2] / "deployments" / "prefect.yaml"
    specs = yaml.safe_load(prefect_file.read_text())["deployments"]
    triggered: dict[str, str] = {}
    for spec in specs:
        for trigger in spec.get("triggers", []):
            if label := trigger.get("match", {}).get("harbour.flow"):
                triggered[label] = spec["entrypoint"].split(":")[1]
    for point in AssessmentPoint:
        flow = flow_of(events.ASSESSMENT_SUBMITTED, point)
        assert flow is not None and triggered[flow] == flow


def test_serve_enrols_the_demo_staff_so_a_newcomer_can_sign_in(tmp_path: Path) -> None:
    from datetime import timedelta

    from harbour.clock import FixedClock
    from harbour.demo.accounts import console_app, enrol_demo_staff
    from tests.web.helpers import client, sign_in

    options = _options(tmp_path, days=0)
    run_demo(options, lambda line: None)
    clock = FixedClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    app = console_app(options, clock)
    try:
        accounts = enrol_demo_staff(app)
        assert {a.handle for a in accounts} >= {cast.SUPERVISOR, cast.ADMIN}
        clock.advance(timedelta(seconds=30))
        sup = next(a for a in accounts if a.handle == cast.SUPERVISOR)
        web = client(app, "http://localhost:8080")
        signed = sign_in(app, web, sup.handle, sup.totp_secret, password=sup.password)
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        assert web.get("/").status_code == 200
    finally:
        app.dispose()
