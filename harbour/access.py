"""Who may do what, agency scoping, and the audit trail.

Every read and write of a case is audited in the same transaction as the work; a denied attempt
is audited in a transaction of its own, since the work it asked for is rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select

from harbour.app import App, UnitOfWork
from harbour.db.models import Agency, AuditEvent, Case, Staff
from harbour.domain import refs
from harbour.domain.text import escaped
from harbour.domain.vocab import Role
from harbour.errors import Forbidden, InvalidInput, NotFound

T = TypeVar("T")

C, W, S, A = Role.COORDINATOR, Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN

PERMISSIONS: dict[str, frozenset[Role]] = {
    "case.refer": frozenset({C, S}),
    "case.assign": frozenset({C, S}),
    "case.read": frozenset({C, W, S}),
    "case.list": frozenset({C, W, S}),
    "case.assess": frozenset({W, S}),
    "case.plan": frozenset({W, S}),
    "case.discharge": frozenset({W, S}),
    # People and threat sources after referral: a caseworker only on their own cases.
    "case.edit": frozenset({W, S}),
    "case.override": frozenset({S}),
    "case.close": frozenset({S}),
    "case.reopen": frozenset({S}),
    "case.audit": frozenset({S}),
    # The agency's audit rows that belong to no case: staff changes, key rotations, refusals.
    "audit.system": frozenset({A}),
    # Every role may see the agency's alerts (no case content); acknowledging one is narrower:
    # those it paged, supervisors and admins (harbour.notify.alerts.may_acknowledge).
    "alert.ack": frozenset({C, W, S, A}),
    "agency.manage": frozenset({A}),
    "staff.manage": frozenset({A}),
    # Coordinators and supervisors assign cases, so they see who is there to take them.
    "staff.list": frozenset({C, S, A}),
    "keys.rotate": frozenset({A}),
    "notify.manage": frozenset({A, S}),
    # A youth gone missing, its reporting steps and their return: anyone who works the case.
    "case.missing": frozenset({C, W, S}),
    # Staff who go out on visits; every role may list and read the visits it may see.
    "visit.start": frozenset({C, W, S}),
    "visit.read": frozenset({C, W, S, A}),
}


@dataclass(frozen=True)
class Actor:
    staff_id: str
    handle: str
    agency_id: str
    role: Role


def resolve_actor(uow: UnitOfWork, handle: str | None) -> Actor:
    if not handle:
        raise InvalidInput([("--as", "say who is acting (--as HANDLE or HARBOUR_ACTOR)")])
    staff = uow.session.scalar(select(Staff).where(Staff.handle == handle))
    if staff is None or not staff.active:
        _audit_denied(uow, handle, None, None, "actor.resolve")
        raise Forbidden("unknown_actor", "no active staff member with that handle")
    return Actor(staff.id, staff.handle, staff.agency_id, Role(staff.role))


def agency_zone(uow: UnitOfWork, agency_id: str) -> ZoneInfo:
    """The agency's time zone: its due dates, its "today" and the times shown to its staff (the
    installation's default zone only for an agency that is not there)."""
    agency = uow.session.get(Agency, agency_id)
    return ZoneInfo(agency.timezone if agency else uow.app.settings.timezone)


def agency_today(uow: UnitOfWork, agency_id: str) -> date:
    """Today's date where the agency is: what a date of birth must not be after."""
    return uow.now().astimezone(agency_zone(uow, agency_id)).date()


def caseworker(uow: UnitOfWork, agency_id: str, handle: str) -> Staff | None:
    """The agency's active staff member ``handle`` if they can take cases (caseworkers and
    supervisors), else None."""
    return uow.session.scalar(
        select(Staff).where(
            Staff.handle == handle,
            Staff.agency_id == agency_id,
            Staff.active.is_(True),
            Staff.role.in_([Role.CASEWORKER, Role.SUPERVISOR]),
        )
    )


def authorize(uow: UnitOfWork, actor: Actor, action: str, case_id: str | None = None) -> None:
    if actor.role not in PERMISSIONS[action]:
        _audit_denied(uow, actor.handle, actor.agency_id, case_id, action)
        raise Forbidden("not_permitted", f"the {actor.role} role may not do {action}")


