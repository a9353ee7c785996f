"""What carries from one plan version to the next: staff decisions on every kind of item,
suggestions nobody decided on, the contacts the youth approved; and how `plan show` numbers items."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from harbour.app import App, UnitOfWork
from harbour.assessments.submit import submit_assessment
from harbour.clock import FixedClock
from harbour.db.models import Case, Person
from harbour.domain.plan_view import PlanSnapshot
from harbour.domain.vocab import ItemState, PlanSection
from harbour.errors import InvalidInput
from harbour.plans.actions import add, decide, diff, finalize, show
from harbour.plans.store import Undecided
from tests.cli.helpers import assess_just_left as assess
from tests.cli.helpers import ok, referred_case, safest
from tests.support import given, invoke, referral

TODAY = date(2026, 3, 2)  # the seeded clock's day in New York
CALM = {"calm.five_senses", "calm.box_breathing", "calm.grounding_object", "calm.safe_person"}

LEAVE_OUT_REST = Undecided(leave_out_rest=True)


@pytest.fixture
def ref(seeded: App, tmp_path: Path) -> str:
    reference = referred_case(seeded, tmp_path, "PV", situation="just_left")
    assess(seeded, reference, "initial_contact")
    return reference


def contact_key(view: PlanSnapshot, name: str) -> str:
    return next(
        i.key
        for i in view.section(PlanSection.CONTACTS, include_rejected=True)
        if i.staff_text == name
    )


def states(app: App, ref: str, version: int | None = None) -> dict[str, ItemState]:
    return {i.key: i.state for i in show(app, "cw1", ref, version).items}


def test_a_rejected_contact_or_resource_stays_rejected(seeded: App, ref: str) -> None:
    friend = contact_key(show(seeded, "cw1", ref), "PVfriendname")
    rejected = invoke(seeded, "plan", "reject", ref, friend, "--as", "cw1")
    assert rejected.exit_code == 0, rejected.stderr
    decide(seeded, "cw1", ref, "resource:runaway_safeline", ItemState.REJECTED)
    assess(seeded, ref)  # a new assessment, without finalising version 1

    second = show(seeded, "cw1", ref)
    assert second.version_number == 2
    assert states(seeded, ref)[friend] == ItemState.REJECTED
    assert states(seeded, ref)["resource:runaway_safeline"] == ItemState.REJECTED
    assert [c.name for c in second.contacts] == ["PVauntname"]
    assert "runaway_safeline" not in {r.code for r in second.resources}
    changes = ok(seeded, "plan", "diff", ref, "1", "2", "--as", "cw1")
    touched = {s["section"] for s in changes["sections"]}
    assert not touched & {"contacts", "resources"}, changes

    # Still so after a finalised version in between.
    finalize(seeded, "cw1", ref, LEAVE_OUT_REST)
    assess(seeded, ref)
    assert states(seeded, ref)[friend] == ItemState.REJECTED
    assert states(seeded, ref)["resource:runaway_safeline"] == ItemState.REJECTED


def test_a_contact_the_youth_no_longer_approves_never_reappears(seeded: App, ref: str) -> None:
    friend = contact_key(show(seeded, "cw1", ref), "PVfriendname")
    decide(seeded, "cw1", ref, friend, ItemState.ACCEPTED)

    def withdraw(uow: UnitOfWork) -> None:
        person = uow.session.get(Person, friend.removeprefix("contact:"))
        assert person is not None
        person.approved_by_youth = False

    seeded.run(withdraw)
    assess(seeded, ref)
    second = show(seeded, "cw1", ref)
    assert friend not in {i.key for i in second.items}
    assert "PVfriendname" not in {c.name for c in second.contacts}
    contacts = next(s for s in diff(seeded, "cw1", ref, 1, 2).sections if s.section == "contacts")
    assert [i.key for i in contacts.removed] == [friend]


def test_undecided_suggestions_are_left_out_of_a_final_version_and_offered_again(
    seeded: App, ref: str
) -> None:
    decide(seeded, "cw1", ref, "after.vary_routine", ItemState.ACCEPTED)
    decide(seeded, "cw1", ref, "after.avoid_area", ItemState.REJECTED)
    draft = states(seeded, ref)
    undecided = {k for k, s in draft.items() if s == ItemState.SUGGESTED}
    assert undecided >= CALM

    finalize(seeded, "cw1", ref, LEAVE_OUT_REST)
    final = states(seeded, ref, 1)
    assert not undecided & final.keys()  # left out, not rejected
    assert [k for k, s in final.items() if s == ItemState.REJECTED] == ["after.avoid_area"]

    assess(seeded, ref)
    second = states(seeded, ref, 2)
    assert {k: second[k] for k in undecided} == dict.fromkeys(undecided, ItemState.SUGGESTED)
    assert second["after.vary_routine"] == ItemState.ACCEPTED
    assert second["after.avoid_area"] == ItemState.REJECTED  # an explicit rejection carries

    changes = diff(seeded, "cw1", ref, 1, 2)
    added = {i.key: i.state for s in changes.sections for i in s.added}
    assert {k: added[k] for k in undecided} == dict.fromkeys(undecided, ItemState.SUGGESTED)
    assert not [c for s in changes.sections for c in s.changed if c.after.key in undecided]
    text = invoke(seeded, "plan", "diff", ref, "1", "2", "--as", "cw1").stdout
    assert "calm.box_breathing" in text and "rejected" not in text


def test_family_are_contacts_only_when_non_offending_and_approved_by_the_youth(
    seeded: App, tmp_path: Path
) -> None:
    family = [
        {"name": "FAsafeunasked", "relationship": "aunt", "non_offending": True},
        {"name": "FAaskedunsafe", "relationship": "uncle", "approved_by_youth": True},
        {
            "name": "FAsafeasked",
            "relationship": "grandmother",
            "caretaker": True,
            "non_offending": True,
            "approved_by_youth": True,
        },
    ]
    path = tmp_path / "family.json"
    path.write_text(json.dumps(referral("FA", family=family, trusted_contacts=[])))
    made = ok(seeded, "refer", "--file", str(path), "--as", "coord")
    ref = made["case"]
    assert invoke(seeded, "assign", ref, "cw1", "--as", "coord").exit_code == 0
    assess(seeded, ref, "initial_contact")
    assert [c.name for c in show(seeded, "cw1", ref).contacts] == ["FAsafeasked"]

    def stored(uow: UnitOfWork) -> list[tuple[bool, bool]]:
        rows = uow.session.scalars(
            select(Person).where(Person.kind != "youth").order_by(Person.position)
        )
        return [(p.non_offending, p.approved_by_youth) for p in rows if p.kind != "youth"]

    assert seeded.run(stored)[-3:] == [(True, False), (False, True), (True, True)]


LINE = re.compile(r"^\s*(\d+)\. .*\[([^;\]]+);")


def _numbered(app: App, ref: str) -> tuple[str, dict[str, int]]:
    """``plan show``'s text, and the number it gives each item's key, in the listing's order."""
    shown = invoke(app, "plan", "show", ref, "--as", "cw1").stdout
    found = (m.groups() for line in shown.splitlines() if (m := LINE.match(line)))
    return shown, {key: int(number) for number, key in found}


