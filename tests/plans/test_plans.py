"""Staff decisions on a draft, the snapshot documents read, diffs, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbour.app import App
from harbour.assessments.submit import submit_assessment
from harbour.domain.vocab import ItemState, PlanSection
from harbour.errors import Conflict, InvalidInput
from harbour.plans.actions import add, decide, diff, edit_step, finalize, show
from harbour.plans.store import Undecided
from tests.cli.helpers import referred_case, safest
from tests.support import given, invoke

LEAVE_OUT_REST = Undecided(leave_out_rest=True)


@pytest.fixture
def ref(seeded: App, tmp_path: Path) -> str:
    reference = referred_case(seeded, tmp_path, "PL", situation="just_left")
    answers = safest(seeded) | {"situation": "just_left", "family_at_risk": "yes"}
    submit_assessment(seeded, "cw1", reference, "initial_contact", answers)
    return reference


def test_snapshot_unseals_what_staff_may_see(seeded: App, ref: str) -> None:
    view = show(seeded, "cw1", ref)
    assert view.case_reference == ref and view.version_number == 1 and view.status == "draft"
    assert view.risk_level == view.computed_level == "moderate"
    assert view.reasons == (
        ("family_at_risk", "The youth's family members or caretakers are at risk."),
        ("in_or_just_left", "The youth is in the situation or has just left it."),
    )
    assert [t.name for t in view.threats] == ["PLtraffickername"]
    assert {c.name for c in view.contacts} == {"PLauntname", "PLfriendname"}
    assert any(r.emergency and r.call == "911" for r in view.resources)
    strategies = view.section(PlanSection.STRATEGIES)
    bag = next(i for i in strategies if i.key == "after.change_number")
    assert bag.youth_text != bag.staff_text and "traffick" not in bag.youth_text.lower()
    assert view.extra["agency_name"] == "north" and view.timezone == "America/New_York"


def test_decisions_added_items_and_finalising(seeded: App, ref: str) -> None:
    assert (
        decide(seeded, "cw1", ref, "after.vary_routine", ItemState.ACCEPTED) == "after.vary_routine"
    )
    number = [i.key for i in show(seeded, "cw1", ref).items].index("after.avoid_area") + 1
    assert decide(seeded, "cw1", ref, str(number), ItemState.REJECTED) == "after.avoid_area"
    key = add(seeded, "cw1", ref, section="steps", text="PLmystep", owner="youth", due="2026-03-09")
    view = show(seeded, "cw1", ref)
    mine = next(i for i in view.items if i.key == key)
    assert (mine.staff_text, mine.state, mine.owner, str(mine.due_on)) == (
        "PLmystep",
        "added",
        "youth",
        "2026-03-09",
    )
    with pytest.raises(Conflict, match="item_required"):
        decide(seeded, "cw1", ref, "resource:emergency", ItemState.REJECTED)
    with pytest.raises(InvalidInput, match="ITEM"):
        decide(seeded, "cw1", ref, "no.such.item", ItemState.ACCEPTED)
    with pytest.raises(InvalidInput, match="--section"):
        add(seeded, "cw1", ref, section="emergency", text="x")
    with pytest.raises(InvalidInput, match="text"):
        add(seeded, "cw1", ref, section="steps", text="bad\x00text")
    assert finalize(seeded, "cw1", ref, LEAVE_OUT_REST).version == 1
    final = show(seeded, "cw1", ref)
    assert final.status == "final" and final.finalized_at is not None
    assert all(i.state != ItemState.SUGGESTED for i in final.items)
    with pytest.raises(Conflict, match="plan_final"):
        add(seeded, "cw1", ref, section="steps", text="late")

    # The next assessment starts version 2 and keeps the decisions and the added step.
    submit_assessment(
        seeded, "cw1", ref, "planning_meeting", safest(seeded) | {"situation": "stabilizing"}
    )
    second = {i.key: i for i in show(seeded, "cw1", ref).items}
    assert second["after.vary_routine"].state == ItemState.ACCEPTED
    assert second["after.avoid_area"].state == ItemState.REJECTED
    assert second[key].staff_text == "PLmystep"
    changes = diff(seeded, "cw1", ref, 1, 2)
    assert changes.risk_before == "moderate" and changes.risk_after == "low"
    risks = next(s for s in changes.sections if s.section == PlanSection.RISKS)
    assert {i.key for i in risks.removed} == {"risk:family_at_risk", "risk:in_or_just_left"}
    json_diff = changes.as_json()
    assert json_diff["from_version"] == 1 and json_diff["to_version"] == 2
    assert diff(seeded, "cw1", ref, 2, 2).empty


def test_plan_commands_refuse_cleanly(seeded: App, ref: str) -> None:
    with pytest.raises(InvalidInput, match="--version: the case has no plan version 9"):
        show(seeded, "cw1", ref, 9)
    missing = invoke(seeded, "plan", "diff", ref, "1", "0", "--as", "cw1")
    assert missing.exit_code == 2 and "V2" in missing.stderr
    other = invoke(seeded, "plan", "show", ref, "--as", "cw3")
    assert other.exit_code == 1 and "not_found" in other.stderr
    coordinator = invoke(seeded, "plan", "accept", ref, "1", "--as", "coord")
    assert coordinator.exit_code == 1 and "not_permitted" in coordinator.stderr
    human = invoke(seeded, "plan", "show", ref, "--as", "cw1")
    assert "STRATEGIES" in human.stdout and "after.change_number" in human.stdout


def test_an_add_sent_again_with_its_key_adds_one_item(seeded: App, ref: str) -> None:
    """An add sent again with its idempotency key (a double submit, a post retried) is the item
    it added; the key with any other value (wording, owner, due date), or once the item was
    changed since (as a person's repeated add), is refused, nothing written; a malformed key is
    bad input. ``plan add --idempotency-key`` the same."""

    def added() -> list[str]:
        return [i.key for i in show(seeded, "cw1", ref).items if i.state == ItemState.ADDED]

    step = {"section": "steps", "text": "PLonce", "owner": "youth"}
    key = add(seeded, "cw1", ref, idempotency_key="add-1", **step)
    assert add(seeded, "cw1", ref, idempotency_key="add-1", **step) == key
    assert added() == [key]
    for other in ({"text": "PLother"}, {"owner": "family"}, {"due": "2026-04-01"}):
        with pytest.raises(Conflict, match="idempotency_key_reused"):
            add(seeded, "cw1", ref, idempotency_key="add-1", **step | other)
    edit_step(seeded, "cw1", ref, key, owner="family", due=None, keep_due=True)
    with pytest.raises(Conflict, match="idempotency_key_reused"):
        add(seeded, "cw1", ref, idempotency_key="add-1", **step)
    with pytest.raises(InvalidInput, match="--idempotency-key"):
        add(seeded, "cw1", ref, idempotency_key="no spaces", **step)
    assert added() == [key]

    keyed = ("--owner", "youth", "--idempotency-key", "add-2", "--as", "cw1", "--json")
    by_cli = [
        invoke(seeded, "plan", "add", ref, "--section", "steps", "--text", given("PLcli"), *keyed)
        for _ in range(2)
    ]
    assert [r.exit_code for r in by_cli] == [0, 0], by_cli[0].stderr
    assert by_cli[0].json()["item"] == by_cli[1].json()["item"]
    assert len(added()) == 2


def test_instrument_and_catalogue_commands(seeded: App) -> None:
    shown = invoke(seeded, "instrument", "show", "--json")
    ids = [q["id"] for g in shown.json()["groups"] for q in g["questions"]]
    assert "immediate_danger" in ids
    assert "immediate_danger" in invoke(seeded, "instrument", "show").stdout
    catalogue = invoke(seeded, "catalogue", "--json").json()
    assert {s["code"] for s in catalogue["strategies"]} >= {
        "leave.call_911",
        "agency.escort",
        "calm.box_breathing",
    }
    assert "1-888-373-7888" in invoke(seeded, "catalogue").stdout


def test_a_due_date_typed_as_a_number_is_refused_not_read_as_seconds(seeded: App, ref: str) -> None:
    """1799971200 is 2027-01-15 as seconds since 1970: a typing slip, not a date staff wrote."""
    step = next(i.key for i in show(seeded, "cw1", ref).section(PlanSection.STEPS))
    edited = invoke(seeded, "plan", "edit", ref, step, "--due", "1799971200", "--as", "cw1")
    assert edited.exit_code == 2 and "YYYY-MM-DD" in edited.stderr, edited.stderr
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        add(seeded, "cw1", ref, section="steps", text="Call back", owner="youth", due="1799971200")
    assert "1799971200" not in str(show(seeded, "cw1", ref))
