"""Staff administration: deactivating someone with cases, who lists staff, admins scoped to their
agency, and a second `harbour init` with other names."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from harbour.access import Actor
from harbour.admin import staffing
from harbour.app import App, UnitOfWork
from harbour.cases import intake
from harbour.clock import FixedClock
from harbour.db.models import Agency, AuditEvent, Case, OutboxMessage, Staff
from harbour.domain.privilege import Standing
from harbour.errors import HarbourError
from tests.db.helpers import row_counts
from tests.support import agency_admin, given, invoke, referral


def _caseworkers(app: App) -> list[str | None]:
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(Staff.handle)
            .select_from(Case)
            .outerjoin(Staff, Staff.id == Case.caseworker_id)
            .order_by(Case.created_at, Case.id)
        )
        return [handle for (handle,) in rows]


def _active(app: App, handle: str) -> bool:
    with app.engine.connect() as conn:
        return bool(conn.scalar(select(Staff.active).where(Staff.handle == handle)))


def test_deactivating_someone_with_open_cases_is_refused_until_they_are_reassigned(
    seeded: App,
) -> None:
    for marker in ("Da", "Db"):
        intake.refer(seeded, "coord", referral(marker, caseworker="cw1"), None)
    counts = row_counts(seeded)
    refused = invoke(seeded, "staff", "deactivate", "cw1", "--as", "adm")
    assert refused.exit_code == 1
    assert "2 open case(s)" in refused.stderr and "harbour assign" in refused.stderr
    assert "--reassign-to" in refused.stderr
    assert _active(seeded, "cw1") and _caseworkers(seeded) == ["cw1", "cw1"]
    assert {k: v for k, v in row_counts(seeded).items() if k != "audit_events"} == {
        k: v for k, v in counts.items() if k != "audit_events"
    }

    for bad in ("cw1", "coord", "cw3", "nobody"):  # itself, no caseworker, other agency, none
        wrong = invoke(seeded, "staff", "deactivate", "cw1", "--reassign-to", bad, "--as", "adm")
        assert wrong.exit_code == 2 and "--reassign-to" in wrong.stderr, bad
    assert _active(seeded, "cw1")

    moved = invoke(
        seeded, "staff", "deactivate", "cw1", "--reassign-to", "cw2", "--as", "adm", "--json"
    )
    assert moved.exit_code == 0, moved
    assert moved.json() == {
        "handle": "cw1",
        "active": False,
        "reassigned": 2,
        "reassigned_to": "cw2",
        "dead_lettered": 0,
        "warning": None,
    }
    assert not _active(seeded, "cw1") and _caseworkers(seeded) == ["cw2", "cw2"]
    with seeded.engine.connect() as conn:
        told = conn.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "case_assigned", OutboxMessage.recipient == "cw2")
        )
        assigned = conn.execute(
            select(AuditEvent.case_id).where(
                AuditEvent.action == "case.assign", AuditEvent.actor_handle == "adm"
            )
        ).all()
    assert told == 2  # each reassignment tells the new caseworker, as `harbour assign` does
    assert len({case_id for (case_id,) in assigned}) == 2


def test_deactivating_someone_without_open_cases_needs_no_reassignment(seeded: App) -> None:
    done = invoke(seeded, "staff", "deactivate", "cw2", "--as", "adm", "--json")
    assert done.exit_code == 0 and done.json()["reassigned"] == 0
    assert not _active(seeded, "cw2")


def test_deactivating_someone_with_a_visit_out_is_refused_until_it_ends(
    seeded: App, clock: FixedClock
) -> None:
    # Deactivated while out, nobody could end their visit: only the visitor checks in.
    from harbour.cases import visits

    back = (clock.now() + timedelta(hours=1)).isoformat()
    out = visits.start_visit(seeded, "cw2", back_at=back, location="MKDEACTIVATEVISIT")
    counts = row_counts(seeded)
    refused = invoke(seeded, "staff", "deactivate", "cw2", "--as", "adm")
    assert refused.exit_code == 1 and _active(seeded, "cw2")
    assert f"cw2 has a visit out (visit {out.id[:12]})" in refused.stderr
    assert "harbour visit record-back" in refused.stderr and "MKDEACTIVATE" not in refused.stderr
    assert {k: v for k, v in row_counts(seeded).items() if k != "audit_events"} == {
        k: v for k, v in counts.items() if k != "audit_events"
    }
    visits.check_in(seeded, "cw2")
    assert invoke(seeded, "staff", "deactivate", "cw2", "--as", "adm").exit_code == 0
    assert not _active(seeded, "cw2")


def test_coordinators_and_supervisors_list_their_agencys_active_staff(seeded: App) -> None:
    assert invoke(seeded, "staff", "deactivate", "cw2", "--as", "adm").exit_code == 0
    for handle in ("coord", "sup"):
        listed = invoke(seeded, "staff", "list", "--as", handle, "--json")
        assert listed.exit_code == 0, listed
        assert listed.json() == [
            {"handle": "adm", "role": "admin"},
            {"handle": "coord", "role": "coordinator"},
            {"handle": "cw1", "role": "caseworker"},
            {"handle": "sup", "role": "supervisor"},
        ]
    human = invoke(seeded, "staff", "list", "--as", "coord")
    assert "cw1" in human.stdout and "cw2" not in human.stdout and "cw3" not in human.stdout
    refused = invoke(seeded, "staff", "list", "--as", "cw1")
    assert refused.exit_code == 1 and "not_permitted" in refused.stderr


def test_admins_manage_their_own_agencys_staff_only(seeded: App) -> None:
    listed = invoke(seeded, "staff", "list", "--as", "adm", "--json").json()
    assert {row["agency"] for row in listed} == {"north"}
    assert {"cw2", "cw1"} <= {row["handle"] for row in listed}
    assert "cw3" not in {row["handle"] for row in listed}

    counts = row_counts(seeded)
    other = invoke(
        seeded,
        "staff",
        "add",
        "intruder",
        "--agency",
        "south",
        "--role",
        "caseworker",
        "--as",
        "adm",
    )
    assert other.exit_code == 1 and "not_permitted" in other.stderr
    gone = invoke(seeded, "staff", "deactivate", "cw3", "--as", "adm")
    missing = invoke(seeded, "staff", "deactivate", "nobody", "--as", "adm")
    assert (gone.exit_code, gone.stderr) == (missing.exit_code, missing.stderr)
    assert _active(seeded, "cw3")
    assert row_counts(seeded)["staff"] == counts["staff"]
    with seeded.engine.connect() as conn:
        denied = conn.scalar(
            select(func.count()).where(
                AuditEvent.actor_handle == "adm",
                AuditEvent.action == "staff.manage",
                AuditEvent.outcome == "denied",
            )
        )
    assert denied == 1

    # A new agency comes with its own admin, who adds its staff.
    made = invoke(seeded, "agency", "add", "east", "--admin", "eadm", "--as", "adm", "--json")
    assert made.exit_code == 0 and made.json()["admin"] == "eadm"
    added = invoke(
        seeded, "staff", "add", "ecw", "--agency", "east", "--role", "caseworker", "--as", "eadm"
    )
    assert added.exit_code == 0, added
    east = invoke(seeded, "staff", "list", "--as", "eadm", "--json").json()
    assert {(r["handle"], r["agency"]) for r in east} == {("eadm", "east"), ("ecw", "east")}


def test_a_second_init_with_other_names_is_refused(app: App) -> None:
    assert invoke(app, "init", "--agency", "north", "--admin", "adm").exit_code == 0
    assert invoke(app, "init", "--agency", "north", "--admin", "adm").exit_code == 0  # same: ok
    for agency, admin in (("south", "adm2"), ("north", "adm2"), ("south", "adm")):
        again = invoke(app, "init", "--agency", agency, "--admin", admin)
        assert again.exit_code == 1, (agency, admin)
        assert "already_initialised" in again.stderr
        assert "harbour agency add" in again.stderr and "harbour staff add" in again.stderr
    with app.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Agency)) == 1
        assert conn.scalar(select(func.count()).select_from(Staff)) == 1


def test_init_makes_the_first_operator_who_names_others(app: App) -> None:
    made = invoke(app, "init", "--agency", "north", "--admin", "adm")
    assert made.exit_code == 0
    # init issues the first admin no enrolment link: it says how they get one for the console
    assert "harbour staff reset adm --as adm" in made.stdout
    north = ("--agency", "north", "--role", "admin")
    assert invoke(app, "staff", "add", "nadm", *north, "--as", "adm").exit_code == 0
    listed = invoke(app, "staff", "list", "--as", "adm", "--json").json()
    assert {(r["handle"], r["operator"]) for r in listed} == {("adm", True), ("nadm", False)}

    # An agency admin can neither add agencies, rotate keys, nor make operators.
    for args in (
        ("agency", "add", "east", "--admin", "eadm"),
        ("keys", "rotate"),
        ("staff", "add", "x", *north, "--operator"),
        ("staff", "operator", "nadm"),
    ):
        refused = invoke(app, *args, "--as", "nadm")
        assert refused.exit_code == 1 and "not_permitted" in refused.stderr, args
    assert (
        invoke(
            app,
            "staff",
            "add",
            "c",
            "--agency",
            "north",
            "--role",
            "caseworker",
            "--operator",
            "--as",
            "adm",
        ).exit_code
        == 2
    )  # only an admin is an operator

    # The operator names one by adding them, another by naming an admin who exists.
    assert invoke(app, "staff", "add", "op2", *north, "--operator", "--as", "adm").exit_code == 0
    made = invoke(app, "agency", "add", "east", "--admin", "eadm", "--as", "adm")
    assert made.exit_code == 0, made.stderr
    named = invoke(app, "staff", "operator", "eadm", "--as", "op2", "--json")
    assert named.json() == {"handle": "eadm", "operator": True}
    assert invoke(app, "keys", "rotate", "--as", "eadm").exit_code == 0
    assert invoke(app, "staff", "operator", "eadm", "--revoke", "--as", "adm").exit_code == 0
    assert invoke(app, "keys", "rotate", "--as", "eadm").exit_code == 1
    missing = invoke(app, "staff", "operator", "ghostadm", "--as", "adm")
    assert missing.exit_code == 1 and "staff_not_found" in missing.stderr

    # An agency admin cannot reset or deactivate an operator of their agency (a reset would
    # hand them the operator's sign-in), nor can the last operator be taken back.
    for args in (("staff", "reset", "op2"), ("staff", "deactivate", "op2")):
        refused = invoke(app, *args, "--as", "nadm")
        assert refused.exit_code == 1 and "not_permitted" in refused.stderr, args
    assert invoke(app, "staff", "deactivate", "op2", "--as", "adm").exit_code == 0
    last = invoke(app, "staff", "operator", "adm", "--revoke", "--as", "adm")
    assert last.exit_code == 1 and "last_operator" in last.stderr
    trail = invoke(app, "audit", "--system", "--as", "adm", "--json").json()
    assert [
        (row["action"], row["outcome"], row["details"])
        for row in trail
        if row["action"] == "staff.operator" and row["outcome"] != "ok"
    ][-1] == ("staff.operator", "denied", {"reason": "last_operator"})
    with app.engine.connect() as conn:
        operators = select(Staff.handle).where(Staff.operator.is_(True), Staff.active.is_(True))
        assert list(conn.scalars(operators)) == ["adm"]


def test_a_taken_handle_is_refused_without_saying_whose(seeded: App) -> None:
    """`staff add` with another agency's handle answered "a staff member with that handle
    exists": it now answers as for any handle that cannot be used (one's own agency's, an
    agency's name, a role or channel tag), and the attempt is in the store's trail (issue 13,
    item 13)."""
    counts = row_counts(seeded)
    add = ("staff", "add")
    tail = ("--agency", "north", "--role", "caseworker", "--as", "adm")
    answers = {
        handle: invoke(seeded, *add, handle, *tail)
        for handle in ("sup2", "cw1", "south", "oncall", "email")
    }
    assert {(r.exit_code, r.stderr) for r in answers.values()} == {
        (
            1,
            "error: handle_unavailable: that handle cannot be used (handles are unique across "
            "the installation): choose another\n",
        )
    }
    assert row_counts(seeded)["staff"] == counts["staff"]
    trail = invoke(seeded, "audit", "--system", "--as", "adm", "--json").json()
    refused = [r for r in trail if (r["action"], r["outcome"]) == ("staff.add", "denied")]
    assert len(refused) == 5 and {r["details"]["reason"] for r in refused} == {"handle_unavailable"}

    # `agency add` by an agency admin answers the same for a name in use and a free one: it is
    # the operators' alone, and no name is looked up for anyone else.
    agency_admin(seeded)
    taken = invoke(seeded, "agency", "add", "south", "--admin", "cw3", "--as", "nadm")
    free = invoke(seeded, "agency", "add", "nowhere", "--admin", "fresh", "--as", "nadm")
    assert (taken.exit_code, taken.stderr) == (free.exit_code, free.stderr)
    assert taken.exit_code == 1 and "not_permitted" in taken.stderr


def _role(app: App, handle: str) -> str | None:
    with app.engine.connect() as conn:
        return conn.scalar(select(Staff.role).where(Staff.handle == handle))


def test_an_admin_changes_a_role_in_their_own_agency_only(seeded: App) -> None:
    """`harbour staff role`: one transaction, audited; refused for oneself, an operator (by a
    non-operator), another agency's account, a bad role, and someone whose open cases would
    have nobody to work them."""
    changed = invoke(seeded, "staff", "role", "cw2", "supervisor", "--as", "adm", "--json")
    assert changed.exit_code == 0, changed.stderr
    assert changed.json() == {
        "handle": "cw2",
        "role": "supervisor",
        "previous": "caseworker",
        "warning": None,
    }
    again = invoke(seeded, "staff", "role", "cw2", "supervisor", "--as", "adm")
    assert again.exit_code == 0 and "nothing changed" in again.stdout

    intake.refer(seeded, "coord", referral(marker="RL", caseworker="cw1"), None)
    nadm = agency_admin(seeded)
    counts = row_counts(seeded)
    busy = invoke(seeded, "staff", "role", "cw1", "coordinator", "--as", "adm")
    assert busy.exit_code == 1 and "open case(s)" in busy.stderr
    assert invoke(seeded, "staff", "role", "cw1", "king", "--as", "adm").exit_code == 2
    assert invoke(seeded, "staff", "role", "adm", "caseworker", "--as", "adm").exit_code == 2
    theirs = invoke(seeded, "staff", "role", "cw3", "supervisor", "--as", "adm")
    nobody = invoke(seeded, "staff", "role", "nobody", "supervisor", "--as", "adm")
    assert (theirs.exit_code, theirs.stderr) == (nobody.exit_code, nobody.stderr)
    operator = invoke(seeded, "staff", "role", "adm", "caseworker", "--as", nadm)
    assert operator.exit_code == 1 and "operator" in operator.stderr
    assert invoke(seeded, "staff", "role", "coord", "admin", "--as", "sup").exit_code == 1
    assert row_counts(seeded) == counts | {"audit_events": row_counts(seeded)["audit_events"]}
    assert [_role(seeded, h) for h in ("cw1", "cw3", "adm", "coord")] == [
        "caseworker",
        "caseworker",
        "admin",
        "coordinator",
    ]
    with seeded.engine.connect() as conn:
        done = conn.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == "staff.role", AuditEvent.outcome == "ok"
            )
        ).all()
    assert done == [{"handle": "cw2", "role": "supervisor", "previous": "caseworker"}]


def test_agencies_are_listed_for_operators_and_an_admin_sees_their_own(seeded: App) -> None:
    everyone = invoke(seeded, "agency", "list", "--as", "adm", "--json")
    assert [r["name"] for r in everyone.json()] == ["north", "south"]
    nadm = agency_admin(seeded)
    own = invoke(seeded, "agency", "list", "--as", nadm, "--json").json()
    assert [(r["name"], r["own"], r["mail"]) for r in own] == [("north", True, None)]
    assert invoke(seeded, "agency", "list", "--as", "sup").exit_code == 1


def test_keys_status_says_where_a_rotation_stands(seeded: App) -> None:
    from harbour.admin.keys import rotate

    before = invoke(seeded, "keys", "status", "--as", "adm", "--json").json()
    assert before["stale"] == 0 and before["finished"] and before["primary"] in before["versions"]
    assert invoke(seeded, "keys", "status", "--as", agency_admin(seeded)).exit_code == 1
    rotate(seeded)
    after = invoke(seeded, "keys", "status", "--as", "adm", "--json").json()
    assert after["primary"] != before["primary"] and len(after["versions"]) == 2
    assert after["finished"]


def test_a_cover_started_as_its_taker_s_role_changes_is_refused_or_ended(
    seeded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL: the role change commits while the cover is being started, after its taker's
    # role was read. The cover must not outlive the role: it is refused, nothing written. (A
    # role change that comes later waits for the cover, then ends it: ``end_covers_of``.)
    if seeded.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's writers queue: no role changes while a cover is written")
    from harbour.admin.staffing import change_role
    from harbour.cases import cover
    from harbour.db.models import CaseCover
    from harbour.errors import Conflict

    case = intake.refer(seeded, "coord", referral(marker="RC", caseworker="cw1"), None)
    standing = cover.standing

    def then_role_changed(uow: UnitOfWork, actor: Actor, case: Case) -> Standing:
        found = standing(uow, actor, case)
        change_role(seeded, "adm", "cw2", "supervisor")
        return found

    monkeypatch.setattr(cover, "standing", then_role_changed)
    with pytest.raises(Conflict, match="role changed"):
        cover.start_cover(seeded, "cw2", case.reference, "RC away", 4)
    assert _role(seeded, "cw2") == "supervisor"
    with seeded.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CaseCover)) == 0


def test_an_agency_is_not_named_as_a_handle_role_or_channel(seeded: App) -> None:
    """An agency's name is a routing tag (its team channels are ``role/agency`` routes): named
    as a staff member's handle, its on-call channel was a route of that person (another agency's
    caseworker), and named ``chat`` every chat route was one of its on-call channels. Such names
    are refused, as a taken handle is, and nothing is added."""
    counts = row_counts(seeded)
    for name in ("cw3", "oncall", "chat", "supervisor"):
        refused = invoke(seeded, "agency", "add", name, "--as", "adm")
        assert refused.exit_code == 1, name
        assert refused.stderr.startswith("error: name_unavailable: that name cannot be used"), name
    assert row_counts(seeded)["agencies"] == counts["agencies"]
    assert invoke(seeded, "agency", "add", "east", "--as", "adm").exit_code == 0


def test_an_agency_admin_cannot_change_where_an_operator_is_reached(seeded: App) -> None:
    """An operator's enrolment link, after a reset (their own included), goes to their own
    route. An agency admin who could set the operator's email or chat address to one of their
    own would receive it, and sign in as the operator: what refusing them `staff reset` is
    for. So, as a reset and a deactivation, an operator's contact details are changed by an
    operator only; the refusal is audited, and nothing is written."""
    nadm = agency_admin(seeded)

    def sealed() -> tuple[str | None, str | None]:
        with seeded.engine.connect() as conn:
            found = conn.execute(
                select(Staff.email_sealed, Staff.chat_sealed).where(Staff.handle == "adm")
            ).one()
        return found.email_sealed, found.chat_sealed

    before = sealed()
    for options in (("--email", given("mine@staff.test")), ("--chat", given("mine")),
                    ("--clear", "email")):  # fmt: skip
        refused = invoke(seeded, "staff", "contact", "adm", *options, "--as", nadm)
        assert refused.exit_code == 1 and "not_permitted" in refused.stderr, options
        assert "mine" not in refused.stderr
    assert sealed() == before
    with seeded.engine.connect() as conn:
        denied = conn.scalar(
            select(func.count()).where(
                AuditEvent.actor_handle == nadm,
                AuditEvent.action == "staff.contact",
                AuditEvent.outcome == "denied",
            )
        )
    assert denied == 3
    # The operator sets their own, and an agency admin anyone else's of the agency.
    done = invoke(
        seeded, "staff", "contact", "adm", "--email", given("op@staff.test"), "--as", "adm"
    )
    assert done.exit_code == 0, done.stderr
    assert sealed() != before
    theirs = invoke(
        seeded, "staff", "contact", "cw1", "--email", given("c@staff.test"), "--as", nadm
    )
    assert theirs.exit_code == 0, theirs.stderr


NEITHER = "Nobody in the agency is on call and no supervisor is left"
NO_SUPERVISOR = "No supervisor is left in the agency"


def test_taking_the_last_supervisor_or_on_call_away_is_said(seeded: App) -> None:
    """`staff on-call --off` said when nobody was left on call; deactivating the agency's only
    supervisor (also its only one on call), or making them a caseworker, said nothing, and
    escalations went to the admins from then on. Each now says who is paged instead, in the
    words `on-call` uses, and only when the person changed was the last of a tier."""
    quiet = invoke(seeded, "staff", "deactivate", "cw2", "--as", "adm", "--json")
    assert quiet.exit_code == 0 and quiet.json()["warning"] is None

    demoted = invoke(seeded, "staff", "role", "sup", "caseworker", "--as", "adm")
    assert demoted.exit_code == 0, demoted.stderr
    assert NO_SUPERVISOR in demoted.stdout and "escalations page the admins" in demoted.stdout
    off = invoke(seeded, "staff", "on-call", "sup", "--off", "--as", "adm")
    assert off.exit_code == 0 and NEITHER in off.stdout
    assert "page the supervisors" not in off.stdout  # as it said, with none left

    assert invoke(seeded, "staff", "on-call", "sup", "--as", "adm").exit_code == 0
    assert invoke(seeded, "staff", "role", "sup", "supervisor", "--as", "adm").exit_code == 0
    gone = invoke(seeded, "staff", "deactivate", "sup", "--as", "adm", "--json")
    assert gone.exit_code == 0, gone.stderr
    assert NEITHER in gone.json()["warning"] and "page the admins" in gone.json()["warning"]


def test_on_call_off_gives_its_warning_in_json_as_role_and_deactivate_do(seeded: App) -> None:
    # `staff on-call --off --json` said nobody_on_call only: a script reading it did not learn
    # that no supervisor was left either, which `staff role` and `staff deactivate` give.
    assert invoke(seeded, "staff", "role", "sup", "caseworker", "--as", "adm").exit_code == 0
    off = invoke(seeded, "staff", "on-call", "sup", "--off", "--as", "adm", "--json")
    assert off.exit_code == 0, off.stderr
    assert NEITHER in off.json()["warning"] and off.json()["nobody_on_call"] is True
    on = invoke(seeded, "staff", "on-call", "sup", "--as", "adm", "--json")
    assert on.exit_code == 0 and on.json()["warning"] is None


@pytest.mark.parametrize("change", ["role", "deactivate"])
def test_two_admins_taking_each_other_away_at_once_leave_one(
    seeded: App, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    # PostgreSQL: nadm and nadm2, north's agency admins, each make the other a caseworker (or
    # deactivate them) at the same moment. Each checked that they were an admin before the
    # other's change committed, and both changes committed: an agency with no admin, whose
    # staff nobody could manage any more (an operator manages their own agency's only), and
    # whose alert ladders ended with nobody. The second must find it is no longer an admin.
    _postgres_only(seeded)
    first, second = agency_admin(seeded), agency_admin(seeded, "nadm2")

    def take_away(actor: str, whom: str) -> None:
        if change == "role":
            staffing.change_role(seeded, actor, whom, "caseworker")
        else:
            staffing.deactivate_staff(seeded, actor, whom)

    other = _Meanwhile(lambda: take_away(second, first))
    other.before_the_guard(monkeypatch)
    take_away(first, second)
    other.over()
    with seeded.engine.connect() as conn:
        admins = conn.scalars(
            select(Staff.handle).where(
                Staff.role == "admin", Staff.active.is_(True), Staff.handle.in_([first, second])
            )
        ).all()
    assert admins == [first]
    assert len(other.refused) == 1


def test_an_attempt_on_another_agencys_account_is_audited_and_answers_as_none(
    seeded: App,
) -> None:
    """`staff reset|deactivate|role|on-call|contact` on another agency's account answered as
    for a handle of no one, and left no audit row anywhere (a handle taken by another agency
    given to `staff add` is in the store's trail). Each attempt is now in the actor's agency's
    trail as a miss, and, when the handle is another agency's, in the store's trail, where
    operators see it; the answers stay alike."""
    nadm = agency_admin(seeded)
    attempts = [
        ("reset",),
        ("deactivate",),
        ("role", "supervisor"),
        ("on-call",),
        ("contact", "--email", given("x@staff.test")),
    ]
    for args in attempts:
        theirs = invoke(seeded, "staff", args[0], "cw3", *args[1:], "--as", nadm)
        nobody = invoke(seeded, "staff", args[0], "zz9", *args[1:], "--as", nadm)
        assert theirs.exit_code == nobody.exit_code == 1, args
        assert theirs.stderr == nobody.stderr and "staff_not_found" in theirs.stderr, args
    with seeded.engine.connect() as conn:
        found = conn.execute(
            select(AuditEvent.agency_id, AuditEvent.action, AuditEvent.outcome, AuditEvent.details)
            .where(AuditEvent.actor_handle == nadm)
            .order_by(AuditEvent.seq)
        ).all()
    actions = ["staff.reset", "staff.deactivate", "staff.role", "staff.on_call", "staff.contact"]
    store = [
        (a, d["handle"]) for agency, a, o, d in found if agency is None and o == "other_agency"
    ]
    assert store == [(action, "cw3") for action in actions]
    misses = [(a, d["handle"]) for agency, a, o, d in found if agency and o == "not_found"]
    assert misses == [(action, who) for action in actions for who in ("cw3", "zz9")]
    shown = invoke(seeded, "audit", "--system", "--as", nadm, "--json").json()
    assert not [r for r in shown if r["outcome"] == "other_agency"]  # operators' to see


def test_an_operator_gives_an_agency_with_no_admin_its_first(seeded: App) -> None:
    """An agency added without --admin (or whose admins are all gone) could never get staff:
    an admin adds their own agency's only. An operator may add its first admin, and nothing
    more: once it has one, that admin adds its staff."""
    assert invoke(seeded, "agency", "add", "east", "--as", "adm").exit_code == 0
    east = ("--agency", "east")
    worker = invoke(seeded, "staff", "add", "ecw", *east, "--role", "caseworker", "--as", "adm")
    assert worker.exit_code == 1 and "not_permitted" in worker.stderr, worker
    assert "no admin yet" in worker.stderr  # the way out is named
    # an agency admin who is no operator may not, even for an agency with none
    north = ("--agency", "north", "--role", "admin")
    assert invoke(seeded, "staff", "add", "nadm", *north, "--as", "adm").exit_code == 0
    other = invoke(seeded, "staff", "add", "x", *east, "--role", "admin", "--as", "nadm")
    assert other.exit_code == 1 and "not_permitted" in other.stderr, other
    first = invoke(seeded, "staff", "add", "eadm", *east, "--role", "admin", "--as", "adm")
    assert first.exit_code == 0, first
    second = invoke(seeded, "staff", "add", "eadm2", *east, "--role", "admin", "--as", "adm")
    assert second.exit_code == 1 and "not_permitted" in second.stderr, second
    added = invoke(seeded, "staff", "add", "ecw", *east, "--role", "caseworker", "--as", "eadm")
    assert added.exit_code == 0, added
    with seeded.engine.connect() as conn:
        recorded = conn.execute(
            select(AuditEvent.agency_id, AuditEvent.details).where(
                AuditEvent.action == "staff.add", AuditEvent.actor_handle == "adm"
            )
        ).all()
    handles = [(agency is None, details["handle"]) for agency, details in recorded]
    assert handles == [(False, "nadm"), (True, "eadm")]


@pytest.mark.parametrize("change", ["revoke", "deactivate"])
def test_two_operators_taking_each_other_away_at_once_leave_one(
    seeded: App, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    # PostgreSQL: adm and op2, the installation's two operators (both of north), at the same
    # moment: op2 takes adm's operator standing back while adm takes op2's (or deactivates
    # op2). Each found itself an operator, and two of them, before the other's change
    # committed: the installation was left with none, and nobody could copy the store, rotate
    # its keys or add an agency. The second must find it is no longer an operator.
    _postgres_only(seeded)
    north = ("--agency", "north", "--role", "admin", "--operator")
    assert invoke(seeded, "staff", "add", "op2", *north, "--as", "adm").exit_code == 0
    other = _Meanwhile(lambda: staffing.set_operator(seeded, "op2", "adm", operator=False))
    other.before_the_guard(monkeypatch)
    count = staffing._operators

    def counting(uow: UnitOfWork) -> int:
        counted = count(uow)  # two, before the other's change
        other.start()
        return counted

    monkeypatch.setattr(staffing, "_operators", counting)
    if change == "revoke":
        staffing.set_operator(seeded, "adm", "op2", operator=False)
    else:
        staffing.deactivate_staff(seeded, "adm", "op2")
    other.over()
    with seeded.engine.connect() as conn:
        operators = conn.scalars(
            select(Staff.handle).where(Staff.operator.is_(True), Staff.active.is_(True))
        ).all()
    assert operators == ["adm"]
    assert len(other.refused) == 1


def test_an_admin_named_an_operator_meanwhile_is_not_deactivated_by_a_plain_admin(
    seeded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL: nadm (an agency admin, no operator) deactivates nadm2 while adm, an operator,
    # names nadm2 an operator. The deactivation reads nadm2 as no operator before the naming
    # commits; it must not then deactivate an operator, which only an operator may do (the
    # account's version, moved by the naming, makes it a stale write, refused).
    _postgres_only(seeded)
    plain, target = agency_admin(seeded), agency_admin(seeded, "nadm2")
    other = _Meanwhile(lambda: staffing.set_operator(seeded, "adm", target, operator=True))
    other.before_the_guard(monkeypatch)
    try:
        staffing.deactivate_staff(seeded, plain, target)
    except HarbourError as exc:
        other.refused.append(exc)  # this one refused, then
    other.over()
    with seeded.engine.connect() as conn:
        operator, active = conn.execute(
            select(Staff.operator, Staff.active).where(Staff.handle == target)
        ).one()
    assert not (operator and not active)  # an operator is deactivated by operators only
    assert len(other.refused) == 1  # one of the two refused


class _Meanwhile:
    """Another staff change (``work``) made at the same moment as this one: on a thread of its
    own, started once from inside this one's transaction (``start``, patched in where the race
    lies), and given 3 s, done unless it waits for this change to commit. What it was refused
    is kept (``refused``); ``over`` waits for it to end."""

    def __init__(self, work: Callable[[], object]) -> None:
        self.refused: list[HarbourError] = []
        self.thread = threading.Thread(target=self._run, args=(work,))
        self.started = False

    def _run(self, work: Callable[[], object]) -> None:
        try:
            work()
        except HarbourError as exc:
            self.refused.append(exc)

    def start(self) -> None:
        if threading.current_thread() is not self.thread and not self.started:
            self.started = True
            self.thread.start()
            self.thread.join(timeout=3)

    def before_the_guard(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Started as this change asks ``guard_operator``, its actor and account read."""
        guard = staffing.guard_operator

        def guarding(uow: UnitOfWork, actor: Actor, staff: Staff, action: str) -> None:
            self.start()
            guard(uow, actor, staff, action)

        monkeypatch.setattr(staffing, "guard_operator", guarding)

    def over(self) -> None:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def _postgres_only(app: App) -> None:
    if app.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's writers queue: one change commits before the other begins")