def test_plan_show_lists_each_section_once_and_numbers_as_accept_reads(
    seeded: App, ref: str
) -> None:
    # A draft as composed is numbered top to bottom; each number then stays with its item
    # while the draft is worked on: an item added takes the number after the newest, and
    # withdrawing one moves no other's, so a colleague's changes never renumber what you read.
    composed = _numbered(seeded, ref)[1]
    assert list(composed.values()) == list(range(1, len(composed) + 1))

    added = add(seeded, "cw1", ref, section="strategies", text="PVmine")
    step_added = add(seeded, "cw1", ref, section="steps", text="PVstep", owner="youth")
    shown, numbers = _numbered(seeded, ref)
    headers = [line for line in shown.splitlines() if line.isupper()]
    assert headers == sorted(set(headers), key=headers.index)
    assert headers == [s.value.upper() for s in PlanSection if s.value.upper() in headers]
    strategies = shown.split("\nSTRATEGIES\n")[1].split("\nSTEPS\n")[0]
    assert added in strategies  # with its section, not after the resources
    assert numbers == composed | {added: len(composed) + 1, step_added: len(composed) + 2}

    ok(seeded, "plan", "reject", ref, str(numbers[added]), "--as", "cw1")  # withdrawn
    assert _numbered(seeded, ref)[1] == composed | {step_added: len(composed) + 2}
    step = "step:after.change_number"
    accepted = ok(seeded, "plan", "accept", ref, str(numbers[step]), "--as", "cw1")
    assert accepted["item"] == step
    accepted = ok(seeded, "plan", "accept", ref, str(numbers[step_added]), "--as", "cw1")
    assert accepted["item"] == step_added
    refused = invoke(seeded, "plan", "accept", ref, str(numbers[added]), "--as", "cw1")
    assert refused.exit_code == 2 and "no such item" in refused.stderr


def test_the_number_of_a_withdrawn_item_is_never_given_to_another(seeded: App, ref: str) -> None:
    # Withdrawing the newest item frees no number: the next one added takes the number after
    # it, so a colleague's `plan done N` read before the withdrawal acts on no other item.
    composed = _numbered(seeded, ref)[1]
    first = add(seeded, "cw1", ref, section="steps", text="PVfirst", owner="youth")
    withdrawn = _numbered(seeded, ref)[1][first]
    ok(seeded, "plan", "reject", ref, str(withdrawn), "--as", "cw1")
    second = add(seeded, "cw1", ref, section="steps", text="PVsecond", owner="youth")
    assert _numbered(seeded, ref)[1] == composed | {second: withdrawn + 1}

    for command in ("accept", "done"):
        refused = invoke(seeded, "plan", command, ref, str(withdrawn), "--as", "cw1")
        assert refused.exit_code == 2 and "no such item" in refused.stderr
    assert states(seeded, ref)[second] == ItemState.ADDED
    assert "DONE" not in _numbered(seeded, ref)[0]


