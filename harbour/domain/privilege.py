"""Who may do what: by role, and on one case by the actor's tie to it. Pure rules, values in and
out; ``harbour.access`` asks them for every service.

Two questions, in this order:

1. May the role do the action at all (``PERMISSIONS``)? Asked before the case is looked up, so a
   refused role answers the same whether the case is another agency's or none at all.
2. On a case of the actor's own agency, may this actor do it (``refusal``)? Caseworkers act on
   the cases assigned to them and on those they cover (an explicit, time-limited cover with a
   reason, of which the supervisors are told); supervisors on every case of their agency;
   coordinators read a case in full while intake needs it (until it has a caseworker), then
   its summary: reference, status, caseworker, due dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from harbour.domain.vocab import Role

C, W, S, A = Role.COORDINATOR, Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN

PERMISSIONS: dict[str, frozenset[Role]] = {
    "case.refer": frozenset({C, S}),
    "case.assign": frozenset({C, S}),
    # A case's summary: reference, status, caseworker, due dates (the schedule included).
    "case.summary": frozenset({C, W, S}),
    # The whole case: its identifying details and its plan.
    "case.read": frozenset({C, W, S}),
    "case.list": frozenset({C, W, S}),
    "case.assess": frozenset({W, S}),
    "case.plan": frozenset({W, S}),
    "case.discharge": frozenset({W, S}),
    # People and threat sources after referral.
    "case.edit": frozenset({W, S}),
    # Starting a cover of a colleague's case (caseworkers); ending covers (supervisors too).
    "case.cover": frozenset({W, S}),
    "case.override": frozenset({S}),
    "case.close": frozenset({S}),
    "case.reopen": frozenset({S}),
    "case.audit": frozenset({S}),
    # The agency's audit rows that belong to no case: staff changes, refusals, sign-ins (and,
    # for operators, the store's own trail besides).
    "audit.system": frozenset({A}),
    # Every role may see the agency's alerts (no case content); acknowledging one is narrower:
    # those it paged, supervisors and admins (harbour.notify.alerts.may_acknowledge).
    "alert.ack": frozenset({C, W, S, A}),
    # An admin manages the staff of their own agency only.
    "staff.manage": frozenset({A}),
    # ... and where their agency's mail and chat go (the settings that make staff routes).
    "agency.delivery": frozenset({A}),
    # ... and their agency as the agencies page shows it (operators: every agency).
    "agency.list": frozenset({A}),
    # Coordinators and supervisors assign cases, so they see who is there to take them.
    "staff.list": frozenset({C, S, A}),
    "notify.manage": frozenset({A, S}),
    # Store-wide operations (STORE_WIDE): the installation's operators alone.
    "agency.add": frozenset({A}),
    "keys.rotate": frozenset({A}),
    "keys.status": frozenset({A}),
    "store.copy": frozenset({A}),
    "staff.operator": frozenset({A}),
    # A youth gone missing, its reporting steps and their return: those who work the case.
    "case.missing": frozenset({W, S}),
    "case.missing.read": frozenset({W, S}),
    # An episode recorded in error (the wrong case, a mistyped time) withdrawn: supervisors.
    "case.missing.withdraw": frozenset({S}),
    # Staff who go out on visits; every role may list and read the visits it may see.
    "visit.start": frozenset({C, W, S}),
    "visit.read": frozenset({C, W, S, A}),
    # A colleague reached some other way (a phone dead) is recorded back by a supervisor.
    "visit.record_back": frozenset({S}),
    # The agency's program figures (harbour report, the dashboard): aggregates, no case.
    "program.report": frozenset({S, A}),
}


def role_refusal(role: Role, action: str) -> str:
    """How a role that may not do ``action`` at all is refused (``PERMISSIONS``)."""
    return f"the {role} role may not do {action}"


# What only reads a case. Every other action on a case changes it, and holds the case's row
# for its transaction (``access.load_case``): two changes to one case queue, so each decides on
# what the other did (one open missing episode, one acknowledgement, one step numbered once).
READ_ONLY = frozenset({"case.read", "case.summary", "case.audit", "case.missing.read"})

# What reaches beyond one agency: every agency's data (a copy of the store, its keys), a new
# agency, who else is an operator. Only the installation's operators do it: the admin
# `harbour init` made, and the admins an operator named. Done or refused, it is audited in the
# store's own trail (rows of no agency), which only operators read (``harbour audit --system``).
STORE_WIDE = frozenset({"agency.add", "keys.rotate", "keys.status", "store.copy", "staff.operator"})

# What a caseworker does on a case only when it is assigned to them or they cover it.
ASSIGNED_ONLY = frozenset(
    {
        *("case.summary", "case.read", "case.assess", "case.plan", "case.discharge"),
        *("case.edit", "case.missing", "case.missing.read"),
    }
)
# What a coordinator does on a case only while it has no caseworker (intake).
INTAKE_ONLY = frozenset({"case.read"})


class Refusal(StrEnum):
    """Why an actor whose role may do an action may not do it on this case."""

    NOT_ASSIGNED = "not_assigned"
    INTAKE_DONE = "intake_done"


REFUSALS: dict[Refusal, str] = {
    Refusal.NOT_ASSIGNED: (
        "not assigned to you; ask your supervisor or start a cover (harbour case cover)"
    ),
    Refusal.INTAKE_DONE: (
        "the case has its caseworker: coordinators see its summary (harbour cases, "
        "harbour schedule), not its details or plan"
    ),
}


@dataclass(frozen=True)
class Standing:
    """An actor's tie to one case of their own agency."""

    role: Role
    assigned: bool  # the case's caseworker is the actor
    covering: bool  # the actor has a cover of the case that has not ended
    has_caseworker: bool  # the case is assigned to someone (intake is done)


