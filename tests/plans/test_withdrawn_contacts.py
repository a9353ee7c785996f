"""A contact accepted on a plan whose person may no longer be a contact (no longer approved by
the youth, or family no longer known to be non-offending): staff are told where they see the
plan's contacts (the staff copy in every format, ``plan show`` and its JSON), and an edit that
makes a contact of the current final version no longer one says that version's copies still list
them and what to do. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbour.app import App
from harbour.domain.vocab import ContactFlag, ItemState
from harbour.plans.actions import decide, finalize, show
from harbour.plans.store import Undecided
from tests.cli.helpers import assess_just_left as assess
from tests.cli.helpers import ok, referred_case
from tests.plans.test_plan_versions import contact_key
from tests.support import invoke

AUNT = "1"  # the referral's family member, as `case show` numbers the case's people
LEFT_OFF = "no longer approved: left off the youth's and family's copies"
STILL_LISTED = "no longer approved, yet still on this final version's youth and family copies"


@pytest.fixture
def ref(seeded: App, tmp_path: Path) -> str:
    reference = referred_case(seeded, tmp_path, "WC", situation="just_left")
    assess(seeded, reference, "initial_contact")
    return reference


def flags(app: App, ref: str, version: int | None = None) -> dict[str, ContactFlag | None]:
    return {i.staff_text: i.contact_flag for i in show(app, "cw1", ref, version).items}


def staff_copies(app: App, ref: str, version: int | None = None) -> dict[str, str]:
    copies = {}
    for fmt in ("text", "md", "html"):
        args = ("--audience", "staff", "--format", fmt)
        args += ("--version", str(version)) if version else ()
        shown = invoke(app, "plan", "render", ref, *args, "--as", "cw1")
        assert shown.exit_code == 0, shown.stderr
        copies[fmt] = shown.stdout.replace("&#39;", "'").replace("\\'", "'")
    return copies


def plan_show(app: App, ref: str, *more: str) -> str:
    shown = invoke(app, "plan", "show", ref, *more, "--as", "cw1")
    assert shown.exit_code == 0, shown.stderr
    return shown.stdout


@pytest.mark.parametrize("withdrawn", ["--no-non-offending", "--no-approved-by-youth"])
def test_a_contact_withdrawn_on_the_draft_is_marked_left_off(
    seeded: App, ref: str, withdrawn: str
) -> None:
    aunt = contact_key(show(seeded, "cw1", ref), "WCauntname")
    decide(seeded, "cw1", ref, aunt, ItemState.ACCEPTED)
    assert flags(seeded, ref)["WCauntname"] is None
    assert "no longer approved" not in plan_show(seeded, ref)
    edited = invoke(seeded, "case", "person", "edit", ref, AUNT, withdrawn, "--as", "cw1")
    assert edited.exit_code == 0, edited.stderr
    assert "Final plan version" not in edited.stdout  # no final version lists them

    assert flags(seeded, ref)["WCauntname"] == ContactFlag.LEFT_OFF
    assert flags(seeded, ref)["WCfriendname"] is None
    line = next(x for x in plan_show(seeded, ref).splitlines() if "WCauntname" in x)
    assert "accepted" in line and LEFT_OFF in line
    item = next(
        i for i in ok(seeded, "plan", "show", ref, "--as", "cw1")["items"] if i["key"] == aunt
    )
    assert item["state"] == "accepted" and item["contact_flag"] == "left_off"
    for fmt, copy in staff_copies(seeded, ref).items():
        assert "WCauntname" in copy and LEFT_OFF in copy, fmt
        assert "WCauntphone" not in copy, fmt  # no more than the name, as the copy left them off

    # Finalised so: still left off, and still said so on the final version.
    finalize(seeded, "cw1", ref, Undecided(accept_rest=True))
    assert flags(seeded, ref, 1)["WCauntname"] == ContactFlag.LEFT_OFF
    assert all(LEFT_OFF in copy for copy in staff_copies(seeded, ref, 1).values())


def test_an_edit_of_a_contact_on_the_final_version_says_to_assess_again(
    seeded: App, ref: str
) -> None:
    aunt = contact_key(show(seeded, "cw1", ref), "WCauntname")
    decide(seeded, "cw1", ref, aunt, ItemState.ACCEPTED)
    finalize(seeded, "cw1", ref, Undecided(accept_rest=True))
    moved = ok(seeded, "case", "person", "edit", ref, AUNT, "--no-caretaker", "--as", "cw1")
    assert "final_contact" not in moved  # still a contact: nothing to do

    edited = invoke(
        seeded, "case", "person", "edit", ref, AUNT, "--no-approved-by-youth", "--as", "cw1"
    )
    assert edited.exit_code == 0, edited.stderr
    assert "final version keeps the contacts" in edited.stdout  # the note, as before
    assert "Final plan version 1 still lists them" in edited.stdout
    assert "assess again" in edited.stdout.split("Final plan version 1", 1)[1]
    assert "WCaunt" not in edited.stdout + edited.stderr
    again = ok(seeded, "case", "person", "edit", ref, AUNT, "--caretaker", "--as", "cw1")
    assert again["final_contact"]["version"] == 1
    assert "assess again" in again["final_contact"]["say"]

    assert flags(seeded, ref, 1)["WCauntname"] == ContactFlag.STILL_LISTED
    line = next(x for x in plan_show(seeded, ref).splitlines() if "WCauntname" in x)
    assert STILL_LISTED in line and "assess again" in line
    for fmt, copy in staff_copies(seeded, ref, 1).items():
        assert STILL_LISTED in copy, fmt
    youth = invoke(seeded, "plan", "render", ref, "--audience", "youth", "--as", "cw1")
    assert "WCauntname" in youth.stdout  # a final version keeps its contacts (the note says)

    # Assessed again: the new draft leaves them off; version 1 is still the final one.
    assess(seeded, ref)
    assert "WCauntname" not in flags(seeded, ref)
    still = ok(seeded, "case", "person", "edit", ref, AUNT, "--no-caretaker", "--as", "cw1")
    assert still["final_contact"]["version"] == 1
    finalize(seeded, "cw1", ref, Undecided(accept_rest=True))
    done = ok(seeded, "case", "person", "edit", ref, AUNT, "--caretaker", "--as", "cw1")
    assert "final_contact" not in done


def test_a_person_on_no_final_version_gets_no_such_answer(seeded: App, ref: str) -> None:
    friend = contact_key(show(seeded, "cw1", ref), "WCfriendname")
    decide(seeded, "cw1", ref, friend, ItemState.REJECTED)
    finalize(seeded, "cw1", ref, Undecided(accept_rest=True))
    edited = ok(seeded, "case", "person", "edit", ref, "2", "--no-approved-by-youth", "--as", "cw1")
    assert "final_contact" not in edited
    assert flags(seeded, ref, 1)["WCfriendname"] is None  # rejected: no contact of the plan
