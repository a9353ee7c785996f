"""What operators do with notifications: check the routes, send a test, inspect and requeue the
outbox. Supervisors and admins (``notify.manage``), within their own agency; no content shown."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import select

from harbour import events
from harbour.access import Actor, audit, authorize, resolve_actor
from harbour.app import App, UnitOfWork
from harbour.db.models import Agency, Alert, Case, LifecycleEvent, OutboxMessage, Staff
from harbour.domain import refs
from harbour.domain.vocab import AlertKind, NotificationKind, OutboxStatus
from harbour.errors import ConfigError, InvalidInput, NotFound
from harbour.notify.alerts import LADDERS, stuck, unreached
from harbour.notify.directory import routes_of
from harbour.notify.messages import compose
from harbour.notify.outbox import counts, partly_delivered
from harbour.notify.relay import has_reached
from harbour.notify.routes import FILE, ROLE_TAGS, Routes, fresh_sender, pin_apprise_logger

_TAG = re.compile(r"[a-z0-9._-]{1,64}(/[a-z0-9._-]{1,64})*")
_ROW_ID = re.compile(r"[0-9a-f]{32}")
TEST_TIMEOUT = 10.0


def _manager(uow: UnitOfWork, actor_handle: str | None) -> Actor:
    actor = resolve_actor(uow, actor_handle)
    authorize(uow, actor, "notify.manage")
    return actor


@dataclass(frozen=True)
class RouteShown:
    """A route in its privacy form: the service name, the channel and the tags, no address."""

    service: str
    channel: str
    tags: tuple[str, ...]
    source: str  # routes_file, or staff_record

    def as_json(self) -> dict[str, Any]:
        shown = {"service": self.service, "channel": self.channel, "tags": list(self.tags)}
        return shown | {"source": self.source}


@dataclass(frozen=True)
class StuckAlert:
    """An open alert that reached nobody: its ladder found nobody left to page
    (``nobody_left``), or every send of its pages failed so far (``sends_failed``)."""

    alert: str
    kind: str
    agency: str
    why: str

    def as_json(self) -> dict[str, str]:
        return {"alert": self.alert, "kind": self.kind, "agency": self.agency, "why": self.why}


@dataclass(frozen=True)
class PartlyDelivered:
    """Notifications to one recipient that reached one of their routes but not another, which
    kept failing (``outbox.partly_delivered``): how many, the failing route's channel and the
    code of its last failure; never an address, nor what was said."""

    recipient: str
    channel: str
    error: str
    count: int
    agency: str | None  # None: rows of no agency (to the operators)

    def as_json(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "channel": self.channel,
            "error": self.error,
            "count": self.count,
            "agency": self.agency,
        }


@dataclass(frozen=True)
class EventFailing:
    """A lifecycle event whose steps keep failing (``events.stuck``), told to the admins once
    and tried again by every sweep: the case's short reference, the event, the last try's code,
    how many tries failed and since when (UTC) it waits; no value."""

    case_ref: str
    event: str
    error: str
    tries: int
    since: datetime
    agency: str

    def as_json(self) -> dict[str, Any]:
        return {
            "case_ref": self.case_ref,
            "event": self.event,
            "error": self.error,
            "tries": self.tries,
            "since": self.since.isoformat(),
            "agency": self.agency,
        }


@dataclass(frozen=True)
class RoutesCheck:
    """``harbour notify check``: the routes file's problems, who an alert would not reach, and
    the routes that keep failing while another route of the same person works."""

    ok: bool
    problems: tuple[str, ...]
    nobody_to_page: tuple[str, ...]
    alerts_paging_nobody: tuple[StuckAlert, ...]
    partly_delivered: tuple[PartlyDelivered, ...]
    events_failing: tuple[EventFailing, ...]
    routes: tuple[RouteShown, ...]
    staff_without_route: tuple[str, ...]
    roles_without_route: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "nobody_to_page": list(self.nobody_to_page),
            "alerts_paging_nobody": [a.as_json() for a in self.alerts_paging_nobody],
            "partly_delivered": [p.as_json() for p in self.partly_delivered],
            "events_failing": [e.as_json() for e in self.events_failing],
            "routes": [r.as_json() for r in self.routes],
            "staff_without_route": list(self.staff_without_route),
            "roles_without_route": list(self.roles_without_route),
        }


def check(app: App, actor_handle: str | None) -> RoutesCheck:
    """The routes checked, the staff records' and the file's: their problems, the routes (privacy
    form; the file's override a record's for the same person and channel), who has no route; and
    whether the agency's imminent-threat ladder has nobody in it, which of its open alerts found
    nobody left to page, and whose notifications reached one of their routes but not another
    (``_partly_delivered``). An operator sees these across agencies (the one with nobody may
    have nobody to run this either); anyone else sees their own agency's only, and of the staff
    records only their agency's routes and problems."""

    def work(uow: UnitOfWork) -> RoutesCheck:
        actor = _manager(uow, actor_handle)
        staff = uow.session.scalars(
            select(Staff).where(Staff.agency_id == actor.agency_id, Staff.active.is_(True))
        ).all()
        others = select(Staff.handle).where(Staff.agency_id != actor.agency_id)
        routes = _own(routes_of(uow), {s.handle for s in staff}, set(uow.session.scalars(others)))
        agency = uow.session.get_one(Agency, actor.agency_id)
        shown = _own_routes(uow, actor, routes.routes)
        audit(uow, actor, "notify.check", routes=len(shown))
        scope = None if actor.operator else actor.agency_id
        empty, stuck = _nobody_to_page(uow, scope), _stuck_alerts(uow, scope)
        partly = _partly_delivered(uow, scope, _foreign(uow, actor))
        failing = _events_failing(uow, scope)
        return RoutesCheck(
            ok=not (routes.problems or empty or stuck or partly or failing),
            problems=tuple(routes.problems),
            nobody_to_page=tuple(empty),
            alerts_paging_nobody=tuple(stuck),
            partly_delivered=tuple(partly),
            events_failing=tuple(failing),
            routes=tuple(
                RouteShown(r.service, r.channel, tuple(sorted(r.tags)), r.source) for r in shown
            ),
            staff_without_route=tuple(
                sorted(s.handle for s in staff if not routes.matching(s.handle))
            ),
            roles_without_route=tuple(_roles_without_route(routes, staff, agency.name)),
        )

    return app.run(work)


