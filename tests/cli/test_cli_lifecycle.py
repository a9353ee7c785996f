"""One case's whole lifecycle through the CLI, as a user would type it, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from harbour.app import App
from harbour.clock import FixedClock
from tests.cli.helpers import answers_file, ok, referred_case
from tests.support import given, invoke


def test_whole_lifecycle(seeded: App, clock: FixedClock, tmp_path: Path) -> None:
    app = seeded
    ref = referred_case(app, tmp_path)
    assert ok(app, "case", "show", ref, "--as", "cw1")["status"] == "referred"

    # Initial contact: the youth is in immediate danger.
    danger = answers_file(
        app, tmp_path, "danger", immediate_danger="yes", situation="considering_leaving"
    )
    first = ok(app, "assess", ref, "--point", "initial_contact", "--answers", danger, "--as", "cw1")
    assert first["risk_level"] == "imminent"
    assert first["reasons"][0]["code"] == "immediate_danger"
    assert "emergency.shelter" in first["emergency_protocol"]
    assert set(first) >= {"assessment", "risk_level", "reasons"}
    ok(app, "plan", "done", ref, "emergency.shelter", "--as", "cw1")
    plan1 = ok(app, "plan", "show", ref, "--as", "cw1")
    emergency = {i["key"]: i for i in plan1["items"] if i["section"] == "emergency"}
    assert (
        emergency["emergency.shelter"]["done_at"]
        and not emergency["emergency.law_enforcement"]["done_at"]
    )
    assert ok(app, "case", "show", ref, "--as", "cw1")["status"] == "active"

    # Stabilized: the thorough assessment the next day, at a planning meeting.
    clock.advance(timedelta(days=1))
    calmer = answers_file(app, tmp_path, "calmer", trafficker_threat="yes", situation="just_left")
    second = ok(
        app, "assess", ref, "--point", "planning_meeting", "--answers", calmer, "--as", "cw1"
    )
    assert second["risk_level"] == "moderate" and second["plan_version"] == 2
    ok(app, "plan", "accept", ref, "after.change_number", "--as", "cw1")
    ok(app, "plan", "reject", ref, "after.avoid_area", "--as", "cw1")
    added = ok(
        app,
        "plan",
        "add",
        ref,
        "--section",
        "steps",
        "--text",
        given("MKstep"),
        "--owner",
        "youth",
        "--as",
        "cw1",
    )
    assert added["item"].startswith("added:")
    assert ok(app, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")["version"] == 2
    refused = invoke(app, "plan", "accept", ref, "after.vary_routine", "--as", "cw1")
    assert refused.exit_code == 1 and "plan_final" in refused.stderr

    diff = ok(app, "plan", "diff", ref, "1", "2", "--as", "cw1")
    assert diff["risk_level"] == {"before": "imminent", "after": "moderate"}
    sections = {s["section"]: s for s in diff["sections"]}
    assert {i["key"] for i in sections["emergency"]["removed"]} >= {"emergency.shelter"}
    assert "after.change_number" in {i["key"] for i in sections["strategies"]["added"]}
    assert "leave.go_bag" in {i["key"] for i in sections["strategies"]["removed"]}

    # A supervisor raises the level by hand; both levels are kept.
    raised = ok(
        app, "override", ref, "--level", "high", "--reason", given("MKreason"), "--as", "sup"
    )
    assert (raised["risk_level"], raised["computed_level"]) == ("high", "moderate")
    denied = invoke(app, "override", ref, "--level", "low", "--reason", given("x"), "--as", "cw1")
    assert denied.exit_code == 1

    upcoming = ok(app, "schedule", ref, "--as", "cw1")
    assert upcoming and upcoming[0]["threshold"] in (None, "due_soon", "due_today")

    # Discharge needs a discharge assessment first.
    early = invoke(app, "discharge", ref, "--as", "cw1")
    assert early.exit_code == 1 and "discharge_assessment_required" in early.stderr
    clock.advance(timedelta(days=7))
    safe = answers_file(app, tmp_path, "safe")
    ok(app, "assess", ref, "--point", "discharge", "--answers", safe, "--as", "cw1")
    assert ok(app, "case", "show", ref, "--as", "cw1")["status"] in (
        "discharge_pending",
        "discharged",
    )
    ok(app, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")  # the plan to leave with
    discharged = ok(app, "discharge", ref, "--as", "cw1")
    assert discharged["status"] == "discharged" and discharged["follow_ups_remaining"] == 3

    # Three follow-ups, each when due; then the case closes.
    for number in range(3):
        due = ok(app, "case", "show", ref, "--as", "cw1")["next_due"]
        assert due is not None, number
        clock.set(_parse(due))
        ok(app, "assess", ref, "--point", "follow_up", "--answers", safe, "--as", "cw1")
    closed = ok(app, "close", ref, "--as", "sup")
    assert closed["status"] == "closed" and closed["next_due"] is None
    assert (
        invoke(
            app, "assess", ref, "--point", "incident", "--answers", safe, "--as", "cw1"
        ).exit_code
        == 1
    )
    assert ok(app, "reopen", ref, "--as", "sup")["status"] == "reopened"


def _parse(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)
