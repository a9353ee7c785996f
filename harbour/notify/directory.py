"""Every route there is: each person's from their staff record, then the routes file's.

A staff record may carry an email and a chat address (sealed); the agency's mail and chat
settings (``Agency.mail_url``, ``Agency.chat_url``, sealed: they hold a login or a webhook token)
turn them into routes tagged with the person's handle and the channel. The routes file keeps the
shared routes (``oncall`` with an agency, a team channel) and overrides: a route of the file for a
person on a channel replaces the one their record gives. Worked out once per unit of work.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from harbour.app import UnitOfWork
from harbour.db.models import Agency, Staff
from harbour.notify.routes import (
    CHAT,
    EMAIL,
    Route,
    Routes,
    load_apprise,
    load_routes,
    personal_route,
    with_overrides,
)
from harbour.settings import Settings

_MEMO = "notify.routes"
_FILE = "notify.routes_file"  # the routes file, read before the transaction opened
SETTING = {EMAIL: "mail_url", CHAT: "chat_url"}
CONTACT = {EMAIL: "email", CHAT: "chat"}


def routes_of(uow: UnitOfWork) -> Routes:
    """The routes of the staff records and of the routes file (which overrides them)."""
    if _MEMO not in uow.memo:
        records, problems = _records(uow)
        file = uow.memo.get(_FILE)
        if file is None:
            file = load_routes(uow.app.settings)
        uow.memo[_MEMO] = with_overrides(records, file, problems)
    routes: Routes = uow.memo[_MEMO]
    return routes


def read_ahead(settings: Settings) -> Routes:
    """The routes file, read and checked before a transaction opens (then ``hand_in``): reading
    it imports Apprise and loads all its plugins, which inside the transaction would hold
    SQLite's write lock (an imminent assessment's, say) for as long."""
    load_apprise()  # the staff records' routes are checked by Apprise too
    return load_routes(settings)


def hand_in(uow: UnitOfWork, file: Routes) -> None:
    """Give the transaction the routes file read ahead (``read_ahead``)."""
    uow.memo[_FILE] = file


def forget(uow: UnitOfWork) -> None:
    """Work the routes out anew: a staff record or an agency's settings changed."""
    uow.memo.pop(_MEMO, None)


def _records(uow: UnitOfWork) -> tuple[list[Route], list[str]]:
    people = uow.session.execute(
        select(Staff, Agency)
        .join(Agency, Agency.id == Staff.agency_id)
        .where(
            Staff.active.is_(True),
            or_(Staff.email_sealed.is_not(None), Staff.chat_sealed.is_not(None)),
        )
        .order_by(Staff.handle)
    ).all()
    settings: dict[tuple[str, str], str | None] = {}
    routes: list[Route] = []
    problems: list[str] = []
    for staff, agency in people:
        for channel in (EMAIL, CHAT):
            address = uow.unseal(staff, CONTACT[channel])
            if address is None:
                continue
            if (agency.id, channel) not in settings:
                settings[agency.id, channel] = uow.unseal(agency, SETTING[channel])
            base = settings[agency.id, channel]
            if base is None:
                problems.append(
                    f"{staff.handle}: a {channel} address on record, but agency {agency.name} "
                    f"has no {channel} settings (harbour agency delivery)"
                )
                continue
            route = personal_route(staff.handle, channel, base, address)
            if route is None:
                problems.append(f"{staff.handle}: the {channel} route is not one Apprise accepts")
            else:
                routes.append(route)
    return routes, problems