def test_catalogue_lists_each_phase_once(seeded: App) -> None:
    shown = invoke(seeded, "catalogue").stdout
    headings = [line for line in shown.splitlines() if line and not line.startswith(" ")]
    assert len(headings) == len(set(headings))
    assert headings[1:5] == [
        "contemplating_leaving",
        "after_leaving",
        "agency_staff",
        "emotional_regulation",
    ]


def test_an_added_steps_due_date_is_within_five_years(seeded: App, ref: str) -> None:
    for due in ("9999-12-31", "2031-03-05"):
        with pytest.raises(InvalidInput, match="--due"):
            add(seeded, "cw1", ref, section="steps", text="PVfar", owner="youth", due=due)
    add(seeded, "cw1", ref, section="steps", text="PVnear", owner="youth", due="2031-03-01")


def test_an_added_step_needs_an_owner_and_no_past_due_date(seeded: App, ref: str) -> None:
    with pytest.raises(InvalidInput, match="--owner"):
        add(seeded, "cw1", ref, section="steps", text="PVnobody")
    with pytest.raises(InvalidInput, match="--due"):
        add(seeded, "cw1", ref, section="steps", text="PVlate", owner="youth", due="2026-03-01")
    refused = invoke(
        seeded, "plan", "add", ref, "--section", "steps", "--text", given("x"), "--as", "cw1"
    )
    assert refused.exit_code == 2 and "--owner" in refused.stderr
    today = add(
        seeded, "cw1", ref, section="steps", text="PVtoday", owner="youth", due="2026-03-02"
    )
    assert today in states(seeded, ref)
    assert add(seeded, "cw1", ref, section="strategies", text="PVanyone")  # owners are for steps


def test_an_earlier_version_renders_the_same_bytes_later(
    seeded: App, ref: str, clock: FixedClock
) -> None:
    def render(version: int, audience: str = "staff") -> str:
        args = ("--audience", audience, "--format", "text", "--version", str(version))
        result = invoke(seeded, "plan", "render", ref, *args, "--as", "cw1")
        assert result.exit_code == 0, result.stderr
        return result.stdout

    due_then = show(seeded, "cw1", ref).next_due_at
    first = {audience: render(1, audience) for audience in ("staff", "youth", "family")}
    finalize(seeded, "cw1", ref, LEAVE_OUT_REST)
    final = render(1)

    clock.advance(timedelta(days=3))
    answers = safest(seeded) | {"situation": "just_left", "immediate_danger": "yes"}
    submit_assessment(seeded, "cw1", ref, "incident", answers)
    assert ok(seeded, "override", ref, "--level", "high", "--reason", given("PVwhy"), "--as", "sup")
    assert ok(seeded, "case", "show", ref, "--as", "cw1")["next_due"] != due_then.isoformat()

    assert render(1) == final
    assert {a: render(1, a) for a in ("youth", "family")} == {
        a: first[a] for a in ("youth", "family")
    }
    assert show(seeded, "cw1", ref, 1).next_due_at == due_then
    # The draft follows the override: it was composed from the assessment overridden.
    assert show(seeded, "cw1", ref, 2).next_due_at == seeded.run(
        lambda uow: uow.session.scalar(select(Case.next_due_at).where(Case.reference == ref))
    )


def test_an_item_number_in_other_digits_is_bad_input(seeded: App, ref: str) -> None:
    refused = invoke(seeded, "plan", "accept", ref, "²", "--as", "cw1")
    assert refused.exit_code == 2 and "no such item" in refused.stderr


@pytest.mark.parametrize("withdrawn", ["--no-non-offending", "--no-approved-by-youth"])
def test_a_contact_found_unsafe_while_a_draft_is_open_is_on_no_copy(
    seeded: App, ref: str, withdrawn: str
) -> None:
    """Family found no longer safe, or no longer approved by the youth, while the draft is open
    (its contact accepted already): not frozen into the version finalised, nor listed on any
    copy, where the youth would be told to call them."""
    aunt = contact_key(show(seeded, "cw1", ref), "PVauntname")
    decide(seeded, "cw1", ref, aunt, ItemState.ACCEPTED)
    ok(seeded, "case", "person", "edit", ref, "1", withdrawn, "--as", "cw1")
    assert "PVauntname" not in {c.name for c in show(seeded, "cw1", ref).contacts}
    finalize(seeded, "cw1", ref, Undecided(accept_rest=True))
    assert "PVauntname" not in {c.name for c in show(seeded, "cw1", ref).contacts}
    for audience in ("youth", "family", "staff"):
        shown = invoke(seeded, "plan", "render", ref, "--audience", audience, "--as", "cw1")
        assert shown.exit_code == 0, shown.stderr
        assert "PVauntphone" not in shown.stdout
