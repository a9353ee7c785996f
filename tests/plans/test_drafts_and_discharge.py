"""A draft a newer assessment overtakes is superseded (and says so); discharge waits for a final
plan from the discharge assessment; `plan versions` lists every version."""

from __future__ import annotations

from pathlib import Path

from harbour.app import App
from harbour.plans.actions import show
from tests.cli.helpers import answers_file, ok, referred_case
from tests.support import invoke


def test_a_draft_overtaken_by_a_newer_assessment_is_superseded(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path, "DS")
    answers = answers_file(seeded, tmp_path, "calm")
    ok(seeded, "assess", ref, "--point", "initial_contact", "--answers", answers, "--as", "cw1")
    second = invoke(
        seeded, "assess", ref, "--point", "incident", "--answers", answers, "--as", "cw1"
    )
    assert second.exit_code == 0, second.stderr
    assert "Plan version 1 was still a draft: superseded" in second.stdout
    first = show(seeded, "cw1", ref, 1)
    assert first.status == "superseded" and first.items  # still readable
    rendered = invoke(
        seeded, "plan", "render", ref, "--audience", "staff", "--format", "text",
        "--version", "1", "--as", "cw1",
    )  # fmt: skip
    assert rendered.exit_code == 0 and "Superseded" in rendered.stdout
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    third = ok(seeded, "assess", ref, "--point", "incident", "--answers", answers, "--as", "cw1")
    assert third["superseded_version"] is None  # version 2 was final
    listed = ok(seeded, "plan", "versions", ref, "--as", "cw1")
    assert [(v["number"], v["point"], v["status"], v["by"]) for v in listed] == [
        (1, "initial_contact", "superseded", "cw1"),
        (2, "incident", "final", "cw1"),
        (3, "incident", "draft", "cw1"),
    ]
    table = invoke(seeded, "plan", "versions", ref, "--as", "cw1")
    assert table.stdout.splitlines()[0].split() == [
        "version", "point", "status", "risk", "when", "by"
    ]  # fmt: skip
    assert len(table.stdout.splitlines()) == 4


def test_discharge_waits_for_a_final_plan_from_the_discharge_assessment(
    seeded: App, tmp_path: Path
) -> None:
    ref = referred_case(seeded, tmp_path, "DD")
    answers = answers_file(seeded, tmp_path, "calm")
    ok(seeded, "assess", ref, "--point", "initial_contact", "--answers", answers, "--as", "cw1")
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    ok(seeded, "assess", ref, "--point", "discharge", "--answers", answers, "--as", "cw1")
    assert ok(seeded, "case", "show", ref, "--as", "cw1")["status"] == "discharge_pending"
    refused = invoke(seeded, "discharge", ref, "--as", "cw1")
    assert refused.exit_code == 1
    assert "discharge_plan_not_final" in refused.stderr and "plan finalize" in refused.stderr
    ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")
    # a low-risk discharge goes ahead once its plan is final (the finalise's follow-through)
    assert ok(seeded, "case", "show", ref, "--as", "cw1")["status"] == "discharged"
