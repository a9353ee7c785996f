"""Access: every command, for each role, on its own agency's case and on another agency's.

Expected outcomes come from the issues: only coordinators and supervisors refer and assign; only
supervisors read the audit trail; admins manage their agency's staff and read no case data; only
the installation's operators (admins `init` made or an operator named) add agencies and rotate
keys; a caseworker acts on the cases assigned to them, and a colleague's case is refused as "not
assigned to you" (issue 13, item 3); another agency's case answers exactly as a case that does
not exist. Every refusal is audited.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, update

from harbour.admin.staffing import StaffIn, create_staff
from harbour.app import App
from harbour.cases import intake
from harbour.db.models import AuditEvent
from harbour.domain.privilege import REFUSALS, Refusal
from harbour.domain.vocab import Role
from tests.db.helpers import write_referral
from tests.support import agency_admin, invoke, referral

# "caseworker" is the case's own; "colleague" another caseworker of the same agency.
ACTORS = {
    "coordinator": "coord",
    "caseworker": "cw1",
    "colleague": "cw2",
    "supervisor": "sup",
    "admin": "nadm",  # an agency admin, not an operator (added by each test that needs one)
    "operator": "adm",
}
OWN, OTHER = "own agency", "other agency"
NOT_ASSIGNED = REFUSALS[Refusal.NOT_ASSIGNED]
_fresh = itertools.count()


@dataclass(frozen=True)
class Command:
    name: str
    args: Callable[[str, Path], list[str]]  # (case reference, folder) -> argv
    allowed: frozenset[str]
    on_a_case: bool = True

    def role_permits(self, role: str) -> bool:
        """The role may do it (on some case): a colleague is a caseworker by role."""
        return role in self.allowed or (role == "colleague" and "caseworker" in self.allowed)


def _new_staff(app: App) -> str:
    handle = f"temp{next(_fresh)}"
    app.run(
        lambda uow: create_staff(uow, StaffIn(handle=handle, agency="north", role=Role.CASEWORKER))
    )
    return handle


def commands(app: App) -> list[Command]:
    case_roles = frozenset({"coordinator", "caseworker", "supervisor"})
    listing = case_roles | {"colleague"}
    admin = frozenset({"admin", "operator"})
    operator = frozenset({"operator"})
    return [
        Command("case show", lambda ref, _: ["case", "show", ref], case_roles),
        Command(
            "assign",
            lambda ref, _: ["assign", ref, "cw1"],  # already theirs: the table stays as it is
            frozenset({"coordinator", "supervisor"}),
        ),
        Command("audit", lambda ref, _: ["audit", ref], frozenset({"supervisor"})),
        Command(
            "refer",
            lambda _, d: [
                "refer",
                "--file",
                str(write_referral(d, referral("Ac"))),
                "--allow-duplicate",
            ],
            frozenset({"coordinator", "supervisor"}),
            on_a_case=False,
        ),
        Command("cases", lambda *_: ["cases"], listing, on_a_case=False),
        Command(
            "agency add", lambda *_: ["agency", "add", f"agency{next(_fresh)}"], operator, False
        ),
        Command(
            "staff add",
            lambda *_: [
                "staff",
                "add",
                f"new{next(_fresh)}",
                "--agency",
                "north",
                "--role",
                "caseworker",
            ],
            admin,
            False,
        ),
        Command(
            "staff list",
            lambda *_: ["staff", "list"],
            frozenset({"coordinator", "supervisor", "admin", "operator"}),
            False,
        ),
        Command(
            "staff deactivate", lambda *_: ["staff", "deactivate", _new_staff(app)], admin, False
        ),
        Command("keys rotate", lambda *_: ["keys", "rotate"], operator, False),
        Command("report", lambda *_: ["report"], frozenset({"supervisor"}) | admin, False),
        Command(
            "staff operator",
            lambda *_: ["staff", "operator", agency_admin(app, f"nadm{next(_fresh)}")],
            operator,
            False,
        ),
    ]


def _expected(command: Command, role: str, scope: str) -> str:
    if not command.role_permits(role):
        return "denied"
    if scope == OTHER:
        return "not_found"
    return "ok" if role in command.allowed else "not_assigned"


def _audit_count(app: App, handle: str, outcome: str) -> int:
    with app.engine.connect() as conn:
        query = select(func.count()).where(
            AuditEvent.actor_handle == handle, AuditEvent.outcome == outcome
        )
        return conn.scalar(query) or 0


def _check(
    app: App, tmp_path: Path, command: Command, role: str, scope: str, ref: str
) -> list[str]:
    """Run one cell of the table; returns what went other than expected."""
    handle, expected = ACTORS[role], _expected(command, role, scope)
    audit_outcome = {"ok": "ok", "not_found": "not_found"}.get(expected, "denied")
    before = _audit_count(app, handle, audit_outcome)
    result = invoke(app, *command.args(ref, tmp_path), "--as", handle)
    got = {0: "ok"}.get(result.exit_code, "error")
    if expected == "denied" and "not_permitted" in result.stderr:
        got = "denied"
    if expected == "not_assigned" and result.stderr == f"error: not_assigned: {NOT_ASSIGNED}\n":
        got = "not_assigned"
    if expected == "not_found" and result.stderr == "error: case_not_found: no such case\n":
        got = "not_found"
    problems = []
    if got != expected:
        problems.append(f"{command.name} as {role} on {scope}: {expected} expected, got {result}")
    if (_audit_count(app, handle, audit_outcome) <= before and command.name != "keys rotate") or (
        expected != "ok" and _audit_count(app, handle, audit_outcome) != before + 1
    ):
        problems.append(f"{command.name} as {role} on {scope}: no '{audit_outcome}' audit event")
    return problems


def test_every_command_for_every_role_and_agency(seeded: App, tmp_path: Path) -> None:
    agency_admin(seeded)
    own = intake.refer(seeded, "coord", referral("Ao", caseworker="cw1"), None).reference
    other = intake.refer(seeded, "coord2", referral("At"), None).reference
    problems = []
    for command in commands(seeded):
        scopes = [(OWN, own), (OTHER, other)] if command.on_a_case else [(OWN, own)]
        for role, (scope, ref) in itertools.product(ACTORS, scopes):
            problems += _check(seeded, tmp_path, command, role, scope, ref)
    assert problems == []


def test_another_agencys_case_answers_as_no_case(seeded: App) -> None:
    other = intake.refer(seeded, "coord2", referral("An"), None).reference
    absent = "HB-0000-0000-0000-0000-0000-0000-0000"
    for args in (["case", "show"], ["assign"], ["audit"]):
        extra = ["cw1"] if args == ["assign"] else []
        theirs = invoke(seeded, *args, other, *extra, "--as", "sup")
        nobody = invoke(seeded, *args, absent, *extra, "--as", "sup")
        assert (theirs.exit_code, theirs.stdout, theirs.stderr) == (
            nobody.exit_code,
            nobody.stdout,
            nobody.stderr,
        )
        short = invoke(seeded, *args, "-".join(other.split("-")[:3]), *extra, "--as", "sup")
        assert (short.exit_code, short.stderr) == (nobody.exit_code, nobody.stderr)


def test_unknown_or_inactive_actor_is_refused_and_audited(seeded: App) -> None:
    ref = intake.refer(seeded, "coord", referral("Au"), None).reference
    assert invoke(seeded, "staff", "deactivate", "cw2", "--as", "adm").exit_code == 0
    for handle in ("ghost", "cw2"):
        before = _audit_count(seeded, handle, "denied")
        result = invoke(seeded, "case", "show", ref, "--as", handle)
        assert result.exit_code == 1 and "unknown_actor" in result.stderr
        assert _audit_count(seeded, handle, "denied") == before + 1
    nobody = invoke(seeded, "cases")
    assert nobody.exit_code == 2 and "--as" in nobody.stderr


def test_admin_sees_no_case_data(seeded: App) -> None:
    intake.refer(seeded, "coord", referral("AdminSeesNot"), None)
    shown = invoke(seeded, "staff", "list", "--as", "adm", "--json")
    assert shown.exit_code == 0 and "AdminSeesNot" not in shown.stdout
    fields = {"handle", "agency", "role", "active", "on_call", "open_cases", "operator"}
    assert fields == set(shown.json()[0])


def _break_audit(app: App) -> None:
    """Make every audit write fail, as a full disk or a revoked grant would."""
    with app.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit down'); END"
            )
            return
        conn.exec_driver_sql(
            "CREATE FUNCTION no_audit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit down'; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION no_audit()"
        )


def _unbreak_audit(app: App) -> None:
    with app.engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER no_audit" + ("" if conn.dialect.name == "sqlite" else " ON audit_events")
        )
        if conn.dialect.name != "sqlite":
            conn.exec_driver_sql("DROP FUNCTION no_audit()")


def test_no_audit_no_operation(seeded: App) -> None:
    ref = intake.refer(seeded, "coord", referral("Na", caseworker="cw1"), None).reference
    _break_audit(seeded)
    try:
        shown = invoke(seeded, "case", "show", ref, "--as", "cw1")
        assigned = invoke(seeded, "assign", ref, "cw2", "--as", "coord")
    finally:
        _unbreak_audit(seeded)
    assert (shown.exit_code, shown.stdout) == (1, "")
    assert "Traceback" not in shown.stderr and "Na" not in shown.stderr
    assert assigned.exit_code == 1
    after = invoke(seeded, "case", "show", ref, "--as", "cw1", "--json").json()
    assert after["caseworker"] != "cw2"


def test_audit_lists_events_of_one_instant_in_the_order_they_happened(
    seeded: App, tmp_path: Path
) -> None:
    """The clock is frozen, so every event below has the same timestamp."""
    path = write_referral(tmp_path, referral("Sq"))
    ref = invoke(seeded, "refer", "--file", str(path), "--as", "coord", "--json").json()["case"]
    steps = [
        ("assign", ref, "cw1", "--as", "coord"),
        ("case", "show", ref, "--as", "cw1"),
        ("assign", ref, "cw2", "--as", "sup"),
        ("case", "show", ref, "--as", "cw2"),
        ("assign", ref, "cw1", "--as", "coord"),
        ("case", "show", ref, "--as", "sup"),
    ]
    for step in steps:
        assert invoke(seeded, *step).exit_code == 0, step
    # Rewrite the oldest rows in place: PostgreSQL stores their new versions after the others,
    # and read by a table scan, a listing that leaned on physical order would change its order.
    with seeded.engine.begin() as conn:
        conn.execute(
            update(AuditEvent)
            .where(AuditEvent.action.in_(["case.refer", "case.assign"]))
            .values(outcome="ok")
        )
    with _table_scans_only(seeded):
        trail = invoke(seeded, "audit", ref, "--as", "sup", "--json").json()
    assert len({row["at"] for row in trail}) == 1
    assert [(row["actor"], row["action"], row["details"]) for row in trail] == [
        ("coord", "case.refer", {}),
        (None, "case.assign", {"caseworker": "cw1"}),  # the initial-contact step
        ("coord", "case.assign", {}),  # already cw1's: nothing changed
        ("cw1", "case.read", {}),
        ("sup", "case.assign", {}),
        ("sup", "case.assign", {"caseworker": "cw2"}),
        ("cw2", "case.read", {}),
        ("coord", "case.assign", {}),
        ("coord", "case.assign", {"caseworker": "cw1"}),
        ("sup", "case.read", {}),
        ("sup", "case.audit", {}),
    ]


@contextmanager
def _table_scans_only(app: App) -> Iterator[None]:
    """PostgreSQL reads the audit table without its index, in physical order, while inside."""
    engine = app.engine
    if engine.dialect.name != "postgresql":
        yield
        return

    def no_index(conn: Any, _: Any) -> None:
        with conn.cursor() as cursor:
            cursor.execute("SET enable_indexscan = off; SET enable_bitmapscan = off")

    engine.dispose()
    event.listen(engine, "connect", no_index)
    try:
        yield
    finally:
        event.remove(engine, "connect", no_index)
        engine.dispose()