def deny(uow: UnitOfWork, actor: Actor, action: str, case_id: str | None, why: str) -> None:
    """Refuse ``action`` for a reason beyond the actor's role, audited (on the case, if any)."""
    _audit_denied(uow, actor.handle, actor.agency_id, case_id, action)
    raise Forbidden("not_permitted", why)


def refuse_missing(uow: UnitOfWork, actor: Actor, action: str, code: str, what: str) -> NoReturn:
    """Answer a record that is missing, or another agency's (the same answer), audited."""
    _audit_denied(uow, actor.handle, actor.agency_id, None, action, outcome="not_found")
    raise NotFound(code, what)


def audit(
    uow: UnitOfWork, actor: Actor | None, action: str, case_id: str | None = None, **details: Any
) -> None:
    """Record an audited action in the current transaction. Details must be operational."""
    handle, agency_id = (actor.handle, actor.agency_id) if actor else (None, None)
    uow.session.add(audit_event(uow, handle, agency_id, case_id, action, "ok", details))


def load_case(uow: UnitOfWork, actor: Actor, typed_ref: str, action: str) -> Case:
    """The actor's agency's case for a typed reference; audited. Others' cases do not exist.

    The case is looked up (within the actor's agency) before the role is checked, so that a
    refusal is audited on the case and its supervisor sees it in ``harbour audit``. A refused
    role answers the same whether the case is another agency's or none at all. An attempt on
    another agency's case is audited on that case too (``other_agency``); the actor's own
    ``not_found`` row keeps the reference they typed.
    """
    prefix = refs.normalise_typed(typed_ref)
    if prefix is None:
        raise InvalidInput([("reference", "not a case reference (HB-XXXX-XXXX...)")])
    matches = uow.session.scalars(
        select(Case)
        .where(Case.agency_id == actor.agency_id, Case.reference.startswith(prefix))
        .limit(2)
    ).all()
    found = matches[0] if len(matches) == 1 else None
    if not matches:
        _record_probe(uow, actor, prefix, action)
    authorize(uow, actor, action, found.id if found else None)
    if found is None:
        _audit_denied(
            uow, actor.handle, actor.agency_id, None, action, "not_found", reference=prefix
        )
        if matches:
            raise InvalidInput([("reference", "matches more than one case; type more of it")])
        raise NotFound("case_not_found", "no such case")
    audit(uow, actor, action, found.id)
    return found


def _record_probe(uow: UnitOfWork, actor: Actor, prefix: str, action: str) -> None:
    """An attempt on another agency's case, kept on that case, where its supervisors see it in
    ``harbour audit`` (the actor's answer stays that of a missing case)."""
    owners = uow.session.scalars(
        select(Case.id)
        .where(Case.agency_id != actor.agency_id, Case.reference.startswith(prefix))
        .limit(2)
    ).all()
    if len(owners) == 1:
        _audit_denied(uow, actor.handle, actor.agency_id, owners[0], action, "other_agency")


def on_case(
    app: App,
    actor_handle: str | None,
    ref: str,
    action: str,
    work: Callable[[UnitOfWork, Actor, Case], T],
) -> T:
    """One transaction on a case: resolve the actor, find the case within the actor's agency
    (``load_case``: audited, refused if the role may not do ``action``), then do ``work``."""

    def run(uow: UnitOfWork) -> T:
        actor = resolve_actor(uow, actor_handle)
        return work(uow, actor, load_case(uow, actor, ref, action))

    return app.run(run)


def _audit_denied(
    uow: UnitOfWork,
    handle: str | None,
    agency_id: str | None,
    case_id: str | None,
    action: str,
    outcome: str = "denied",
    **details: Any,
) -> None:
    typed = escaped(handle)[:64] if handle else None  # may be anything typed
    uow.record_after_rollback(audit_event(uow, typed, agency_id, case_id, action, outcome, details))


def audit_event(
    uow: UnitOfWork,
    handle: str | None,
    agency_id: str | None,
    case_id: str | None,
    action: str,
    outcome: str,
    details: dict[str, Any],
) -> AuditEvent:
    """One audit row, stamped now: the only place one is made."""
    return AuditEvent(
        at=uow.now(),
        actor_handle=handle,
        agency_id=agency_id,
        case_id=case_id,
        action=action,
        outcome=outcome,
        details=details,
    )
