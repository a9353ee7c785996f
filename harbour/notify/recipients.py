"""Who receives what, as routing tags: staff handles from the database, shared role routes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from harbour.access import cover_active
from harbour.app import UnitOfWork
from harbour.db.models import Agency, Alert, Case, CaseCover, Staff, Visit
from harbour.domain.vocab import Role
from harbour.notify.directory import routes_of


def handles(uow: UnitOfWork, agency_id: str | None, *, role: Role | None = None) -> list[str]:
    """Active staff of an agency (every agency if None) with ``role``."""
    query = select(Staff.handle).where(Staff.active.is_(True)).order_by(Staff.handle)
    if agency_id is not None:
        query = query.where(Staff.agency_id == agency_id)
    if role is not None:
        query = query.where(Staff.role == role)
    return list(uow.session.scalars(query))


def operators(uow: UnitOfWork) -> list[str]:
    """The installation's active operators, by handle."""
    query = select(Staff.handle).where(Staff.active.is_(True), Staff.operator.is_(True))
    return list(uow.session.scalars(query.order_by(Staff.handle)))


def admins_or_operators(uow: UnitOfWork, agency_id: str | None) -> tuple[list[str], str | None]:
    """Who is told that background work failed (a dead letter, an event stuck): the agency's
    admins, with that agency; with none of its own (or no agency), the installation's operators
    and no agency, each told as of their own (never another agency's admins, and an operator's
    handle is not the agency's to see)."""
    admins = in_role(uow, agency_id, Role.ADMIN) if agency_id else []
    if admins:
        return admins, agency_id
    return operators(uow), None


def in_role(uow: UnitOfWork, agency_id: str, role: Role) -> list[str]:
    """The agency's active staff with ``role`` by handle, and its shared ``role/agency`` route
    (a team channel) if one is configured."""
    return [*handles(uow, agency_id, role=role), *shared_route(uow, role.value, agency_id)]


def on_call(uow: UnitOfWork, agency_id: str) -> list[str]:
    """On-call staff by handle, and the agency's shared on-call route if one is configured."""
    people = uow.session.scalars(
        select(Staff.handle)
        .where(Staff.agency_id == agency_id, Staff.active.is_(True), Staff.on_call.is_(True))
        .order_by(Staff.handle)
    )
    return [*people, *shared_route(uow, "oncall", agency_id)]


def shared_route(uow: UnitOfWork, role: str, agency_id: str) -> list[str]:
    """``role/agency`` when the routes file has a route tagged with both, else nothing."""
    agency = uow.session.get(Agency, agency_id)
    if agency is None:
        return []
    tag = f"{role}/{agency.name}"
    return [tag] if routes_of(uow).matching(tag) else []


def caseworker_or_supervisors(uow: UnitOfWork, case: Case) -> list[str]:
    """The case's caseworker; while it has none, the agency's supervisors."""
    pair = (case.caseworker_id, case.agency_id)
    return caseworkers_or_supervisors(uow, [pair])[pair]


def covering(uow: UnitOfWork, case: Case) -> list[str]:
    """The active staff covering the case now (``harbour case cover``), by handle."""
    query = (
        select(Staff.handle)
        .join(CaseCover, CaseCover.staff_id == Staff.id)
        .where(CaseCover.case_id == case.id, cover_active(uow.now()), Staff.active.is_(True))
        .order_by(Staff.handle)
    )
    return list(uow.session.scalars(query))


def caseworkers_or_supervisors(
    uow: UnitOfWork, cases: list[tuple[str | None, str]]
) -> dict[tuple[str | None, str], list[str]]:
    """``caseworker_or_supervisors`` for many cases at once, by (caseworker id, agency id): one
    query for the caseworkers, and one lookup of the supervisors per agency that needs them."""
    wanted = set(cases)
    ids = {caseworker for caseworker, _ in wanted if caseworker is not None}
    query = select(Staff.id, Staff.handle).where(Staff.id.in_(ids), Staff.active.is_(True))
    active = dict(uow.session.execute(query).all()) if ids else {}
    supervisors: dict[str, list[str]] = {}
    found: dict[tuple[str | None, str], list[str]] = {}
    for caseworker, agency_id in wanted:
        if caseworker in active:
            found[caseworker, agency_id] = [active[caseworker]]
            continue
        if agency_id not in supervisors:
            supervisors[agency_id] = in_role(uow, agency_id, Role.SUPERVISOR)
        found[caseworker, agency_id] = list(supervisors[agency_id])
    return found


def agency_of(uow: UnitOfWork, handle: str) -> str | None:
    return uow.session.scalar(select(Staff.agency_id).where(Staff.handle == handle))


def unique(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def visit_buddy(uow: UnitOfWork, alert_id: str) -> list[str]:
    """The check-in buddy of the visit an overdue alert is about (if still active)."""
    buddy = aliased(Staff)
    handle = uow.session.scalar(
        select(buddy.handle)
        .join(Visit, Visit.buddy_id == buddy.id)
        .where(Visit.alert_id == alert_id, buddy.active.is_(True))
    )
    return [handle] if handle else []


def visitor(uow: UnitOfWork, alert_id: str) -> str | None:
    """The handle of the staff member whose visit an overdue alert is about."""
    return uow.session.scalar(
        select(Staff.handle)
        .join(Visit, Visit.staff_id == Staff.id)
        .where(Visit.alert_id == alert_id)
    )


def alert_context(uow: UnitOfWork, alert: Alert) -> dict[str, Any]:
    """What every page of an alert says beyond its id: for a visit, whose (a handle)."""
    from harbour.domain.vocab import AlertKind

    if alert.kind == AlertKind.VISIT_OVERDUE:
        return {"handle": visitor(uow, alert.id)}
    return {}
