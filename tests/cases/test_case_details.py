"""`harbour case person|threat add|edit`: changing a case after referral, on both databases."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from harbour.app import App
from harbour.cases import intake
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, Case, Person
from harbour.plans import store as planning
from tests.db.helpers import row_counts, sealed_snapshot
from tests.support import given, invoke, referral


def _case(app: App, marker: str = "Cd", caseworker: str = "cw1") -> str:
    return intake.refer(app, "coord", referral(marker, caseworker=caseworker), None).reference


def _version(app: App, ref: str) -> tuple[int, Any]:
    with app.engine.connect() as conn:
        row = conn.execute(select(Case.version, Case.updated_at).where(Case.reference == ref))
        version, updated = row.one()
    return version, updated


def _audits(app: App, action: str) -> list[AuditEvent]:
    with app.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _show(app: App, ref: str) -> dict[str, Any]:
    result = invoke(app, "case", "show", ref, "--as", "sup", "--json")
    assert result.exit_code == 0, result
    shown: dict[str, Any] = result.json()
    return shown


def test_people_added_and_edited_are_sealed_audited_and_touch_the_case(seeded: App) -> None:
    ref = _case(seeded)
    before = _version(seeded, ref)
    assert isinstance(seeded.clock, FixedClock)
    seeded.clock.advance(timedelta(minutes=5))
    added = invoke(
        seeded,
        *("case", "person", "add", ref, "--kind", "caretaker", "--name", given("CDnewname")),
        *("--relationship", given("CDgran"), "--phone", given("CDnewphone"), "--non-offending"),
        *("--approved-by-youth", "--as", "cw1", "--json"),
    )
    assert added.exit_code == 0, added
    number = added.json()["number"]
    assert "next plan version" in added.json()["note"]
    edited = invoke(
        seeded,
        *(
            "case",
            "person",
            "edit",
            ref,
            "0",
            "--phone",
            given("CDyouthphone2"),
            "--clear",
            "notes",
        ),
        *("--date-of-birth", given("2010-02-03"), "--as", "sup"),
    )
    assert edited.exit_code == 0, edited
    assert "next plan version" in edited.stdout and "CDyouthphone2" not in edited.stdout

    people = {p["person"]: p for p in _show(seeded, ref)["people"]}
    assert people[number]["kind"] == "caretaker" and people[number]["name"] == "CDnewname"
    assert people[number]["non_offending"] is True and people[number]["approved_by_youth"]
    assert people[0]["phone"] == "CDyouthphone2" and "notes" not in people[0]
    assert people[0]["date_of_birth"] == "2010-02-03"

    opened = sealed_snapshot(seeded)
    assert ("people", _person_id(seeded, ref, number), "name") in opened
    with seeded.engine.connect() as conn:
        raw = str(conn.exec_driver_sql("SELECT * FROM people").all())
        trail = str(conn.exec_driver_sql("SELECT * FROM audit_events").all())
    for marker in ("CDnewname", "CDgran", "CDnewphone", "CDyouthphone2"):
        assert marker not in raw and marker not in trail

    [add_row] = _audits(seeded, "case.person.add")
    [edit_row] = _audits(seeded, "case.person.edit")
    assert add_row.actor_handle == "cw1" and add_row.case_id is not None
    assert add_row.details["fields"] == [
        "address",
        "approved_by_youth",
        "name",
        "non_offending",
        "phone",
        "relationship",
    ]
    assert edit_row.details == {
        "number": 0,
        "kind": "youth",
        "fields": ["date_of_birth", "notes", "phone"],
    }
    after = _version(seeded, ref)
    assert after[0] == before[0] + 2 and after[1] > before[1]

    # Approved and known safe: a contact of the next plan version.
    def contacts(uow: Any) -> list[str]:
        case = uow.session.scalar(select(Case).where(Case.reference == ref))
        return planning.approved_contacts(uow, case)

    assert _person_id(seeded, ref, number) in seeded.run(contacts)


def _person_id(app: App, ref: str, number: int) -> str:
    with app.engine.connect() as conn:
        case_id = conn.scalar(select(Case.id).where(Case.reference == ref))
        found = conn.scalar(
            select(Person.id).where(Person.case_id == case_id, Person.position == number)
        )
    assert found is not None
    return str(found)


def test_threats_and_protective_orders_added_and_edited(seeded: App) -> None:
    ref = _case(seeded, "Th")
    added = invoke(
        seeded,
        *("case", "threat", "add", ref, "--kind", "network", "--name", given("THnet")),
        *("--protective-order", "--protective-order-expires-on", "2027-06-30"),
        *("--protective-order-details", given("THcourt"), "--as", "cw1", "--json"),
    )
    assert added.exit_code == 0, added
    number = added.json()["number"]
    # a threat source is no plan contact: the note says what it changes in the next version
    assert "threat sources" in added.json()["note"] and "contacts" not in added.json()["note"]
    edited = invoke(
        seeded,
        *("case", "threat", "edit", ref, str(number), "--protective-order-expires-on"),
        *("2028-01-31", "--kind", "trafficker", "--clear", "name", "--as", "cw1"),
    )
    assert edited.exit_code == 0, edited
    assert "threat sources" in edited.stdout and "Plan contacts" not in edited.stdout
    threats = {t["threat"]: t for t in _show(seeded, ref)["threats"]}
    assert threats[number] == {
        "threat": number,
        "kind": "trafficker",
        "protective_order": True,
        "protective_order_details": "THcourt",
        "protective_order_expires_on": "2028-01-31",
    }
    # Taking the order off while its date stays says what to do: empty the date too.
    kept = invoke(
        seeded,
        *("case", "threat", "edit", ref, str(number), "--no-protective-order"),
        *("--clear", "protective-order-details", "--as", "sup"),
    )
    assert kept.exit_code == 2 and "--protective-order-expires-on" in kept.stderr
    assert "empty it too (--clear protective-order-expires-on)" in kept.stderr
    lifted = invoke(
        seeded,
        *("case", "threat", "edit", ref, str(number), "--no-protective-order"),
        *("--clear", "protective-order-details", "--clear", "protective-order-expires-on"),
        *("--as", "sup"),
    )
    assert lifted.exit_code == 0, lifted
    assert {t["threat"]: t for t in _show(seeded, ref)["threats"]}[number] == {
        "threat": number,
        "kind": "trafficker",
        "protective_order": False,
    }
    assert len(_audits(seeded, "case.threat.edit")) == 2
    assert len(_audits(seeded, "case.threat.add")) == 1


def test_an_add_repeated_with_its_key_adds_once(seeded: App) -> None:
    # A retried add (a command run again, a form sent twice) with its key is the entry it added;
    # the key with other values is refused and adds nothing. Keys are the case's, per kind of
    # entry: a threat source may have the key a person has.
    ref = _case(seeded, "Ik")
    for add, other in (
        (("person", "add", ref, "--kind", "trusted_contact"), ("--phone", given("IKphone"))),
        (("threat", "add", ref, "--kind", "network"), ("--description", given("IKdesc"))),
    ):
        sent = ("case", *add, "--name", given("IKname"), "--idempotency-key", "add-7")
        first = invoke(seeded, *sent, "--as", "cw1", "--json")
        assert first.exit_code == 0, first
        again = invoke(seeded, *sent, "--as", "sup", "--json")
        assert again.exit_code == 0, again
        assert again.json() == first.json()
        counts = row_counts(seeded)
        refused = invoke(seeded, *sent, *other, "--as", "cw1")
        assert refused.exit_code == 1 and "idempotency_key_reused" in refused.stderr
        assert "IK" not in refused.stderr and row_counts(seeded) == counts
        bad = invoke(
            seeded, "case", *add, "--name", given("IKx"), "--idempotency-key", "a b", "--as", "cw1"
        )
        assert bad.exit_code == 2 and "--idempotency-key" in bad.stderr
    shown = _show(seeded, ref)
    assert [p.get("name") for p in shown["people"]].count("IKname") == 1
    assert [t.get("name") for t in shown["threats"]].count("IKname") == 1
    assert [
        len(_audits(seeded, f"case.{what}.add{how}"))
        for what in ("person", "threat")
        for how in ("", ".replayed")
    ] == [1, 1, 1, 1]


HOSTILE: list[tuple[list[str], str]] = [
    (["person", "edit", "{ref}", "0", "--name", given("a\x00b")], "--name"),
    (["person", "edit", "{ref}", "0", "--name", given("evil\u202eman")], "--name"),
    (["person", "edit", "{ref}", "0", "--name", given("x" * 500)], "--name"),
    (["person", "edit", "{ref}", "0", "--name", given("   ")], "--name"),
    (["person", "edit", "{ref}", "0", "--date-of-birth", given("2010-02-30")], "--date-of-birth"),
    (["person", "edit", "{ref}", "0", "--date-of-birth", given("2099-01-01")], "--date-of-birth"),
    (["person", "edit", "{ref}", "0", "--date-of-birth", given("1850-01-01")], "--date-of-birth"),
    (["person", "edit", "{ref}", "0", "--non-offending"], "--non-offending"),
    (["person", "edit", "{ref}", "2", "--date-of-birth", given("2001-01-01")], "--date-of-birth"),
    (["person", "edit", "{ref}", "0", "--clear", "name"], "--clear"),
    (["person", "edit", "{ref}", "0", "--clear", "'; DROP TABLE people; --"], "--clear"),
    (["person", "edit", "{ref}", "1", "--clear", "notes"], "--notes"),
    (["person", "edit", "{ref}", "0"], "nothing to change"),
    (["person", "edit", "{ref}", "0", "--phone", given("1"), "--clear", "phone"], "--clear"),
    (["person", "add", "{ref}", "--kind", "youth", "--name", given("Second")], "--kind"),
    (
        ["person", "add", "{ref}", "--kind", "family_member", "--name", given("Nor")],
        "--relationship",
    ),
    (
        ["person", "add", "{ref}", "--kind", "trusted_contact", "--name", given("{{ 7*7 }}\x07")],
        "--name",
    ),
    (["threat", "add", "{ref}", "--kind", "boss"], "--kind"),
    (
        ["threat", "add", "{ref}", "--kind", "network", "--protective-order-expires-on", "x"],
        "--protective-order-expires-on",
    ),
    (
        ["threat", "edit", "{ref}", "0", "--protective-order-expires-on", "2027-02-30"],
        "--protective-order-expires-on",
    ),
    (
        ["threat", "add", "{ref}", "--kind", "network", "--protective-order-details", given("c")],
        "--protective-order-details",
    ),
]


@pytest.mark.parametrize(("args", "field"), HOSTILE)
def test_bad_input_changes_nothing_and_names_the_field(
    seeded: App, args: list[str], field: str
) -> None:
    ref = _case(seeded, "Ho")
    counts, sealed, version = row_counts(seeded), sealed_snapshot(seeded), _version(seeded, ref)
    argv = [a.replace("{ref}", ref) for a in args]
    result = invoke(seeded, "case", *argv, "--as", "sup")
    assert result.exit_code == 2, result
    assert field in result.stderr and "Traceback" not in result.stderr
    for option, value in itertools.pairwise(argv):
        if option.startswith("--") and option != "--clear" and len(value) > 4:
            assert value not in result.stderr  # the field and why, never the value
    assert row_counts(seeded) == counts and sealed_snapshot(seeded) == sealed
    assert _version(seeded, ref) == version


@pytest.mark.parametrize(
    ("kind", "whose"), [("family_member", "a family member"), ("caretaker", "a caretaker")]
)
def test_a_relative_added_without_relationship_is_told_the_option_and_the_kind(
    seeded: App, kind: str, whose: str
) -> None:
    # pydantic's bare "Field required" said neither that the kind requires it nor what for.
    ref = _case(seeded, "Rl")
    counts, sealed, version = row_counts(seeded), sealed_snapshot(seeded), _version(seeded, ref)
    add = ("case", "person", "add", ref, "--kind", kind, "--name", given("RLname"), "--as", "sup")
    plain = invoke(seeded, *add)
    assert plain.exit_code == 2, plain
    assert f"--relationship: is required for {whose}" in plain.stderr
    assert "Field required" not in plain.stderr and "RLname" not in plain.stderr
    as_json = invoke(seeded, *add, "--json")
    assert as_json.exit_code == 2, as_json
    assert json.loads(as_json.stderr)["problems"] == [
        {"field": "--relationship", "reason": f"is required for {whose}"}
    ]
    assert row_counts(seeded) == counts and sealed_snapshot(seeded) == sealed
    assert _version(seeded, ref) == version


@pytest.mark.parametrize(
    ("kind", "args", "field", "reason"),
    [
        (
            "family_member",
            ("--clear", "relationship"),
            "--relationship",
            "is required for a family member: it cannot be cleared",
        ),
        (
            "caretaker",
            ("--clear", "relationship"),
            "--relationship",
            "is required for a caretaker: it cannot be cleared",
        ),
        ("caretaker", ("--clear", "notes"), "--notes", "does not apply to a caretaker"),
        (
            "trusted_contact",
            ("--clear", "address"),
            "--address",
            "does not apply to a trusted contact",
        ),
        (
            "trusted_contact",
            ("--non-offending",),
            "--non-offending",
            "does not apply to a trusted contact",
        ),
        (
            "family_member",
            ("--date-of-birth", given("2001-01-01")),
            "--date-of-birth",
            "does not apply to a family member",
        ),
    ],
)
def test_an_edit_a_kind_refuses_names_the_field_and_the_kind_in_words(
    seeded: App, kind: str, args: tuple[str, ...], field: str, reason: str
) -> None:
    # Said "--clear: --relationship cannot be cleared for a family_member": the kind as its
    # code, and the field only inside the reason (the console could not put it beside it).
    ref = _case(seeded, "Kw")
    added = invoke(
        seeded,
        *("case", "person", "add", ref, "--kind", kind, "--name", given("KWname")),
        *("--relationship", given("KWrel"), "--as", "sup", "--json"),
    )
    assert added.exit_code == 0, added
    number = str(added.json()["number"])
    counts, sealed, version = row_counts(seeded), sealed_snapshot(seeded), _version(seeded, ref)
    edit = ("case", "person", "edit", ref, number, *args, "--as", "sup")
    plain = invoke(seeded, *edit)
    assert plain.exit_code == 2, plain
    assert f"{field}: {reason}" in plain.stderr
    assert "family_member" not in plain.stderr and "trusted_contact" not in plain.stderr
    assert "KW" not in plain.stderr
    as_json = invoke(seeded, *edit, "--json")
    assert as_json.exit_code == 2, as_json
    assert json.loads(as_json.stderr)["problems"] == [{"field": field, "reason": reason}]
    assert row_counts(seeded) == counts and sealed_snapshot(seeded) == sealed
    assert _version(seeded, ref) == version


def test_person_add_help_says_which_kinds_need_relationship(seeded: App) -> None:
    helped = invoke(seeded, "case", "person", "add", "--help")
    assert helped.exit_code == 0, helped
    text = " ".join(helped.stdout.split())  # click wraps the help
    assert "a family member or a caretaker needs --relationship" in text
    assert "Required for a family member or a caretaker." in text


def test_who_may_edit(seeded: App) -> None:
    ref = _case(seeded, "Wh", caseworker="cw1")
    edit = ["case", "person", "edit", ref, "0", "--phone", given("WHphone")]
    assert invoke(seeded, *edit, "--as", "cw1").exit_code == 0
    assert invoke(seeded, *edit, "--as", "sup").exit_code == 0
    for handle, why in (
        ("cw2", "not_assigned"),
        ("coord", "not_permitted"),
        ("adm", "not_permitted"),
    ):
        refused = invoke(seeded, *edit, "--as", handle)
        assert refused.exit_code == 1 and why in refused.stderr, handle
    with seeded.engine.connect() as conn:
        denied = conn.execute(
            select(AuditEvent.actor_handle, AuditEvent.case_id).where(
                AuditEvent.action == "case.edit", AuditEvent.outcome == "denied"
            )
        ).all()
        case_id = conn.scalar(select(Case.id).where(Case.reference == ref))
    assert {handle for handle, _ in denied} == {"cw2", "coord", "adm"}
    assert dict(denied)["cw2"] == case_id  # on the case: the supervisor's audit lists it


def test_another_agencys_case_answers_as_a_missing_one(seeded: App) -> None:
    theirs = intake.refer(seeded, "coord2", referral("Ot"), None).reference
    absent = "HB-0000-0000-0000-0000-0000-0000-0000"
    counts = row_counts(seeded)
    for args in (
        ["person", "edit", "{ref}", "0", "--phone", given("1")],
        ["person", "add", "{ref}", "--kind", "trusted_contact", "--name", given("N")],
        ["threat", "add", "{ref}", "--kind", "network"],
        ["threat", "edit", "{ref}", "0", "--name", given("N")],
    ):
        other = invoke(seeded, "case", *[a.replace("{ref}", theirs) for a in args], "--as", "sup")
        missing = invoke(seeded, "case", *[a.replace("{ref}", absent) for a in args], "--as", "sup")
        assert (other.exit_code, other.stdout, other.stderr) == (
            missing.exit_code,
            missing.stdout,
            missing.stderr,
        )
        assert other.stderr == "error: case_not_found: no such case\n"
    assert {k: v for k, v in row_counts(seeded).items() if k != "audit_events"} == {
        k: v for k, v in counts.items() if k != "audit_events"
    }


def test_unknown_number_and_closed_case(seeded: App, tmp_path: Path) -> None:
    ref = _case(seeded, "Nu")
    missing = invoke(
        seeded, "case", "person", "edit", ref, "99", "--phone", given("1"), "--as", "sup"
    )
    assert missing.exit_code == 1 and "person_not_found" in missing.stderr
    huge = invoke(
        seeded, "case", "threat", "edit", ref, str(2**70), "--name", given("N"), "--as", "sup"
    )
    assert huge.exit_code == 2 and "Traceback" not in huge.stderr
    with seeded.engine.begin() as conn:
        conn.execute(Case.__table__.update().where(Case.reference == ref).values(status="closed"))
    closed = invoke(
        seeded, "case", "person", "edit", ref, "0", "--phone", given("1"), "--as", "sup"
    )
    assert closed.exit_code == 1 and "case_closed" in closed.stderr


def test_two_edits_of_one_case_at_once_both_land(seeded: App) -> None:
    """Two edits of one case at once, from two processes: the second waits for the first (the
    case's row is held by each), then goes through; neither is lost nor refused as stale."""
    from harbour.cases.details import edit_person
    from tests.cases.racing import race

    for round_ in range(4):
        ref = _case(seeded, f"Cc{round_}")
        done = race(
            seeded,
            lambda app, r=ref: edit_person(app, "sup", r, 0, {"phone": "555-0101"}),
            lambda app, r=ref: edit_person(app, "cw1", r, 0, {"address": "CC street"}),
        )
        assert not any(isinstance(d, str) for d in done), done
        youth = _show(seeded, ref)["people"][0]
        assert (youth["phone"], youth["address"]) == ("555-0101", "CC street")
