"""Access to the domain commands (issue 3) and to case edits: every command, for each role, on
its own agency's case and on another agency's, each cell on a case in the state the command
needs (a fresh one after the command went through). A caseworker acts on the case assigned to
them ("caseworker"); another caseworker of the agency ("colleague") is refused as "not assigned
to you"; a coordinator, once the case has its caseworker, sees its summary (the schedule) and not
its plan (issue 13, item 3). Refusals and misses are audited; another agency's case (or alert)
answers exactly as one that does not exist, and so does an alert of their own agency the person
may not see.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from harbour.app import App
from harbour.db.models import AuditEvent, Case
from tests.cli.helpers import answers_file
from tests.db.helpers import write_referral
from tests.support import given, invoke, recorded_unpaged, referral

ROLES = {
    "coordinator": "coord",
    "caseworker": "cw1",
    "colleague": "cw2",
    "supervisor": "sup",
    "admin": "adm",
}
AGENCY_STAFF = {
    "north": {"coordinator": "coord", "caseworker": "cw1", "supervisor": "sup"},
    "south": {"coordinator": "coord2", "caseworker": "cw3", "supervisor": "sup2"},
}
ABSENT_CASE = "HB-0000-0000-0000-0000-0000-0000-0000"
ABSENT_ALERT = "0123456789abcdef"
C, W, S, A, COLLEAGUE = "coordinator", "caseworker", "supervisor", "admin", "colleague"
_serial = itertools.count()


def _ok(app: App, *args: str) -> Any:
    result = invoke(app, *args, "--json")
    assert result.exit_code == 0 or recorded_unpaged(result), (args, result)
    return result.json()


@dataclass
class Ready:
    """A case brought to some state: its reference and what the command acts on."""

    ref: str
    item: str = ""
    alert: str = ""


def _referred(app: App, folder: Path, agency: str) -> Ready:
    staff = AGENCY_STAFF[agency]
    path = write_referral(folder, referral(f"Ad{next(_serial)}"))
    ref = _ok(app, "refer", "--file", str(path), "--as", staff[C])["case"]
    _ok(app, "assign", ref, staff[W], "--as", staff[C])
    return Ready(ref)


def _assessed(
    app: App, folder: Path, agency: str, point: str = "initial_contact", **answers: Any
) -> Ready:
    ready = _referred(app, folder, agency)
    staff = AGENCY_STAFF[agency]
    path = answers_file(app, folder, f"answers{next(_serial)}", **answers)
    done = _ok(app, "assess", ready.ref, "--point", point, "--answers", path, "--as", staff[W])
    items = _ok(app, "plan", "show", ready.ref, "--as", staff[S])["items"]
    suggested = next((i["key"] for i in items if i["state"] == "suggested"), "")
    emergency = next((i["key"] for i in items if i["section"] == "emergency"), "")
    return Ready(ready.ref, emergency or suggested, done.get("alert") or "")


def _imminent(app: App, folder: Path, agency: str) -> Ready:
    return _assessed(app, folder, agency, "incident", immediate_danger="yes")


def _discharge_pending(app: App, folder: Path, agency: str) -> Ready:
    ready = _assessed(app, folder, agency)
    path = answers_file(app, folder, f"answers{next(_serial)}")
    worker = AGENCY_STAFF[agency][W]
    _ok(app, "assess", ready.ref, "--point", "discharge", "--answers", path, "--as", worker)
    _ok(app, "plan", "finalize", ready.ref, "--leave-out-rest", "--as", worker)
    return ready


def _with_status(status: str) -> Callable[[App, Path, str], Ready]:
    def prepare(app: App, folder: Path, agency: str) -> Ready:
        ready = _assessed(app, folder, agency)
        with app.engine.begin() as conn:
            conn.execute(update(Case).where(Case.reference == ready.ref).values(status=status))
        return ready

    return prepare


@dataclass(frozen=True)
class Command:
    name: str
    prepare: Callable[[App, Path, str], Ready]
    args: Callable[[Ready], list[str]]
    allowed: frozenset[str]  # who gets it done on their own agency's case
    on_a_case: bool = True
    # Whose role may do it on some case (default: ``allowed``, a colleague as a caseworker):
    # on another agency's case they are answered "not found", not refused.
    by_role: frozenset[str] | None = None
    missing: str = "error: case_not_found: no such case\n"
    # Refused by what the record says (whom an alert paged), not by role alone: another
    # agency's record is not found before anything else is asked of it.
    refused_on_the_record: bool = False
    # Who may not even see the record (an alert of a case not theirs, not paged to them): on
    # their own agency's, answered exactly as a missing one, audited as a refusal.
    hidden_from: frozenset[str] = frozenset()

    def role_permits(self, role: str) -> bool:
        roles = self.allowed if self.by_role is None else self.by_role
        return role in roles or (role == COLLEAGUE and W in roles)


def commands() -> list[Command]:
    everyone, workers = frozenset({C, W, S, A, COLLEAGUE}), frozenset({W, S})
    reads, summary = frozenset({W, S}), frozenset({C, W, S})
    return [
        Command(
            "assess",
            _referred,
            lambda r: ["assess", r.ref, "--point", "initial_contact", "--answers", r.item],
            workers,
        ),
        Command(
            "override",
            _assessed,
            lambda r: ["override", r.ref, "--level", "high", "--reason", given("seen them")],
            frozenset({S}),
        ),
        Command("discharge", _discharge_pending, lambda r: ["discharge", r.ref], workers),
        Command("close", _with_status("closed"), lambda r: ["close", r.ref], frozenset({S})),
        Command("reopen", _with_status("discharged"), lambda r: ["reopen", r.ref], frozenset({S})),
        Command("schedule", _referred, lambda r: ["schedule", r.ref], summary),
        Command("plan show", _assessed, lambda r: ["plan", "show", r.ref], reads, by_role=summary),
        Command(
            "plan versions",
            _assessed,
            lambda r: ["plan", "versions", r.ref],
            reads,
            by_role=summary,
        ),
        Command("plan accept", _assessed, lambda r: ["plan", "accept", r.ref, r.item], workers),
        Command("plan reject", _assessed, lambda r: ["plan", "reject", r.ref, r.item], workers),
        Command(
            "plan add",
            _assessed,
            lambda r: [
                *("plan", "add", r.ref, "--section", "steps"),
                *("--text", given("call gran"), "--owner", "family"),
            ],
            workers,
        ),
        Command(
            "plan finalize",
            _assessed,
            lambda r: ["plan", "finalize", r.ref, "--leave-out-rest"],
            workers,
        ),
        Command("plan done", _imminent, lambda r: ["plan", "done", r.ref, r.item], workers),
        Command(
            "plan youth-copy",
            _assessed,
            lambda r: ["plan", "youth-copy", r.ref, "--hide-hotlines"],
            workers,
        ),
        Command(
            "ack",
            _imminent,
            lambda r: ["ack", r.alert],
            frozenset({S, A}),  # the table's coordinator and caseworker are not on call
            missing="error: alert_not_found: no such alert\n",
            refused_on_the_record=True,
            hidden_from=frozenset({C, COLLEAGUE}),  # the caseworker sees it, was not paged
        ),
        Command("alerts", _referred, lambda _: ["alerts"], everyone, on_a_case=False),
        Command(
            "case person add",
            _referred,
            lambda r: [
                *("case", "person", "add", r.ref, "--kind", "trusted_contact"),
                *("--name", given("Pat")),
            ],
            workers,
        ),
        Command(
            "case person edit",
            _referred,
            lambda r: ["case", "person", "edit", r.ref, "1", "--phone", given("555-0199")],
            workers,
        ),
        Command(
            "case threat add",
            _referred,
            lambda r: ["case", "threat", "add", r.ref, "--kind", "network"],
            workers,
        ),
        Command(
            "case threat edit",
            _referred,
            lambda r: [
                "case",
                "threat",
                "edit",
                r.ref,
                "0",
                "--protective-order-details",
                given("c2"),
            ],
            workers,
        ),
    ]


def _audits(app: App, handle: str, outcome: str) -> int:
    with app.engine.connect() as conn:
        query = select(func.count()).where(
            AuditEvent.actor_handle == handle, AuditEvent.outcome == outcome
        )
        return conn.scalar(query) or 0


def _absent(command: Command, ready: Ready) -> Ready:
    return Ready(ABSENT_CASE, ready.item, ABSENT_ALERT)


def _cell(
    app: App, folder: Path, command: Command, role: str, own: bool, ready: Ready
) -> tuple[list[str], bool]:
    """One cell of the table on the case ``ready``: what went other than expected, and whether
    the command went through (the case may no longer be in the state the command needs)."""
    handle = ROLES[role]
    if command.name == "assess":
        ready.item = answers_file(app, folder, f"answers{next(_serial)}")
    where = f"{command.name} as {role} on {'own' if own else 'other'} agency"
    allowed = role in command.allowed
    expected = "ok" if allowed and (own or not command.on_a_case) else "refused"
    permitted = command.role_permits(role)
    refused = (not allowed and own) or (not permitted and not command.refused_on_the_record)
    outcome = "ok" if expected == "ok" else "denied" if refused else "not_found"
    before = _audits(app, handle, outcome)
    result = invoke(app, *command.args(ready), "--as", handle)
    problems = []
    if expected == "ok" and result.exit_code != 0:
        problems.append(f"{where}: ok expected, got {result}")
    why = "not_assigned" if role == COLLEAGUE and permitted else "not_permitted"
    hidden = own and role in command.hidden_from
    if outcome == "denied" and hidden and (result.exit_code, result.stderr) != (1, command.missing):
        problems.append(f"{where}: hidden, answered as missing expected, got {result}")
    if outcome == "denied" and not hidden and not (result.exit_code == 1 and why in result.stderr):
        problems.append(f"{where}: {why} expected, got {result}")
    if outcome == "not_found" and (result.exit_code, result.stderr) != (1, command.missing):
        problems.append(f"{where}: not found expected, got {result}")
    audited = _audits(app, handle, outcome) > before
    if not audited and not (outcome == "not_found" and command.name == "ack"):
        problems.append(f"{where}: no '{outcome}' audit event")
    if command.on_a_case and not own:
        absent = invoke(app, *command.args(_absent(command, ready)), "--as", handle)
        if (absent.exit_code, absent.stdout, absent.stderr) != (
            result.exit_code,
            result.stdout,
            result.stderr,
        ):
            problems.append(f"{where}: answers unlike a missing one: {result} / {absent}")
    return problems, result.exit_code != 1  # refusals and misses exit 1


# One test per command (every role, both agencies), so the table's cells spread over workers.
@pytest.mark.parametrize("command", commands(), ids=lambda command: command.name.replace(" ", "-"))
def test_every_domain_command_for_every_role_and_agency(
    seeded: App, tmp_path: Path, command: Command
) -> None:
    problems: list[str] = []
    scopes = (True, False) if command.on_a_case else (True,)
    # A case per agency in the state the command needs, brought there again after a command went
    # through on it: a refusal changes nothing, so the next cell may use the same case.
    ready: dict[bool, Ready] = {}
    for role, own in itertools.product(ROLES, scopes):
        if own not in ready:
            ready[own] = command.prepare(seeded, tmp_path, "north" if own else "south")
        found, went_through = _cell(seeded, tmp_path, command, role, own, ready[own])
        problems += found
        if went_through:
            del ready[own]
    assert problems == [], json.dumps(problems, indent=1)
