"""Agencies and staff accounts: managed by admins, who read no case data; an admin manages their
own agency's staff, and the installation's operators add agencies and name other operators."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from harbour.access import (
    Actor,
    audit,
    audit_store,
    authorize,
    caseworker,
    colleague,
    deny,
    guard_operator,
    refuse_in_store_trail,
    refuse_missing_staff,
    resolve_actor,
)
from harbour.admin.contacts import ContactIn, delivery_of, seal_contact
from harbour.app import App, UnitOfWork
from harbour.auth import enrolment, sessions
from harbour.auth.enrolment import IssuedLink
from harbour.cases.cover import end_covers_of
from harbour.cases.reads import assign_case
from harbour.db.models import Agency, Case, Staff, Visit
from harbour.domain.text import Address, ChatAddress, Email, Handle, Phone, TimeZoneName
from harbour.domain.vocab import CaseStatus, Role
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.notify import directory, recipients
from harbour.notify.alerts import climb_now_where_nobody_is_left, page_newly_counted
from harbour.notify.outbox import dead_letter_recipient
from harbour.notify.routes import CHANNELS, ROLE_TAGS
from harbour.validation import parse


class AgencyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: Handle
    timezone: TimeZoneName
    address: Address | None = None
    phone: Phone | None = None


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    handle: Handle
    agency: Handle
    role: Role
    on_call: bool = False
    operator: bool = False  # one of the installation's operators: admins only
    email: Email | None = None
    chat: ChatAddress | None = None


def create_agency(uow: UnitOfWork, data: AgencyIn) -> Agency:
    """A new agency. Its name becomes a routing tag (``role/agency``: its team channels), so it
    may be no staff member's handle, role or channel: named ``cw3`` or ``chat``, an agency's
    on-call channel was a route of another agency's caseworker, or of every chat route."""
    if uow.session.scalar(select(Agency).where(Agency.name == data.name)) is not None:
        raise Conflict("agency_exists", "an agency with that name exists")
    if handle_unavailable(uow, data.name):
        why = "that name cannot be used (a staff member's handle, a role or a channel): choose another"
        raise Conflict("name_unavailable", why)
    agency = Agency(name=data.name, timezone=data.timezone, created_at=uow.now())
    uow.seal(agency, "address", data.address)
    uow.seal(agency, "phone", data.phone)
    uow.session.add(agency)
    uow.session.flush()
    return agency


def _unavailable() -> Conflict:
    why = "that handle cannot be used (handles are unique across the installation): choose another"
    return Conflict("handle_unavailable", why)


def handle_unavailable(uow: UnitOfWork, handle: str) -> bool:
    """Whether ``handle`` is taken: by a staff member of any agency, or as a routing tag (an
    agency's name, a role, a channel), which a person's own route must not be mistaken for.
    One answer for all of them, so that a refusal does not say which, nor whose."""
    if handle in ROLE_TAGS or handle in CHANNELS:
        return True
    taken = select(Staff.id).where(Staff.handle == handle)
    named = select(Agency.id).where(Agency.name == handle)
    return any(uow.session.scalar(q.limit(1)) is not None for q in (taken, named))


def create_staff(uow: UnitOfWork, data: StaffIn) -> Staff:
    agency = uow.session.scalar(select(Agency).where(Agency.name == data.agency))
    if agency is None:
        raise InvalidInput([("--agency", "no agency with that name")])
    if handle_unavailable(uow, data.handle):
        raise _unavailable()
    staff = Staff(
        agency_id=agency.id,
        handle=data.handle,
        role=data.role,
        active=True,
        on_call=data.on_call,
        operator=data.operator,
        created_at=uow.now(),
    )
    uow.session.add(staff)
    contact = ContactIn(email=data.email, chat=data.chat)
    if contact.email or contact.chat:
        seal_contact(uow, staff, contact, [])
    uow.session.flush()
    return staff


@dataclass(frozen=True)
class StaffRow:
    handle: str
    role: str
    agency: str
    active: bool
    on_call: bool
    open_cases: int
    operator: bool

    def as_json(self, full: bool) -> dict[str, object]:
        """Admins see the whole account; coordinators and supervisors the handle and role."""
        shown = asdict(self)
        return shown if full else {"handle": self.handle, "role": self.role}