def _own(routes: Routes, handles: set[str], others: set[str]) -> Routes:
    """The routes file's routes, the staff records' of ``handles`` only, and the problems but
    those about ``others``' records (a record's problem starts with the handle)."""
    return Routes(
        tuple(r for r in routes.routes if r.source == FILE or r.tags & handles),
        tuple(p for p in routes.problems if p.partition(":")[0] not in others),
        routes.unusable,
    )


def _foreign(uow: UnitOfWork, actor: Actor) -> set[str]:
    """What names another agency: its name, its staff's handles (nothing, for an operator)."""
    if actor.operator:
        return set()
    names = select(Agency.name).where(Agency.id != actor.agency_id)
    handles = select(Staff.handle).where(Staff.agency_id != actor.agency_id)
    return {*uow.session.scalars(names), *uow.session.scalars(handles)}


def _own_routes(uow: UnitOfWork, actor: Actor, routes: Any) -> list[Any]:
    """The routes an actor may see and test: all of them for an operator; for anyone else, those
    that name nothing of another agency."""
    foreign = _foreign(uow, actor)
    return [r for r in routes if not r.tags & foreign]


def _nobody_to_page(uow: UnitOfWork, agency_id: str | None) -> list[str]:
    """Agencies (``agency_id``'s, or all) whose imminent-threat ladder (on call, supervisors,
    admins) has nobody in it."""
    ladder = LADDERS[AlertKind.IMMINENT_THREAT]
    query = select(Agency).order_by(Agency.name)
    if agency_id is not None:
        query = query.where(Agency.id == agency_id)
    agencies = uow.session.scalars(query)
    return [
        a.name for a in agencies if not any(tier(uow, Alert(agency_id=a.id)) for tier in ladder)
    ]


