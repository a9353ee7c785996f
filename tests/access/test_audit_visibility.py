"""Refusals show in the case's audit trail; admins read their agency's audit rows of no case,
and only the installation's operators read the store's own trail."""

from __future__ import annotations

from sqlalchemy import select

from harbour.access import audit_store
from harbour.app import App
from harbour.cases import intake
from harbour.db.models import AuditEvent
from tests.support import agency_admin, given, invoke, referral

ABSENT = "HB-0000-0000-0000-0000-0000-0000-0000"


def test_refused_attempts_appear_in_the_cases_audit(seeded: App) -> None:
    ref = intake.refer(seeded, "coord", referral("Rf"), None).reference
    attempts = [
        ("cw1", ["audit", ref]),
        ("cw2", ["override", ref, "--level", "low", "--reason", given("x")]),
        ("adm", ["case", "show", ref]),
        ("coord", ["plan", "finalize", ref]),
    ]
    for handle, args in attempts:
        refused = invoke(seeded, *args, "--as", handle)
        assert refused.exit_code == 1 and "not_permitted" in refused.stderr, (handle, args)
    trail = invoke(seeded, "audit", ref, "--as", "sup", "--json").json()
    denied = [(r["actor"], r["action"]) for r in trail if r["outcome"] == "denied"]
    assert denied == [
        ("cw1", "case.audit"),
        ("cw2", "case.override"),
        ("adm", "case.read"),
        ("coord", "case.plan"),
    ]


def test_a_refused_role_answers_alike_for_another_agencys_case_and_none(seeded: App) -> None:
    theirs = intake.refer(seeded, "coord2", referral("Rt"), None).reference
    for handle, args in (("cw1", ["audit"]), ("adm", ["case", "show"]), ("coord", ["override"])):
        extra = ["--level", "low", "--reason", given("x")] if args == ["override"] else []
        other = invoke(seeded, *args, theirs, *extra, "--as", handle)
        nobody = invoke(seeded, *args, ABSENT, *extra, "--as", handle)
        assert (other.exit_code, other.stdout, other.stderr) == (
            nobody.exit_code,
            nobody.stdout,
            nobody.stderr,
        )
        assert "not_permitted" in other.stderr
    # ...while the agency that owns the case sees every attempt in its trail.
    trail = invoke(seeded, "audit", theirs, "--as", "sup2", "--json").json()
    probes = [(r["actor"], r["action"]) for r in trail if r["outcome"] == "other_agency"]
    assert probes == [("cw1", "case.audit"), ("adm", "case.read"), ("coord", "case.override")]


def test_a_miss_on_another_agencys_case_is_in_its_trail_and_the_probers_row(
    seeded: App,
) -> None:
    theirs = intake.refer(seeded, "coord2", referral("Rp"), None).reference
    other = invoke(seeded, "case", "show", theirs, "--as", "cw1")
    nobody = invoke(seeded, "case", "show", ABSENT, "--as", "cw1")
    assert (other.exit_code, other.stdout, other.stderr) == (
        nobody.exit_code,
        nobody.stdout,
        nobody.stderr,
    )
    trail = invoke(seeded, "audit", theirs, "--as", "sup2", "--json").json()
    probes = [(r["actor"], r["action"]) for r in trail if r["outcome"] == "other_agency"]
    assert probes == [("cw1", "case.read")]
    with seeded.engine.connect() as conn:
        own = conn.execute(
            select(AuditEvent.case_id, AuditEvent.details)
            .where(AuditEvent.actor_handle == "cw1", AuditEvent.outcome == "not_found")
            .order_by(AuditEvent.seq)
        ).all()
    assert [case_id for case_id, _ in own] == [None, None]
    assert own[0].details == {"reference": theirs} and own[1].details == {"reference": ABSENT}