@dataclass(frozen=True)
class AgencyRow:
    """An agency as its admins see it: no address or phone; with its first admin's enrolment
    link when one was issued."""

    name: str
    timezone: str
    enrolment: IssuedLink | None = None


def add_agency(
    app: App, actor_handle: str | None, *, enrol: bool = False, **fields: object
) -> AgencyRow:
    """A new agency (operators only); with ``admin``, its first admin, who manages its staff
    from then on (an admin manages the staff of their own agency only), and with ``enrol`` that
    admin's one-time enrolment link, as ``add_staff`` issues it. Audited in the store's
    trail."""
    admin = fields.pop("admin", None)
    fields.setdefault("timezone", app.settings.timezone)
    data = parse(AgencyIn, fields, prefix="--")
    admin_in = None
    if admin is not None:
        staff_fields = {"handle": admin, "agency": data.name, "role": Role.ADMIN}
        admin_in = parse(StaffIn, staff_fields, prefix="--admin")

    def work(uow: UnitOfWork) -> AgencyRow:
        actor = _admin(uow, actor_handle, "agency.add")
        agency = create_agency(uow, data)
        audit_store(uow, actor, "agency.add", agency_name=agency.name)
        link = None
        if admin_in is not None:
            staff = create_staff(uow, admin_in)
            audit_store(uow, actor, "staff.add", handle=staff.handle, role=staff.role)
            link = enrolment.issue(uow, actor, staff) if enrol else None
        return AgencyRow(agency.name, agency.timezone, link)

    return app.run(work)


@dataclass(frozen=True)
class AgencyListed:
    """An agency as the agencies page and ``agency list`` show it: no address or phone, and its
    mail and chat settings only as scheme and host (``contacts.delivery_of``), or None."""

    name: str
    timezone: str
    staff: int  # active accounts
    admins: int  # active admins
    mail: str | None
    chat: str | None
    own: bool  # the actor's agency

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def list_agencies(app: App, actor_handle: str | None) -> tuple[Actor, list[AgencyListed]]:
    """Every agency, for the installation's operators (audited in the store's trail); an
    agency's other admins see their own agency alone."""

    def work(uow: UnitOfWork) -> tuple[Actor, list[AgencyListed]]:
        actor = _admin(uow, actor_handle, "agency.list")
        active = (Staff.agency_id == Agency.id, Staff.active.is_(True))
        staff = select(func.count(Staff.id)).where(*active).scalar_subquery()
        admins = select(func.count(Staff.id)).where(*active, Staff.role == Role.ADMIN)
        query = select(Agency, staff, admins.scalar_subquery()).order_by(Agency.name)
        if not actor.operator:
            query = query.where(Agency.id == actor.agency_id)
        rows = []
        for agency, members, admin_count in uow.session.execute(query):
            shown = delivery_of(uow, agency)
            rows.append(
                AgencyListed(
                    agency.name,
                    agency.timezone,
                    members,
                    admin_count,
                    shown.mail,
                    shown.chat,
                    agency.id == actor.agency_id,
                )
            )
        if actor.operator:
            audit_store(uow, actor, "agency.list", count=len(rows))
        else:
            audit(uow, actor, "agency.list", count=len(rows))
        return actor, rows

    return app.run(work)


@dataclass(frozen=True)
class StaffAdded:
    handle: str
    role: str
    enrolment: IssuedLink | None


