"""Finalising never drops a safety step silently: undecided suggestions are listed and staff
choose to accept them, leave them out by name (or all), or keep working."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harbour.app import App
from harbour.assessments.submit import submit_assessment
from harbour.domain.vocab import ItemState
from harbour.plans.actions import decide, show
from tests.cli.helpers import ok, referred_case, safest
from tests.support import invoke


@pytest.fixture
def ref(seeded: App, tmp_path: Path) -> str:
    reference = referred_case(seeded, tmp_path, "FC", situation="just_left")
    answers = safest(seeded) | {"situation": "just_left", "immediate_danger": "yes"}
    submit_assessment(seeded, "cw1", reference, "incident", answers)
    return reference


def undecided(app: App, ref: str) -> list[str]:
    return [i.key for i in show(app, "cw1", ref).items if i.state == ItemState.SUGGESTED]


def test_finalize_with_undecided_items_is_refused_with_their_list(seeded: App, ref: str) -> None:
    waiting = undecided(seeded, ref)
    assert waiting
    refused = invoke(seeded, "plan", "finalize", ref, "--as", "cw1", "--json")
    assert refused.exit_code == 2
    error = json.loads(refused.stderr)
    assert error["error"] == "undecided_items"
    assert [p["field"] for p in error["problems"] if p["reason"] == "undecided"] == waiting
    plain = invoke(seeded, "plan", "finalize", ref, "--as", "cw1")
    assert plain.exit_code == 2 and "--accept-rest" in plain.stderr and waiting[0] in plain.stderr
    assert show(seeded, "cw1", ref).status == "draft"  # nothing changed
    assert undecided(seeded, ref) == waiting


def test_accept_rest_keeps_every_suggestion(seeded: App, ref: str) -> None:
    waiting = undecided(seeded, ref)
    done = ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")
    assert (done["accepted"], done["left_out"]) == (waiting, [])
    final = {i.key: i.state for i in show(seeded, "cw1", ref).items}
    assert all(final[key] == ItemState.ACCEPTED for key in waiting)


def test_leave_out_named_items_then_the_rest_must_still_be_chosen(seeded: App, ref: str) -> None:
    first, *rest = undecided(seeded, ref)
    refused = invoke(seeded, "plan", "finalize", ref, "--leave-out", first, "--as", "cw1")
    assert refused.exit_code == 2 and rest[0] in refused.stderr
    decide(seeded, "cw1", ref, rest[0], ItemState.REJECTED)
    done = ok(seeded, "plan", "finalize", ref, "--leave-out", first, "--accept-rest", "--as", "cw1")
    assert done["left_out"] == [first] and done["accepted"] == rest[1:]
    assert first not in {i.key for i in show(seeded, "cw1", ref).items}


def test_items_that_cannot_be_left_out_are_named_by_their_keys(seeded: App, ref: str) -> None:
    """The command line's words: each item ticked that stays (the emergency number, an item
    already decided) by the key the command was given."""
    emergency, decided = "resource:emergency", undecided(seeded, ref)[0]
    decide(seeded, "cw1", ref, decided, ItemState.ACCEPTED)
    ticked = ("--leave-out", emergency, "--leave-out", decided, "--accept-rest")
    refused = invoke(seeded, "plan", "finalize", ref, *ticked, "--as", "cw1", "--json")
    assert refused.exit_code == 2, refused.stdout
    assert json.loads(refused.stderr)["problems"] == [
        {
            "field": "--leave-out",
            "reason": f"{emergency}: the emergency protocol cannot be left out",
        },
        {
            "field": "--leave-out",
            "reason": f"{decided}: already accepted; only undecided items can be left out",
        },
    ]


def test_leave_out_rest_and_its_wording(seeded: App, ref: str) -> None:
    waiting = undecided(seeded, ref)
    result = invoke(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    assert result.exit_code == 0, result.stderr
    assert f"Left out {len(waiting)}" in result.stdout and waiting[0] in result.stdout


def test_the_emergency_protocol_cannot_be_left_out(seeded: App, ref: str) -> None:
    view = show(seeded, "cw1", ref)
    emergency = next(i.key for i in view.items if i.section == "emergency")
    for key in (emergency, "resource:emergency"):
        refused = invoke(
            seeded, "plan", "finalize", ref, "--leave-out", key, "--accept-rest", "--as", "cw1"
        )
        assert refused.exit_code == 2 and "cannot be left out" in refused.stderr
    assert show(seeded, "cw1", ref).status == "draft"
    both = invoke(
        seeded, "plan", "finalize", ref, "--accept-rest", "--leave-out-rest", "--as", "cw1"
    )
    assert both.exit_code == 2