def test_admins_read_the_audit_of_no_case(seeded: App) -> None:
    ref = intake.refer(seeded, "coord", referral("SyMARK", caseworker="cw1"), None).reference
    assert invoke(seeded, "case", "show", ref, "--as", "cw1").exit_code == 0
    steps = [
        ("staff", "add", "newcw", "--agency", "north", "--role", "caseworker", "--as", "adm"),
        ("staff", "deactivate", "newcw", "--as", "adm"),
        ("keys", "rotate", "--as", "adm"),
        ("cases", "--as", "ghost"),  # an unknown actor
        ("staff", "add", "x", "--agency", "north", "--role", "caseworker", "--as", "cw1"),
        ("staff", "add", "y", "--agency", "south", "--role", "caseworker", "--as", "sup2"),
    ]
    for step in steps:
        invoke(seeded, *step)
    shown = invoke(seeded, "audit", "--system", "--as", "adm", "--json")
    assert shown.exit_code == 0, shown
    rows = [(r["actor"], r["action"], r["outcome"]) for r in shown.json()]
    for expected in [
        ("adm", "staff.add", "ok"),
        ("adm", "staff.deactivate", "ok"),
        ("adm", "keys.rotate", "ok"),
        ("adm", "keys.rotate.done", "ok"),
        ("ghost", "actor.resolve", "denied"),
        ("cw1", "staff.manage", "denied"),
    ]:
        assert expected in rows
    assert all(actor != "sup2" for actor, _, _ in rows)  # another agency's stays theirs
    assert all(action not in ("case.read", "case.refer") for _, action, _ in rows)
    assert "SyMARK" not in shown.stdout
    human = invoke(seeded, "audit", "--system", "--as", "adm")
    assert human.exit_code == 0 and "staff.deactivate" in human.stdout

    for handle in ("sup", "cw1", "coord"):
        refused = invoke(seeded, "audit", "--system", "--as", handle)
        assert refused.exit_code == 1 and "not_permitted" in refused.stderr
    for args in ([], [ref, "--system"]):
        wrong = invoke(seeded, "audit", *args, "--as", "adm")
        assert wrong.exit_code == 2 and "REF" in wrong.stderr


def test_a_typed_handle_reaches_the_system_audit_only_if_it_could_be_one(seeded: App) -> None:
    # What is not shaped like a handle may be anything typed (a password in the wrong place):
    # kept as "not a handle". A row an older version stored raw is shown escaped.
    hostile = "\x1b[2J\x1b]0;owned\x07gh\u202eost"
    for typed in (hostile, "MKpassw0rd!2026", "ghost"):
        assert invoke(seeded, "cases", "--as", typed).exit_code == 1
    with seeded.engine.connect() as conn:
        conn.execute(AuditEvent.__table__.insert().values(**_raw_row(seeded, hostile)))
        conn.commit()
        stored = conn.scalars(
            select(AuditEvent.actor_handle)
            .where(AuditEvent.action == "actor.resolve")
            .order_by(AuditEvent.seq)
        ).all()
    assert stored[:3] == ["not a handle", "not a handle", "ghost"]
    shown = invoke(seeded, "audit", "--system", "--as", "adm")
    assert shown.exit_code == 0, shown.stderr
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "\u202e" not in shown.stdout and "MKpassw0rd" not in shown.stdout
    assert shown.stdout.count("\\x1b[2J\\x1b]0;owned") == 1


def _raw_row(app: App, handle: str) -> dict[str, object]:
    return {
        "at": app.clock.now(),
        "actor_handle": handle,
        "action": "actor.resolve.old",
        "outcome": "denied",
        "details": {},
    }


def test_the_store_trail_is_for_operators_only(seeded: App) -> None:
    """An agency admin reads their agency's rows of no case, never the store's: not `init`, not
    another agency's creation, not key rotations, not unknown actors (issue 13, items 6, 13)."""
    seeded.run(lambda uow: audit_store(uow, None, "store.init"))  # as `harbour init` records it
    agency_admin(seeded)
    steps = [
        ("agency", "add", "east", "--admin", "eadm", "--as", "adm"),
        ("keys", "rotate", "--as", "adm"),
        ("cases", "--as", "ghost"),
        ("keys", "rotate", "--as", "nadm"),  # refused: recorded where operators see it
        ("staff", "add", "newcw", "--agency", "north", "--role", "caseworker", "--as", "nadm"),
    ]
    for step in steps:
        invoke(seeded, *step)
    store = [("adm", "agency.add"), ("adm", "keys.rotate"), ("ghost", "actor.resolve")]
    store += [(None, "store.init"), ("nadm", "keys.rotate")]
    operator = invoke(seeded, "audit", "--system", "--as", "adm", "--json").json()
    seen = {(r["actor"], r["action"]) for r in operator}
    assert set(store) <= seen and ("nadm", "staff.add") in seen
    for admin in ("nadm", "eadm"):
        shown = invoke(seeded, "audit", "--system", "--as", admin, "--json")
        assert shown.exit_code == 0, shown.stderr
        rows = {(r["actor"], r["action"]) for r in shown.json()}
        assert not rows & set(store), admin
        assert all(action.startswith(("staff.", "audit.")) for _, action in rows), rows
    agency = {
        (r["actor"], r["action"])
        for r in invoke(seeded, "audit", "--system", "--as", "nadm", "--json").json()
    }
    assert ("nadm", "staff.add") in agency