def add_staff(
    app: App, actor_handle: str | None, *, enrol: bool = False, **fields: object
) -> StaffAdded:
    """A new account of the admin's agency; with ``enrol``, its one-time enrolment link for the
    web console (sent to the person's own route if they have one, else returned to print). An
    operator may make the new admin an operator too (``operator``). A supervisor, one on call or
    an admin is paged about the agency's standing alerts whose tier counts them
    (``alerts.page_newly_counted``)."""
    data = parse(StaffIn, fields, prefix="--")
    if data.operator and data.role != Role.ADMIN:
        raise InvalidInput([("--operator", "only an admin can be an operator")])

    def work(uow: UnitOfWork) -> StaffAdded:
        actor = _admin(uow, actor_handle, "staff.manage")
        if data.operator:
            authorize(uow, actor, "staff.operator")
        own = data.agency == _agency_name(uow, actor)
        first = not own and actor.operator and _has_no_admin(uow, data.agency)
        if not own and not (first and data.role == Role.ADMIN):
            why = "admins manage their own agency's staff: an admin of that agency adds them"
            if first:
                why += " (it has no admin yet: as an operator, add its first with --role admin)"
            deny(uow, actor, "staff.manage", None, why)
        if handle_unavailable(uow, data.handle):  # maybe another agency's: operators see it
            refuse_in_store_trail(uow, actor, "staff.add", _unavailable())
        staff = create_staff(uow, data)
        page_newly_counted(uow, staff.agency_id, staff.handle)
        contact = [f for f in ("email", "chat") if getattr(data, f) is not None]
        said: dict[str, Any] = {"handle": staff.handle, "role": staff.role, "contact": contact}
        if first:  # another agency's first admin: in the store's trail, as `agency add` does
            audit_store(uow, actor, "staff.add", agency_name=data.agency, **said)
        else:
            audit(uow, actor, "staff.add", **said)
        if staff.operator:
            audit_store(uow, actor, "staff.operator", handle=staff.handle, operator=True)
        link = enrolment.issue(uow, actor, staff) if enrol else None
        return StaffAdded(staff.handle, staff.role, link)

    return app.run(work)


def list_staff(app: App, actor_handle: str | None) -> tuple[Actor, list[StaffRow]]:
    """The actor's agency's staff: every account, with open caseloads, for its admins; the
    active ones for coordinators and supervisors, who assign cases to them."""

    def work(uow: UnitOfWork) -> tuple[Actor, list[StaffRow]]:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "staff.list")
        open_cases = (
            select(func.count(Case.id))
            .where(Case.caseworker_id == Staff.id, Case.status != CaseStatus.CLOSED)
            .scalar_subquery()
        )
        query = (
            select(Staff, Agency.name, open_cases)
            .join(Agency, Agency.id == Staff.agency_id)
            .where(Staff.agency_id == actor.agency_id)
            .order_by(Staff.handle)
        )
        if actor.role != Role.ADMIN:
            query = query.where(Staff.active.is_(True))
        rows = [
            StaffRow(s.handle, s.role, name, s.active, s.on_call, count, s.operator)
            for s, name, count in uow.session.execute(query)
        ]
        audit(uow, actor, "staff.list", count=len(rows))
        return actor, rows

    return app.run(work)


@dataclass(frozen=True)
class Deactivated:
    handle: str
    reassigned: int
    reassigned_to: str | None
    dead_lettered: int = 0  # messages still waiting for them that had reached none of their routes
    warning: str | None = None  # they were the last on call or supervisor (``tier_left_empty``)