def _stuck_alerts(uow: UnitOfWork, agency_id: str | None) -> list[StuckAlert]:
    found: dict[str, StuckAlert] = {}
    for why, alerts in (("nobody_left", stuck()), ("sends_failed", unreached())):
        query = alerts.add_columns(Agency.name).join(Agency, Agency.id == Alert.agency_id)
        query = query.order_by(Alert.opened_at)
        if agency_id is not None:
            query = query.where(Agency.id == agency_id)
        for alert, agency in uow.session.execute(query):
            found.setdefault(alert.id, StuckAlert(alert.id, alert.kind, agency, why))
    return list(found.values())


def _events_failing(uow: UnitOfWork, agency_id: str | None) -> list[EventFailing]:
    """The stuck lifecycle events of ``agency_id``'s cases (or of every agency's)."""
    query = events.stuck(uow.now()).join(Case, Case.id == LifecycleEvent.case_id)
    query = query.join(Agency, Agency.id == Case.agency_id).add_columns(Case.reference, Agency.name)
    if agency_id is not None:
        query = query.where(Case.agency_id == agency_id)
    return [
        EventFailing(
            refs.short_form(reference),
            event.name,
            event.last_error or "",
            event.failures,
            event.occurred_at.astimezone(UTC),
            agency,
        )
        for event, reference, agency in uow.session.execute(query)
    ]


def _partly_delivered(
    uow: UnitOfWork, agency_id: str | None, foreign: set[str]
) -> list[PartlyDelivered]:
    """The rows ``outbox.partly_delivered`` finds (of ``agency_id``, or all), counted by
    recipient, failing channel and code; none to a recipient that names another agency or its
    staff (``foreign``: a dead-letter notice to an operator elsewhere)."""
    query = partly_delivered().add_columns(Agency.name)
    query = query.outerjoin(Agency, Agency.id == OutboxMessage.agency_id)
    if agency_id is not None:
        query = query.where(OutboxMessage.agency_id == agency_id)
    routes = routes_of(uow)
    counted: Counter[tuple[str, str, str, str | None]] = Counter()
    for row, agency in uow.session.execute(query):
        if foreign & set(row.recipient.split("/")):
            continue
        for channel in _missed_channels(uow.app, routes, row):
            counted[row.recipient, channel, row.last_error or "", agency] += 1
    found = [
        PartlyDelivered(recipient, channel, error, count, agency)
        for (recipient, channel, error, agency), count in counted.items()
    ]
    return sorted(found, key=lambda p: (p.agency or "", p.recipient, p.channel, p.error))


def _missed_channels(app: App, routes: Routes, row: OutboxMessage) -> set[str]:
    """The channels of the recipient's routes (as they are now) that the row never reached; its
    own channel when none is left (that route has gone since)."""
    missed = {
        route.channel
        for route in routes.matching(row.recipient, row.channel)
        if not has_reached(app, row.id, row.delivered, route)
    }
    return missed or {row.channel}


def _roles_without_route(routes: Routes, staff: Any, agency: str) -> list[str]:
    """A role is reached if one of its members is, or a shared ``role/agency`` route exists."""
    missing = []
    for role in ROLE_TAGS:
        members = [s.handle for s in staff if (s.on_call if role == "oncall" else s.role == role)]
        if not any(routes.matching(h) for h in [*members, f"{role}/{agency}"]):
            missing.append(role)
    return missing


@dataclass(frozen=True)
class TestSent:
    """How one route took the test message: accepted, or the code of its failure."""

    service: str
    channel: str
    ok: bool
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "channel": self.channel,
            "ok": self.ok,
            "error": self.error,
        }


def send_test(app: App, actor_handle: str | None, tag: str) -> list[TestSent]:
    """A harmless test message to every route of ``tag`` the actor may see (``_own_routes``: not
    another agency's), directly (not through the outbox)."""
    tag = tag.strip().lower()
    if not _TAG.fullmatch(tag):
        raise InvalidInput([("--to", "a routing tag: a handle, or role/agency")])

    def work(uow: UnitOfWork) -> tuple[Routes, list[Any]]:
        actor = _manager(uow, actor_handle)
        audit(uow, actor, "notify.test")
        routes = routes_of(uow)
        return routes, _own_routes(uow, actor, routes.matching(tag))

    routes, targets = app.run(work)
    if routes.unusable:  # said to a manager only
        raise ConfigError("routes_problem", "; ".join(routes.problems))
    pin_apprise_logger()
    if not targets:
        raise NotFound("no_route", "no route has that tag")
    return [_test_one(app, route) for route in targets]


