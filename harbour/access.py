"""Who may do what, agency scoping, and the audit trail.

Every read and write of a case is audited in the same transaction as the work; a denied attempt
is audited in a transaction of its own, since the work it asked for is rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, bindparam, exists, select

from harbour.app import App, UnitOfWork
from harbour.db.models import Agency, AuditEvent, Case, CaseCover, Staff
from harbour.domain import privilege, refs
from harbour.domain.privilege import Refusal, Standing
from harbour.domain.text import escaped, is_handle
from harbour.domain.vocab import Role
from harbour.errors import Forbidden, HarbourError, InvalidInput, NotFound

T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    staff_id: str
    handle: str
    agency_id: str
    role: Role
    operator: bool = False  # one of the installation's operators (an admin; see STORE_WIDE)


# Built once: every command and page resolves its actor, and building a statement costs more
# than running it (issue 16). The columns only, by Core: loading a Staff row cost three times
# the query itself. With them the agency's zone, which most work asks for next: one round trip.
_STAFF, _AGENCY = Staff.__table__.c, Agency.__table__.c
_STAFF_BY_HANDLE = (
    select(
        _STAFF.id,
        _STAFF.handle,
        _STAFF.agency_id,
        _STAFF.role,
        _STAFF.active,
        _STAFF.operator,
        _AGENCY.timezone,
    )
    .join_from(Staff.__table__, Agency.__table__)
    .where(_STAFF.handle == bindparam("handle"))
)
_AGENCY_ZONE = select(_AGENCY.timezone).where(_AGENCY.id == bindparam("id"))


def resolve_actor(uow: UnitOfWork, handle: str | None) -> Actor:
    if not handle:
        raise InvalidInput([("--as", "say who is acting (--as HANDLE or HARBOUR_ACTOR)")])
    staff = (
        uow.session.execute(_STAFF_BY_HANDLE, {"handle": handle}).first()
        if is_handle(handle)
        else None
    )
    if staff is None or not staff.active:
        # Kept as typed only when it could be a handle: anything else may be what should never
        # be kept (a password typed into the wrong place), as console sign-in keeps none.
        _audit_denied(
            uow, handle if is_handle(handle) else "not a handle", None, None, "actor.resolve"
        )
        typed = escaped(handle)
        shown = typed if len(typed) <= 64 else typed[:64] + "..."
        raise Forbidden("unknown_actor", f"no active staff member has the handle '{shown}'")
    role = Role(staff.role)
    _remember_zone(uow, staff.agency_id, staff.timezone)
    return Actor(
        staff.id, staff.handle, staff.agency_id, role, staff.operator and role == Role.ADMIN
    )


def agency_zone(uow: UnitOfWork, agency_id: str) -> ZoneInfo:
    """The agency's time zone: its due dates, its "today" and the times shown to its staff (the
    installation's default zone only for an agency that is not there). Read once per
    transaction (an agency's zone is set when it is created, and never changed)."""
    zone: ZoneInfo | None = uow.memo.get(_zone_memo(agency_id))
    if zone is None:
        zone = _remember_zone(uow, agency_id, uow.session.scalar(_AGENCY_ZONE, {"id": agency_id}))
    return zone


def agency_zones(uow: UnitOfWork) -> list[str]:
    """Every agency's time zone, each named once: read once per transaction (the sweep's
    reminders and protective orders both work out dates and cutoffs from them)."""
    zones: list[str] | None = uow.memo.get("access.zones")
    if zones is None:
        zones = uow.memo["access.zones"] = list(
            uow.session.scalars(select(Agency.timezone).distinct())
        )
    return zones


def _zone_memo(agency_id: str) -> str:
    return f"access.zone:{agency_id}"


def _remember_zone(uow: UnitOfWork, agency_id: str, name: str | None) -> ZoneInfo:
    zone = uow.memo[_zone_memo(agency_id)] = ZoneInfo(name or uow.app.settings.timezone)
    return zone


def agency_today(uow: UnitOfWork, agency_id: str) -> date:
    """Today's date where the agency is: what a date of birth must not be after."""
    return today_in(uow, agency_zone(uow, agency_id))


def today_in(uow: UnitOfWork, zone: ZoneInfo) -> date:
    """Today's date in ``zone`` (an agency's, already looked up)."""
    return uow.now().astimezone(zone).date()


def caseworker(uow: UnitOfWork, agency_id: str, handle: str) -> Staff | None:
    """The agency's active staff member ``handle`` if they can take cases (caseworkers and
    supervisors), else None."""
    if not is_handle(handle):
        return None
    return uow.session.scalar(
        select(Staff).where(
            Staff.handle == handle,
            Staff.agency_id == agency_id,
            Staff.active.is_(True),
            Staff.role.in_([Role.CASEWORKER, Role.SUPERVISOR]),
        )
    )


def authorize(uow: UnitOfWork, actor: Actor, action: str, case_id: str | None = None) -> None:
    """Refuse (audited) an action the actor may not do at all: a store-wide one unless an
    operator (``privilege.STORE_WIDE``), else one the role may not do (``PERMISSIONS``)."""
    if action in privilege.STORE_WIDE and not actor.operator:
        _audit_denied(uow, actor.handle, None, None, action)  # in the store's trail
        raise Forbidden("not_permitted", f"only the installation's operators may do {action}")
    if not privilege.permitted(actor.role, action):
        _audit_denied(uow, actor.handle, actor.agency_id, case_id, action)
        raise Forbidden("not_permitted", privilege.role_refusal(actor.role, action))


def deny(uow: UnitOfWork, actor: Actor, action: str, case_id: str | None, why: str) -> None:
    """Refuse ``action`` for a reason beyond the actor's role, audited (on the case, if any)."""
    _audit_denied(uow, actor.handle, actor.agency_id, case_id, action)
    raise Forbidden("not_permitted", why)


def colleague(uow: UnitOfWork, actor: Actor, handle: str, action: str) -> Staff:
    """The active account ``handle`` of the actor's agency, for ``action`` (one of another
    agency is answered as nobody's: ``refuse_missing_staff``).

    Raises:
        NotFound: code ``staff_not_found``.
    """
    staff = uow.session.scalar(
        select(Staff).where(
            Staff.handle == handle, Staff.agency_id == actor.agency_id, Staff.active.is_(True)
        )
    )
    if staff is None:
        refuse_missing_staff(uow, actor, action, handle, "no active staff member with that handle")
    return staff


def refuse_missing_staff(
    uow: UnitOfWork, actor: Actor, action: str, handle: str, what: str
) -> NoReturn:
    """Answer an account that is not the actor's agency's (none, or another agency's: the same
    answer), audited: as a miss in the actor's agency's trail, and, when the handle is another
    agency's, in the store's trail too, where operators see an attempt that touched another
    agency (as ``staff add`` with another agency's handle is)."""
    typed = handle if is_handle(handle) else "not a handle"  # may be anything typed
    elsewhere = select(Staff.id).where(Staff.handle == handle, Staff.agency_id != actor.agency_id)
    theirs = is_handle(handle) and uow.session.scalar(elsewhere.limit(1)) is not None
    refuse_not_ours(uow, actor, action, theirs, "staff_not_found", what, handle=typed)


def refuse_not_ours(
    uow: UnitOfWork, actor: Actor, action: str, theirs: bool, code: str, what: str, **details: Any
) -> NoReturn:
    """Answer a record that is not the actor's agency's as a missing one, audited as a miss in
    the actor's agency's trail, and, when it is another agency's (``theirs``), in the store's
    trail too. ``details``: operational values only (what was named)."""
    if theirs:
        _audit_denied(uow, actor.handle, None, None, action, "other_agency", **details)
    _audit_denied(uow, actor.handle, actor.agency_id, None, action, "not_found", **details)
    raise NotFound(code, what)


def guard_operator(uow: UnitOfWork, actor: Actor, staff: Staff, action: str) -> None:
    """An operator's account is changed (reset, deactivated, its role or where it is reached)
    by an operator only: an agency admin who could reset it, or send its next enrolment link to
    an address of their own, could then sign in as the operator."""
    if staff.operator and not actor.operator:
        deny(uow, actor, action, None, "only an operator may change an operator's account")


def refuse_in_store_trail(
    uow: UnitOfWork, actor: Actor, action: str, error: HarbourError, **details: Any
) -> NoReturn:
    """Refuse with ``error``, audited in the store's trail by its code: where operators see an
    attempt that touched another agency (the actor's answer says nothing of whose it was), or
    a store-wide operation refused. ``details``: operational values only."""
    _audit_denied(uow, actor.handle, None, None, action, reason=error.code, **details)
    raise error


def refuse_missing(uow: UnitOfWork, actor: Actor, action: str, code: str, what: str) -> NoReturn:
    """Answer a record that is missing, or another agency's (the same answer), audited."""
    _audit_denied(uow, actor.handle, actor.agency_id, None, action, outcome="not_found")
    raise NotFound(code, what)


def refuse_hidden(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    case_id: str | None,
    code: str,
    what: str,
    **details: Any,
) -> NoReturn:
    """Answer a record of the actor's own agency that they may not see exactly as a missing one
    (``refuse_missing``: which records exist is not theirs to know), audited as a refusal on its
    case, where its supervisors see the attempt."""
    _audit_denied(uow, actor.handle, actor.agency_id, case_id, action, why="not_visible", **details)
    raise NotFound(code, what)


def audit(
    uow: UnitOfWork, actor: Actor | None, action: str, case_id: str | None = None, **details: Any
) -> None:
    """Record an audited action in the current transaction. Details must be operational."""
    handle, agency_id = (actor.handle, actor.agency_id) if actor else (None, None)
    uow.add(audit_event(uow, handle, agency_id, case_id, action, "ok", details))


def audit_store(uow: UnitOfWork, actor: Actor | None, action: str, **details: Any) -> None:
    """Record a store-wide operation in the store's own trail (no agency: operators read it)."""
    handle = actor.handle if actor else None
    uow.session.add(audit_event(uow, handle, None, None, action, "ok", details))


def operator(uow: UnitOfWork, actor_handle: str | None, action: str) -> Actor:
    """The operator doing a store-wide ``action`` (refused and audited for anyone else)."""
    actor = resolve_actor(uow, actor_handle)
    authorize(uow, actor, action)
    return actor


def store_operation(
    uow: UnitOfWork, actor_handle: str | None, action: str, **details: Any
) -> Actor:
    """The operator doing a store-wide ``action`` (``operator``), with its start recorded in
    the store's trail."""
    actor = operator(uow, actor_handle, action)
    audit_store(uow, actor, action, **details)
    return actor


def load_case(
    uow: UnitOfWork,
    actor: Actor,
    typed_ref: str,
    action: str,
    otherwise: str | None = None,
    *,
    recorded_as: str | None = None,
    access_row: bool = True,
) -> Case:
    """The actor's agency's case for a typed reference; audited. Others' cases do not exist.

    On a case of their own agency the actor must also stand where the rule lets them do
    ``action`` (``privilege.refusal``: a caseworker on a case assigned to them or that they
    cover, a coordinator in full only until the case has a caseworker); if not, and they may
    do ``otherwise`` (a lesser read, e.g. ``case.summary``), the case is theirs for that, and
    audited as that. Otherwise the refusal says why, plainly (it is their own agency's case),
    and is audited on the case.

    The case is looked up (within the actor's agency) before the role is checked, so that a
    refusal is audited on the case and its supervisor sees it in ``harbour audit``. A refused
    role answers the same whether the case is another agency's or none at all. An attempt on
    another agency's case is audited on that case too (``other_agency``); the actor's own
    ``not_found`` row keeps the reference they typed.

    ``recorded_as``: the name of the ``ok`` row when ``action`` is only asked about, not done
    (may this actor assess, before the questions are shown): a refusal is of ``action``.
    ``access_row``: False when the caller writes the ``ok`` row itself (``audit_access``), so
    that a replay answers with its own row only (a refusal is audited here all the same).

    An action that changes the case (not ``privilege.READ_ONLY``, not only asked about) holds
    the case's row until the transaction ends.
    """
    prefix = refs.normalise_typed(typed_ref)
    if prefix is None:
        raise InvalidInput([("reference", "not a case reference (HB-XXXX-XXXX...)")])
    query = select(Case).where(Case.agency_id == actor.agency_id, Case.reference.startswith(prefix))
    if action not in privilege.READ_ONLY and recorded_as is None:
        # Held until the transaction ends (PostgreSQL; SQLite's writers queue on its one lock).
        query = query.with_for_update(key_share=True)  # FOR NO KEY UPDATE: inserts of rows
        # referring to the case (events, pages) take KEY SHARE and must not wait on it
    matches = uow.session.scalars(query.limit(2)).all()
    found = matches[0] if len(matches) == 1 else None
    if not matches:
        _record_probe(uow, actor, prefix, action)
    authorize(uow, actor, action, found.id if found else None)
    if found is None:
        _audit_denied(
            uow, actor.handle, actor.agency_id, None, action, "not_found", reference=prefix
        )
        if matches:
            raise InvalidInput(
                [("reference", "ambiguous: matches more than one case; type more of it")],
                code="ambiguous_reference",
            )
        raise NotFound("case_not_found", "no such case")
    tie = standing(uow, actor, found)
    why = privilege.refusal(tie, action)
    if why is not None and otherwise is not None and privilege.refusal(tie, otherwise) is None:
        action, why, recorded_as = otherwise, None, None
    if why is not None:
        _audit_denied(uow, actor.handle, actor.agency_id, found.id, action, why=why.value)
        code = "not_assigned" if why == Refusal.NOT_ASSIGNED else "not_permitted"
        raise Forbidden(code, privilege.REFUSALS[why])
    if access_row:
        audit_access(uow, actor, found, recorded_as or action)
    return found


def audit_access(uow: UnitOfWork, actor: Actor, case: Case, action: str) -> None:
    """The ``ok`` row of the actor's access to a case for ``action`` (``load_case``)."""
    audit(uow, actor, action, case.id)


def standing(uow: UnitOfWork, actor: Actor, case: Case) -> Standing:
    """The actor's tie to a case of their agency: what ``privilege.refusal`` decides on."""
    assigned = case.caseworker_id == actor.staff_id
    covering = (
        actor.role == Role.CASEWORKER
        and not assigned
        and uow.session.scalar(
            select(
                exists().where(
                    CaseCover.case_id == case.id,
                    CaseCover.staff_id == actor.staff_id,
                    cover_active(uow.now()),
                )
            )
        )
    )
    return Standing(actor.role, assigned, bool(covering), case.caseworker_id is not None)


def may(uow: UnitOfWork, actor: Actor, case: Case, action: str) -> bool:
    """May the actor do ``action`` on this case of their agency (asked, not audited)?"""
    return privilege.permitted(actor.role, action) and (
        privilege.refusal(standing(uow, actor, case), action) is None
    )


def cover_active(now: datetime) -> ColumnElement[bool]:
    """A cover that has started and has neither run out nor been ended, at ``now``."""
    return and_(CaseCover.started_at <= now, CaseCover.ends_at > now, CaseCover.ended_at.is_(None))


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
    otherwise: str | None = None,
    *,
    commutes: bool = False,
    recorded_as: str | None = None,
    access_row: bool = True,
) -> T:
    """One transaction on a case: resolve the actor, find the case within the actor's agency
    (``load_case``: audited, refused if the role, or the actor's tie to the case, does not
    allow ``action``, nor ``otherwise`` if given), then do ``work`` (retried whole after a
    stale conflict when it ``commutes``: see ``App.run``). ``recorded_as`` and
    ``access_row``: see ``load_case``."""

    def run(uow: UnitOfWork) -> T:
        actor = resolve_actor(uow, actor_handle)
        case = load_case(
            uow, actor, ref, action, otherwise, recorded_as=recorded_as, access_row=access_row
        )
        return work(uow, actor, case)

    return app.run(run, commutes=commutes)


def _audit_denied(
    uow: UnitOfWork,
    handle: str | None,
    agency_id: str | None,
    case_id: str | None,
    action: str,
    /,
    outcome: str = "denied",
    **details: Any,  # a detail may be named ``handle`` too (the account an attempt named)
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