def deactivate_staff(
    app: App, actor_handle: str | None, handle: str, reassign_to: str | None = None
) -> Deactivated:
    """Deactivate an account of the admin's agency. Its open cases must go to someone first:
    refused while it has any, unless ``reassign_to`` takes them (each told, as by ``assign``);
    and refused while they have a visit out (``_refuse_if_out``).
    An alert waiting on them alone climbs at once (``climb_now_where_nobody_is_left``)."""

    def work(uow: UnitOfWork) -> Deactivated:
        actor = _admin_holding_agency(uow, actor_handle)
        staff = uow.session.scalar(
            select(Staff).where(Staff.handle == handle, Staff.agency_id == actor.agency_id)
        )
        if staff is None:
            why = "no staff member with that handle"
            refuse_missing_staff(uow, actor, "staff.deactivate", handle, why)
        if staff.id == actor.staff_id:
            raise InvalidInput([("HANDLE", "you cannot deactivate yourself")])
        if staff.operator:
            actor = _holding_operators(uow, actor_handle)
        guard_operator(uow, actor, staff, "staff.deactivate")
        _refuse_if_out(uow, staff)
        if reassign_to is not None and reassign_to == handle:
            raise InvalidInput([("--reassign-to", "names the account being deactivated")])
        if reassign_to is not None and not _can_take_cases(uow, actor, reassign_to):
            reason = "no active caseworker or supervisor with that handle in the agency"
            raise InvalidInput([("--reassign-to", reason)])
        # Held first, in id order, as a sweep's batch holds the cases it escalates
        # (``reminders._still_overdue``) and the order batch its cases: taken one by one as each
        # was given away, a case the batch held was waited for while holding a digest the batch
        # adds to next, a deadlock.
        held = uow.session.scalars(
            select(Case)
            .where(Case.caseworker_id == staff.id, Case.status != CaseStatus.CLOSED)
            .order_by(Case.id)
            .with_for_update(key_share=True)  # as ``load_case`` holds a case it changes
        ).all()
        cases = sorted(held, key=lambda case: (case.created_at, case.id))
        if cases and reassign_to is None:
            raise Conflict(
                "has_open_cases",
                f"{len(cases)} open case(s) are assigned to {staff.handle}: reassign each with "
                "`harbour assign REF HANDLE`, or give --reassign-to HANDLE to move them all",
            )
        for case in cases:
            assign_case(uow, actor, case, reassign_to or "")
        counted = _counted_in(staff)
        staff.active = False
        ended = sessions.end_all(uow, staff.id)
        # The alerts held before their pages, as an acknowledgement holds them (no deadlock).
        climbing = climb_now_where_nobody_is_left(uow, staff.handle)
        dead = dead_letter_recipient(uow, staff.handle, "recipient_deactivated")
        audit(
            uow,
            actor,
            "staff.deactivate",
            handle=staff.handle,
            reassigned=len(cases),
            sessions_ended=ended,
            dead_lettered=dead,
            alerts_climbing=climbing,
        )
        warning = tier_left_empty(uow, staff.agency_id, counted)
        moved_to = reassign_to if cases else None
        return Deactivated(staff.handle, len(cases), moved_to, dead, warning)

    return app.run(work)


def _refuse_if_out(uow: UnitOfWork, staff: Staff) -> None:
    """Refuse deactivating someone with a visit out: deactivated, they could never check in,
    and the visit stayed overdue in every supervisor's list. Their row is held first, so a visit
    they start meanwhile is either seen here or refused to them (``visits._open_visit``)."""
    uow.session.execute(select(Staff.id).where(Staff.id == staff.id).with_for_update())
    out = uow.session.scalar(
        select(Visit.id).where(Visit.staff_id == staff.id, Visit.back_at.is_(None)).limit(1)
    )
    if out is not None:
        raise Conflict(
            "has_open_visit",
            f"{staff.handle} has a visit out (visit {out[:12]}): end it first (they check in, "
            f"or a supervisor records them back: harbour visit record-back {out[:12]} "
            "--reason -), then deactivate",
        )


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    role: Role


@dataclass(frozen=True)
class RoleChanged:
    handle: str
    role: str
    previous: str
    warning: str | None = None  # they were the last supervisor (``tier_left_empty``)

    @property
    def changed(self) -> bool:
        return self.role != self.previous


CASE_ROLES = (Role.CASEWORKER, Role.SUPERVISOR)


def change_role(app: App, actor_handle: str | None, handle: str, role: str) -> RoleChanged:
    """Give an active account of the admin's agency another role. Refused for the admin's own
    account (the agency could be left with no admin), for an operator's (an operator is an
    admin: ``staff operator --revoke`` first), and while open cases are assigned to someone
    who would no longer take cases (reassign them first). Their console shows the new role at
    once; the routes (``role/agency`` tags) are worked out anew, and they are paged about the
    agency's standing alerts whose tier counts them now (``alerts.page_newly_counted``)."""
    data = parse(RoleIn, {"role": role}, prefix="--")

    def work(uow: UnitOfWork) -> RoleChanged:
        actor = _admin_holding_agency(uow, actor_handle)
        staff = colleague(uow, actor, handle, "staff.role")
        if staff.id == actor.staff_id:
            raise InvalidInput([("HANDLE", "you cannot change your own role")])
        guard_operator(uow, actor, staff, "staff.role")
        previous = Role(staff.role)
        if staff.operator and data.role != Role.ADMIN:
            why = "an operator is an admin: take that back first (harbour staff operator --revoke)"
            raise Conflict("operator_stays_admin", why)
        if previous == data.role:
            return RoleChanged(staff.handle, previous, previous)
        if data.role not in CASE_ROLES:
            open_cases = uow.session.scalar(
                select(func.count(Case.id)).where(
                    Case.caseworker_id == staff.id, Case.status != CaseStatus.CLOSED
                )
            )
            if open_cases:
                raise Conflict(
                    "has_open_cases",
                    f"{open_cases} open case(s) are assigned to {staff.handle}, and a "
                    f"{data.role} takes no cases: reassign them first (harbour assign REF HANDLE)",
                )
        counted = _counted_in(staff)
        staff.role = data.role
        if previous == Role.CASEWORKER:  # the only role that covers (supervisors need not)
            end_covers_of(uow, actor, staff)
        _counted_anew(uow, staff)
        audit(uow, actor, "staff.role", handle=staff.handle, role=data.role, previous=previous)
        warning = tier_left_empty(uow, staff.agency_id, counted - {_ON_CALL})
        return RoleChanged(staff.handle, data.role, previous, warning)

    return app.run(work)


