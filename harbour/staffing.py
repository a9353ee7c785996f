"""Agencies and staff accounts: managed by admins, who read no case data."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from harbour.access import Actor, audit, authorize, resolve_actor
from harbour.app import App, UnitOfWork
from harbour.db.models import Agency, Staff
from harbour.domain.text import Address, Handle, Phone, TimeZoneName
from harbour.domain.vocab import Role
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.validation import parse


class AgencyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Handle
    timezone: TimeZoneName
    address: Address | None = None
    phone: Phone | None = None


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handle: Handle
    agency: Handle
    role: Role
    on_call: bool = False


def create_agency(uow: UnitOfWork, data: AgencyIn) -> Agency:
    if uow.session.scalar(select(Agency).where(Agency.name == data.name)) is not None:
        raise Conflict("agency_exists", "an agency with that name exists")
    agency = Agency(name=data.name, timezone=data.timezone, created_at=uow.now())
    uow.seal(agency, "address", data.address)
    uow.seal(agency, "phone", data.phone)
    uow.session.add(agency)
    uow.session.flush()
    return agency


def create_staff(uow: UnitOfWork, data: StaffIn) -> Staff:
    agency = uow.session.scalar(select(Agency).where(Agency.name == data.agency))
    if agency is None:
        raise InvalidInput([("--agency", "no agency with that name")])
    if uow.session.scalar(select(Staff).where(Staff.handle == data.handle)) is not None:
        raise Conflict("staff_exists", "a staff member with that handle exists")
    staff = Staff(
        agency_id=agency.id,
        handle=data.handle,
        role=data.role,
        active=True,
        on_call=data.on_call,
        created_at=uow.now(),
    )
    uow.session.add(staff)
    uow.session.flush()
    return staff


def add_agency(app: App, actor_handle: str | None, **fields: object) -> Agency:
    fields.setdefault("timezone", app.settings.timezone)
    data = parse(AgencyIn, fields)

    def work(uow: UnitOfWork) -> Agency:
        actor = _admin(uow, actor_handle, "agency.manage")
        agency = create_agency(uow, data)
        audit(uow, actor, "agency.add", agency_name=agency.name)
        return agency

    return app.run(work)


def add_staff(app: App, actor_handle: str | None, **fields: object) -> Staff:
    data = parse(StaffIn, fields)

    def work(uow: UnitOfWork) -> Staff:
        actor = _admin(uow, actor_handle, "staff.manage")
        staff = create_staff(uow, data)
        audit(uow, actor, "staff.add", handle=staff.handle, role=staff.role)
        return staff

    return app.run(work)


def list_staff(app: App, actor_handle: str | None) -> Sequence[tuple[Staff, str, int]]:
    """Every staff member with their agency's name and open caseload size."""
    from harbour.db.models import Case
    from harbour.domain.vocab import CaseStatus

    def work(uow: UnitOfWork) -> Sequence[tuple[Staff, str, int]]:
        actor = _admin(uow, actor_handle, "staff.manage")
        open_cases = (
            select(func.count(Case.id))
            .where(Case.caseworker_id == Staff.id, Case.status != CaseStatus.CLOSED)
            .scalar_subquery()
        )
        rows = uow.session.execute(
            select(Staff, Agency.name, open_cases)
            .join(Agency, Agency.id == Staff.agency_id)
            .order_by(Agency.name, Staff.handle)
        ).all()
        audit(uow, actor, "staff.list", count=len(rows))
        return [(s, name, count) for s, name, count in rows]

    return app.run(work)


def deactivate_staff(app: App, actor_handle: str | None, handle: str) -> Staff:
    def work(uow: UnitOfWork) -> Staff:
        actor = _admin(uow, actor_handle, "staff.manage")
        staff = uow.session.scalar(select(Staff).where(Staff.handle == handle))
        if staff is None:
            raise NotFound("staff_not_found", "no staff member with that handle")
        if staff.id == actor.staff_id:
            raise InvalidInput([("HANDLE", "you cannot deactivate yourself")])
        staff.active = False
        audit(uow, actor, "staff.deactivate", handle=staff.handle)
        return staff

    return app.run(work)


def _admin(uow: UnitOfWork, actor_handle: str | None, action: str) -> Actor:
    actor = resolve_actor(uow, actor_handle)
    authorize(uow, actor, action)
    return actor
