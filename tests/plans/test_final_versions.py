"""A final plan version keeps the threat sources and contacts it was finalised with: editing the
case's people changes the next version, never a final one."""

from __future__ import annotations

from pathlib import Path

from harbour.app import App
from tests.cli.helpers import answers_file, ok, referred_case
from tests.support import given, invoke


def _render(app: App, ref: str, audience: str, version: str) -> str:
    result = invoke(
        app, "plan", "render", ref, "--audience", audience, "--format", "text",
        "--version", version, "--as", "cw1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_editing_people_after_finalize_leaves_the_final_version_as_it_was(
    seeded: App, tmp_path: Path
) -> None:
    ref = referred_case(seeded, tmp_path)
    answers = answers_file(seeded, tmp_path, "a", trafficker_threat="yes")
    ok(seeded, "assess", ref, "--point", "initial_contact", "--answers", answers, "--as", "cw1")
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    before = {audience: _render(seeded, ref, audience, "1") for audience in ("staff", "youth")}
    shown = ok(seeded, "plan", "show", ref, "--version", "1", "--as", "cw1")

    people = ok(seeded, "case", "show", ref, "--as", "cw1")
    contact = next(p["person"] for p in people["people"] if p.get("approved_by_youth"))
    threat = people["threats"][0]["threat"]
    ok(
        seeded,
        "case",
        "threat",
        "edit",
        ref,
        str(threat),
        "--name",
        given("Renamed"),
        "--as",
        "cw1",
    )
    ok(
        seeded,
        "case",
        "person",
        "edit",
        ref,
        str(contact),
        "--phone",
        given("555-0199"),
        "--as",
        "cw1",
    )

    assert {a: _render(seeded, ref, a, "1") for a in before} == before
    assert ok(seeded, "plan", "show", ref, "--version", "1", "--as", "cw1") == shown

    ok(seeded, "assess", ref, "--point", "planning_meeting", "--answers", answers, "--as", "cw1")
    staff = _render(seeded, ref, "staff", "2")  # the next version has the edits
    assert "Renamed" in staff and "555-0199" in staff