def _counted_anew(uow: UnitOfWork, staff: Staff) -> None:
    """After a change of who ``staff`` is to the alert ladders (a role, on call): their routes
    are worked out anew; left out of a tier (the only supervisor made a caseworker), an alert
    waiting there climbs at once, as on a deactivation; counted in one, they are paged."""
    directory.forget(uow)
    climb_now_where_nobody_is_left(uow, staff.handle)
    page_newly_counted(uow, staff.agency_id, staff.handle)


NOBODY_ON_CALL = "Nobody in the agency is on call: imminent threats page the supervisors."
NO_SUPERVISOR = (
    "No supervisor is left in the agency: escalations page the admins (imminent threats, those "
    "on call first)."
)
NOBODY_AT_ALL = (
    "Nobody in the agency is on call and no supervisor is left: imminent threats and "
    "escalations page the admins."
)
_ON_CALL, _SUPERVISOR = "oncall", "supervisor"


def _counted_in(staff: Staff) -> set[str]:
    """The alert tiers ``staff`` counts in as they stand: on call, the supervisors."""
    on_call = {_ON_CALL} if staff.on_call else set()
    return on_call | ({_SUPERVISOR} if staff.role == Role.SUPERVISOR else set())


def tier_left_empty(uow: UnitOfWork, agency_id: str, tiers: set[str]) -> str | None:
    """What to tell an admin who has just taken someone out of ``tiers`` (on call, the
    supervisors), if one of them has nobody left now (no person, no shared route): who is paged
    instead, by the agency's ladders as they now stand; None while each still has someone."""
    nobody_on_call = not recipients.on_call(uow, agency_id)
    no_supervisor = not recipients.in_role(uow, agency_id, Role.SUPERVISOR)
    emptied = (_ON_CALL in tiers and nobody_on_call) or (_SUPERVISOR in tiers and no_supervisor)
    return _who_is_paged(nobody_on_call, no_supervisor) if emptied else None


def _who_is_paged(nobody_on_call: bool, no_supervisor: bool) -> str | None:
    if nobody_on_call and no_supervisor:
        return NOBODY_AT_ALL
    return NOBODY_ON_CALL if nobody_on_call else NO_SUPERVISOR if no_supervisor else None


@dataclass(frozen=True)
class OnCallSet:
    handle: str
    on_call: bool
    changed: bool
    nobody_on_call: bool  # the agency has nobody on call now: imminent threats page supervisors
    warning: str | None = None  # nobody on call now: who imminent threats page instead


def set_on_call(app: App, actor_handle: str | None, handle: str, on_call: bool) -> OnCallSet:
    """Put an active account of the admin's agency on call for imminent alerts (the admin's
    own too), or take them off: the on-call rota. Put on, they are paged about the standing
    alerts whose tier counts them now; taken off, an alert left with nobody at its tier climbs
    at once (as on a role change). The routes (``oncall/agency``) are worked out anew."""

    def work(uow: UnitOfWork) -> OnCallSet:
        actor = _admin(uow, actor_handle, "staff.manage")
        staff = colleague(uow, actor, handle, "staff.on_call")
        changed = staff.on_call != on_call
        if changed:
            staff.on_call = on_call
            _counted_anew(uow, staff)
            audit(uow, actor, "staff.on_call", handle=staff.handle, on_call=on_call)
        nobody = not recipients.on_call(uow, staff.agency_id)
        warning = tier_left_empty(uow, staff.agency_id, {_ON_CALL})
        return OnCallSet(staff.handle, on_call, changed, nobody, warning)

    return app.run(work)


