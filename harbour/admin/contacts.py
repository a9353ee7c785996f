"""Where staff are reached: a person's email and chat address on their staff record, and the
agency's mail and chat settings, all sealed. Together they make each person's routes
(``harbour.notify.directory``); the routes file keeps shared routes and overrides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from harbour.access import (
    Actor,
    audit,
    audit_store,
    authorize,
    guard_operator,
    refuse_missing_staff,
    refuse_not_ours,
    resolve_actor,
)
from harbour.app import App, UnitOfWork
from harbour.db.models import Agency, Alert, Staff
from harbour.domain.text import ChatAddress, Email, SettingsUrl, is_handle
from harbour.domain.vocab import AlertKind
from harbour.errors import InvalidInput
from harbour.notify import directory
from harbour.notify.alerts import LADDERS
from harbour.notify.routes import (
    CHAT,
    EMAIL,
    chat_settings_problem,
    mail_settings_problem,
    settings_shown,
)
from harbour.validation import option_name, parse

M = TypeVar("M", bound=BaseModel)


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    email: Email | None = None
    chat: ChatAddress | None = None


class DeliveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    mail: SettingsUrl | None = None
    chat: SettingsUrl | None = None


CHECKS: dict[str, Callable[[str], str | None]] = {
    "mail": mail_settings_problem,
    "chat": chat_settings_problem,
}


@dataclass(frozen=True)
class Contact:
    """Which contact details a staff record holds (never the details), and its channels now."""

    handle: str
    email: bool
    chat: bool
    channels: tuple[str, ...]
    warning: str | None = None  # an imminent threat's first pages reach nobody now

    def as_json(self) -> dict[str, Any]:
        shown = {"handle": self.handle, "email": self.email, "chat": self.chat}
        return shown | {"channels": list(self.channels), "warning": self.warning}


@dataclass(frozen=True)
class Delivery:
    """An agency's mail and chat settings as they may be shown: scheme and host, or None."""

    agency: str
    mail: str | None
    chat: str | None
    warning: str | None = None  # after a change: an imminent threat's first pages reach nobody

    def as_json(self) -> dict[str, Any]:
        shown = {"agency": self.agency, "mail": self.mail, "chat": self.chat}
        return shown | {"warning": self.warning}


FIRST_UNREACHED = (
    "Nobody on call and no supervisor has a route now: an imminent threat reaches nobody "
    "before the admins (harbour notify check)."
)
NONE_REACHED = (
    "Nobody an imminent threat pages has a route now: it would reach nobody (harbour notify check)."
)


def unreached(uow: UnitOfWork, agency_id: str) -> str | None:
    """After a change of routes: whether an imminent threat of the agency would reach nobody at
    all, or nobody at its first tier (on call, the supervisors), by the routes as they now are;
    None when its first tier has someone with a route."""
    routes = directory.routes_of(uow)
    probe = Alert(agency_id=agency_id)
    reached = [
        any(routes.matching(someone) for someone in tier(uow, probe))
        for tier in LADDERS[AlertKind.IMMINENT_THREAT]
    ]
    if not any(reached):
        return NONE_REACHED
    return None if reached[0] else FIRST_UNREACHED


def requested(model: type[M], fields: dict[str, Any], clear: list[str]) -> tuple[M, list[str]]:
    """The fields given (validated) and those to clear; refused if both or neither."""
    given = {k: v for k, v in fields.items() if v is not None}
    unknown = [c for c in clear if c not in model.model_fields]
    if unknown:
        raise InvalidInput([("--clear", f"one of: {', '.join(model.model_fields)}")])
    both = sorted(set(given) & set(clear))
    if both:
        raise InvalidInput([(option_name(both[0]), "given and cleared at once")])
    if not given and not clear:
        fields_named = ", ".join(option_name(f) for f in model.model_fields)
        raise InvalidInput([("(options)", f"give {fields_named} or --clear")])
    return parse(model, given, prefix="--"), sorted(set(clear))