def permitted(role: Role, action: str) -> bool:
    """May ``role`` do ``action`` at all (on some case, or without one)?"""
    return role in PERMISSIONS[action]


def refusal(standing: Standing, action: str) -> Refusal | None:
    """Why the actor may not do ``action`` (which their role permits) on this case, or None."""
    if (
        standing.role == Role.CASEWORKER
        and action in ASSIGNED_ONLY
        and not (standing.assigned or standing.covering)
    ):
        return Refusal.NOT_ASSIGNED
    if standing.role == Role.COORDINATOR and action in INTAKE_ONLY and standing.has_caseworker:
        return Refusal.INTAKE_DONE
    return None


def case_actions(standing: Standing) -> frozenset[str]:
    """Every action on a case the actor may do, by their role and their tie to the case."""
    return frozenset(
        action
        for action, roles in PERMISSIONS.items()
        if action.startswith("case.")
        and action not in ("case.refer", "case.list")
        and standing.role in roles
        and refusal(standing, action) is None
    )


class CoverRefusal(StrEnum):
    """Why a cover cannot start."""

    NOT_NEEDED_SUPERVISOR = "supervisor"
    NOT_NEEDED_ASSIGNED = "assigned"
    ALREADY_COVERING = "covering"


COVER_REFUSALS: dict[CoverRefusal, str] = {
    CoverRefusal.NOT_NEEDED_SUPERVISOR: "supervisors act on every case of their agency: no cover",
    CoverRefusal.NOT_NEEDED_ASSIGNED: "the case is assigned to you: no cover needed",
    CoverRefusal.ALREADY_COVERING: "you cover the case already: end that cover first (--end)",
}


def cover_refusal(standing: Standing) -> CoverRefusal | None:
    """Why this actor cannot start a cover of the case, or None: only a caseworker the case is
    not assigned to, and not twice at once."""
    if standing.role != Role.CASEWORKER:
        return CoverRefusal.NOT_NEEDED_SUPERVISOR
    if standing.assigned:
        return CoverRefusal.NOT_NEEDED_ASSIGNED
    if standing.covering:
        return CoverRefusal.ALREADY_COVERING
    return None


def cover_hours(requested: int | None, default: int, maximum: int) -> int | None:
    """How long a cover lasts, in hours: ``requested`` (or the policy's default) if it is
    from 1 to the policy's maximum, else None (refused)."""
    hours = default if requested is None else requested
    return hours if 1 <= hours <= maximum else None