@dataclass(frozen=True)
class OperatorSet:
    handle: str
    operator: bool


def set_operator(app: App, actor_handle: str | None, handle: str, operator: bool) -> OperatorSet:
    """Name an active admin (of any agency) one of the installation's operators, or take it
    back; operators only, audited in the store's trail. The last operator stays one."""

    def work(uow: UnitOfWork) -> OperatorSet:
        actor = _holding_operators(uow, actor_handle)
        authorize(uow, actor, "staff.operator")
        staff = uow.session.scalar(
            select(Staff).where(Staff.handle == handle, Staff.active.is_(True))
        )
        if staff is None or staff.role != Role.ADMIN:
            raise NotFound("staff_not_found", "no active admin with that handle")
        if not operator and staff.operator and _operators(uow) == 1:
            last = Conflict("last_operator", "the installation keeps at least one operator")
            refuse_in_store_trail(uow, actor, "staff.operator", last)
        if staff.operator != operator:
            staff.operator = operator
            audit_store(uow, actor, "staff.operator", handle=staff.handle, operator=operator)
        return OperatorSet(staff.handle, operator)

    return app.run(work)


def _holding_operators(uow: UnitOfWork, actor_handle: str | None) -> Actor:
    """The actor, asked once the installation's operators are held (in id order) until the
    transaction ends: two operators taking each other's standing away at once (a revocation,
    a deactivation) each found itself an operator, and two of them, before the other's change
    committed, and left none. Held, the second waits for the first, then finds it is no
    operator any more (PostgreSQL; SQLite's writers queue anyway)."""
    operators = select(Staff.id).where(Staff.operator.is_(True), Staff.active.is_(True))
    uow.session.execute(operators.order_by(Staff.id).with_for_update(key_share=True))
    return resolve_actor(uow, actor_handle)


def _operators(uow: UnitOfWork) -> int:
    count = select(func.count(Staff.id)).where(Staff.operator.is_(True), Staff.active.is_(True))
    return uow.session.scalar(count) or 0


def _can_take_cases(uow: UnitOfWork, actor: Actor, handle: str) -> bool:
    return caseworker(uow, actor.agency_id, handle) is not None


def _has_no_admin(uow: UnitOfWork, agency_name: str) -> bool:
    """Whether the agency ``agency_name`` exists and has no active admin: an agency added
    without one (or whose admins are all gone), whose staff nobody could otherwise add."""
    agency_id = uow.session.scalar(select(Agency.id).where(Agency.name == agency_name))
    admins = select(func.count(Staff.id)).where(
        Staff.agency_id == agency_id, Staff.role == Role.ADMIN, Staff.active.is_(True)
    )
    return agency_id is not None and uow.session.scalar(admins) == 0


def _agency_name(uow: UnitOfWork, actor: Actor) -> str:
    agency = uow.session.get(Agency, actor.agency_id)
    assert agency is not None
    return agency.name


def _admin(uow: UnitOfWork, actor_handle: str | None, action: str) -> Actor:
    actor = resolve_actor(uow, actor_handle)
    authorize(uow, actor, action)
    return actor


def _admin_holding_agency(uow: UnitOfWork, actor_handle: str | None) -> Actor:
    """The admin taking someone of their agency away from a role (a role change, a
    deactivation), with the agency's row held until the transaction ends, then asked again.
    Two admins taking each other away at once each found themselves an admin before the other's
    change committed, and left the agency with none: nobody could manage its staff any more,
    and its alert ladders ended with nobody. Held, the second waits for the first, then finds
    it is no admin any more (PostgreSQL; SQLite's writers queue anyway)."""
    agency_id = resolve_actor(uow, actor_handle).agency_id
    held = select(Agency.id).where(Agency.id == agency_id)
    uow.session.execute(held.with_for_update(key_share=True))  # rows naming it still insert
    return _admin(uow, actor_handle, "staff.manage")