def set_contact(
    app: App, actor_handle: str | None, handle: str, fields: dict[str, Any], clear: list[str]
) -> Contact:
    """Set or clear the email and chat address of one of the admin's agency's staff records; an
    operator's by an operator only (``guard_operator``): their enrolment link after a reset goes
    to their own route, which an agency admin could otherwise make their own."""
    data, cleared = requested(ContactIn, fields, clear)

    def work(uow: UnitOfWork) -> Contact:
        actor = _admin(uow, actor_handle, "staff.manage")
        staff = uow.session.scalar(
            select(Staff).where(Staff.handle == handle, Staff.agency_id == actor.agency_id)
        )
        if staff is None:
            why = "no staff member with that handle"
            refuse_missing_staff(uow, actor, "staff.contact", handle, why)
        guard_operator(uow, actor, staff, "staff.contact")
        seal_contact(uow, staff, data, cleared)
        changed = sorted([*data.model_dump(exclude_none=True), *cleared])
        audit(uow, actor, "staff.contact", handle=staff.handle, fields=changed)
        return replace(contact_of(uow, staff), warning=unreached(uow, staff.agency_id))

    return app.run(work)


def seal_contact(uow: UnitOfWork, staff: Staff, data: ContactIn, cleared: list[str]) -> None:
    """Seal the given contact details on ``staff`` (and empty the cleared ones)."""
    for field in ("email", "chat"):
        value = getattr(data, field)
        if value is not None or field in cleared:
            uow.seal(staff, field, value)
    uow.session.flush()
    directory.forget(uow)


def contact_of(uow: UnitOfWork, staff: Staff) -> Contact:
    channels = directory.routes_of(uow).channels_for(staff.handle)
    email, chat = staff.email_sealed is not None, staff.chat_sealed is not None
    return Contact(staff.handle, email, chat, tuple(channels))


def set_delivery(
    app: App,
    actor_handle: str | None,
    fields: dict[str, Any],
    clear: list[str],
    agency: str | None = None,
) -> Delivery:
    """Set or clear an agency's mail and chat settings (Apprise URLs: the mail server and
    sender; the chat service with ``{address}`` where each person's address goes): the admin's
    own agency's, or, for the installation's operators, the ``agency`` named (recorded in the
    store's trail). Another agency answers, for anyone else, as one that does not exist."""
    data, cleared = requested(DeliveryIn, fields, clear)
    for field, check in CHECKS.items():
        value = getattr(data, field)
        problem = check(value) if value is not None else None
        if problem:
            raise InvalidInput([(option_name(field), problem)])

    def work(uow: UnitOfWork) -> Delivery:
        actor = _admin(uow, actor_handle, "agency.delivery")
        target = _agency_of(uow, actor, agency, "agency.delivery")
        for field in ("mail", "chat"):
            value = getattr(data, field)
            if value is not None or field in cleared:
                uow.seal(target, f"{field}_url", value)
        directory.forget(uow)
        changed = sorted([*data.model_dump(exclude_none=True), *cleared])
        trail = audit if target.id == actor.agency_id else audit_store
        trail(uow, actor, "agency.delivery", agency_name=target.name, fields=changed)
        return replace(delivery_of(uow, target), warning=unreached(uow, target.id))

    return app.run(work)


def _agency_of(uow: UnitOfWork, actor: Actor, name: str | None, action: str) -> Agency:
    """The actor's agency, or the one named: any, for an operator; their own, for others
    (another agency's answers as none, the attempt audited: ``refuse_not_ours``)."""
    if name is None:
        return uow.session.get_one(Agency, actor.agency_id)
    found = uow.session.scalar(select(Agency).where(Agency.name == name))
    if found is None or (found.id != actor.agency_id and not actor.operator):
        named = name if is_handle(name) else "not a name"  # may be anything typed
        what = "no agency with that name"
        refuse_not_ours(
            uow, actor, action, found is not None, "agency_not_found", what, agency_name=named
        )
    return found


def delivery_of(uow: UnitOfWork, agency: Agency) -> Delivery:
    mail, chat = uow.unseal(agency, "mail_url"), uow.unseal(agency, "chat_url")
    return Delivery(
        agency.name,
        settings_shown(EMAIL, mail) if mail else None,
        settings_shown(CHAT, chat) if chat else None,
    )


def _admin(uow: UnitOfWork, actor_handle: str | None, action: str) -> Actor:
    actor = resolve_actor(uow, actor_handle)
    authorize(uow, actor, action)
    return actor
