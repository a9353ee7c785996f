"""What operators do with notifications: check the routes, send a test, inspect and requeue the
outbox. Supervisors and admins (``notify.manage``), within their own agency; no content shown."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from harbour.access import Actor, audit, authorize, resolve_actor
from harbour.app import App, UnitOfWork
from harbour.db.models import Agency, Alert, Case, OutboxMessage, Staff
from harbour.domain.vocab import AlertKind, NotificationKind, OutboxStatus
from harbour.errors import InvalidInput, NotFound
from harbour.notify.alerts import LADDERS, stuck
from harbour.notify.messages import compose
from harbour.notify.outbox import counts
from harbour.notify.routes import ROLE_TAGS, Routes, fresh_sender, load_routes, pin_apprise_logger

_TAG = re.compile(r"[a-z0-9._-]{1,64}(/[a-z0-9._-]{1,64})*")
_ROW_ID = re.compile(r"[0-9a-f]{32}")
TEST_TIMEOUT = 10.0


def _manager(uow: UnitOfWork, actor_handle: str | None) -> Actor:
    actor = resolve_actor(uow, actor_handle)
    authorize(uow, actor, "notify.manage")
    return actor


def check(app: App, actor_handle: str | None) -> dict[str, Any]:
    """The routes file checked: its problems, its routes (privacy form), who has no route; and,
    across agencies (the one with nobody may have nobody to run this either), whose
    imminent-threat ladder has nobody in it and which open alerts found nobody left to page."""
    routes = load_routes(app.settings)

    def work(uow: UnitOfWork) -> dict[str, Any]:
        actor = _manager(uow, actor_handle)
        staff = uow.session.scalars(
            select(Staff).where(Staff.agency_id == actor.agency_id, Staff.active.is_(True))
        ).all()
        agency = uow.session.get_one(Agency, actor.agency_id)
        audit(uow, actor, "notify.check", routes=len(routes.routes))
        empty, stuck = _nobody_to_page(uow), _stuck_alerts(uow)
        return {
            "ok": not (routes.problems or empty or stuck),
            "problems": list(routes.problems),
            "nobody_to_page": empty,
            "alerts_paging_nobody": stuck,
            "routes": [
                {"service": r.service, "channel": r.channel, "tags": sorted(r.tags)}
                for r in routes.routes
            ],
            "staff_without_route": sorted(s.handle for s in staff if not routes.matching(s.handle)),
            "roles_without_route": _roles_without_route(routes, staff, agency.name),
        }

    return app.run(work)


def _nobody_to_page(uow: UnitOfWork) -> list[str]:
    """Agencies whose imminent-threat ladder (on call, supervisors, admins) has nobody in it."""
    ladder = LADDERS[AlertKind.IMMINENT_THREAT]
    agencies = uow.session.scalars(select(Agency).order_by(Agency.name))
    return [a.name for a in agencies if not any(tier(uow, a.id) for tier in ladder)]


def _stuck_alerts(uow: UnitOfWork) -> list[dict[str, str]]:
    query = stuck().add_columns(Agency.name).join(Case, Case.id == Alert.case_id)
    query = query.join(Agency, Agency.id == Case.agency_id).order_by(Alert.opened_at)
    return [
        {"alert": alert.id, "kind": alert.kind, "agency": agency}
        for alert, agency in uow.session.execute(query)
    ]


def _roles_without_route(routes: Routes, staff: Any, agency: str) -> list[str]:
    """A role is reached if one of its members is, or a shared ``role/agency`` route exists."""
    missing = []
    for role in ROLE_TAGS:
        members = [s.handle for s in staff if (s.on_call if role == "oncall" else s.role == role)]
        if not any(routes.matching(h) for h in [*members, f"{role}/{agency}"]):
            missing.append(role)
    return missing


def send_test(app: App, actor_handle: str | None, tag: str) -> list[dict[str, Any]]:
    """A harmless test message to every route of ``tag``, directly (not through the outbox)."""
    tag = tag.strip().lower()
    if not _TAG.fullmatch(tag):
        raise InvalidInput([("--to", "a routing tag: a handle, or role/agency")])
    require_manager(app, actor_handle, "notify.test")
    pin_apprise_logger()
    targets = load_routes(app.settings).matching(tag)
    if not targets:
        raise NotFound("no_route", "no route has that tag")
    return [_test_one(app, route) for route in targets]


def _test_one(app: App, route: Any) -> dict[str, Any]:
    message = compose(app.settings, NotificationKind.TEST, {"path": "/"}, route.channel)
    result = fresh_sender([route], TEST_TIMEOUT).notify(
        body=message.body, title=message.title, body_format=message.body_format
    )
    error = None if result else f"send_{result.status.name.lower()}"
    return {"service": route.service, "channel": route.channel, "ok": bool(result), "error": error}


def outbox(
    app: App, actor_handle: str | None, status: str | None = None, limit: int = 20
) -> dict[str, Any]:
    """Counts by status and the latest rows of the actor's agency: codes and times, no content."""
    if status is not None and status not in {s.value for s in OutboxStatus}:
        raise InvalidInput([("--status", "one of pending, sent, dead, cancelled")])
    if not 1 <= limit <= 1000:
        raise InvalidInput([("--limit", "between 1 and 1000")])

    def work(uow: UnitOfWork) -> dict[str, Any]:
        actor = _manager(uow, actor_handle)
        query = select(OutboxMessage).where(OutboxMessage.agency_id == actor.agency_id)
        if status is not None:
            query = query.where(OutboxMessage.status == status)
        rows = uow.session.scalars(query.order_by(OutboxMessage.created_at.desc()).limit(limit))
        return {"counts": counts(uow, actor.agency_id), "rows": [_shown(r) for r in rows]}

    return app.run(work)


def _shown(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "lane": row.lane,
        "recipient": row.recipient,
        "channel": row.channel,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "next_attempt_at": row.next_attempt_at,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
    }


def retry(app: App, actor_handle: str | None, row_id: str) -> dict[str, Any]:
    """Requeue a dead (or waiting) row of the actor's agency: due now, attempts from zero."""
    typed = row_id.strip().lower()
    if not _ROW_ID.fullmatch(typed):
        raise InvalidInput([("ID", "an outbox row id (32 hex characters)")])

    def work(uow: UnitOfWork) -> dict[str, Any]:
        actor = _manager(uow, actor_handle)
        row = uow.session.get(OutboxMessage, typed)
        if row is None or row.agency_id != actor.agency_id:
            raise NotFound("outbox_row_not_found", "no such outbox row")
        if row.status == OutboxStatus.SENT:
            raise InvalidInput([("ID", "that row was sent; nothing to retry")])
        if row.status == OutboxStatus.CANCELLED:
            raise InvalidInput([("ID", f"that row was cancelled ({row.last_error}); not resent")])
        row.status, row.attempts, row.last_error = OutboxStatus.PENDING, 0, None
        row.next_attempt_at = uow.now()
        audit(uow, actor, "notify.outbox.retry", row.case_id, outbox_id=row.id)
        return _shown(row)

    return app.run(work)


def require_manager(app: App, actor_handle: str | None, action: str) -> None:
    """Check (and audit) that the actor may run notification operations."""
    app.run(lambda uow: audit(uow, _manager(uow, actor_handle), action))