def _test_one(app: App, route: Any) -> TestSent:
    message = compose(app.settings, NotificationKind.TEST, {"path": "/"}, route.channel)
    result = message.send(fresh_sender([route], TEST_TIMEOUT))
    error = None if result else f"send_{result.status.name.lower()}"
    return TestSent(route.service, route.channel, bool(result), error)


@dataclass(frozen=True)
class OutboxRow:
    """One outbox row as operators see it: codes and times, no content."""

    id: str
    kind: str
    lane: str
    recipient: str
    channel: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "kind": self.kind,
            "lane": self.lane,
            "recipient": self.recipient,
            "channel": self.channel,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "next_attempt_at": moment(self.next_attempt_at),
            "created_at": moment(self.created_at),
            "sent_at": moment(self.sent_at),
        }


@dataclass(frozen=True)
class OutboxView:
    """The actor's agency's outbox: counts by status and the latest rows."""

    counts: Mapping[str, int]
    rows: tuple[OutboxRow, ...]

    def as_json(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "rows": [r.as_json() for r in self.rows]}


def outbox(
    app: App, actor_handle: str | None, status: str | None = None, limit: int = 20
) -> OutboxView:
    """Counts by status and the latest rows of the actor's agency: codes and times, no content."""
    if status is not None and status not in {s.value for s in OutboxStatus}:
        raise InvalidInput([("--status", "one of pending, sent, dead, cancelled, bundled")])
    if not 1 <= limit <= 1000:
        raise InvalidInput([("--limit", "between 1 and 1000")])

    def work(uow: UnitOfWork) -> OutboxView:
        actor = _manager(uow, actor_handle)
        query = select(OutboxMessage).where(OutboxMessage.agency_id == actor.agency_id)
        if status is not None:
            query = query.where(OutboxMessage.status == status)
        rows = uow.session.scalars(query.order_by(OutboxMessage.created_at.desc()).limit(limit))
        shown = tuple(_shown(r) for r in rows)
        return OutboxView(MappingProxyType(dict(counts(uow, actor.agency_id))), shown)

    return app.run(work)


def _shown(row: OutboxMessage) -> OutboxRow:
    return OutboxRow(
        id=row.id,
        kind=row.kind,
        lane=row.lane,
        recipient=row.recipient,
        channel=row.channel,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def retry(app: App, actor_handle: str | None, row_id: str) -> OutboxRow:
    """Requeue a dead (or waiting) row of the actor's agency: due now, attempts from zero."""
    typed = row_id.strip().lower()
    if not _ROW_ID.fullmatch(typed):
        raise InvalidInput([("ID", "an outbox row id (32 hex characters)")])

    def work(uow: UnitOfWork) -> OutboxRow:
        actor = _manager(uow, actor_handle)
        row = uow.session.get(OutboxMessage, typed)
        if row is None or row.agency_id != actor.agency_id:
            raise NotFound("outbox_row_not_found", "no such outbox row")
        if row.status == OutboxStatus.SENT:
            raise InvalidInput([("ID", "that row was sent; nothing to retry")])
        if row.status == OutboxStatus.CANCELLED:
            raise InvalidInput([("ID", f"that row was cancelled ({row.last_error}); not resent")])
        if row.status == OutboxStatus.BUNDLED:  # pending, it would be sent on its own
            raise InvalidInput([("ID", "that page is carried by an escalation digest; retry that")])
        if _left(uow, row.recipient):  # a routes file may still name them: it would go
            raise InvalidInput([("ID", "that row's recipient was deactivated; not resent")])
        row.status, row.attempts, row.last_error = OutboxStatus.PENDING, 0, None
        row.next_attempt_at = uow.now()
        audit(uow, actor, "notify.outbox.retry", row.case_id, outbox_id=row.id)
        return _shown(row)

    return app.run(work)


def _left(uow: UnitOfWork, recipient: str) -> bool:
    """Whether ``recipient`` is the handle of someone deactivated (a role's tag is nobody's)."""
    active = uow.session.scalar(select(Staff.active).where(Staff.handle == recipient))
    return active is False
