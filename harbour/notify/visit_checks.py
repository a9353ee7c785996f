"""Staff visits not checked in by their deadline: each raises one alert, at once.

A visit's deadline is the time its staff member gave plus the policy's grace; past it and not back,
an alert of kind ``visit_overdue`` goes to their buddy and climbs to the supervisors, on-call, then
the admins, until someone takes it or they check in (``harbour.cases.visits``). Every relay pass
(every minute, and after every command) and every sweep calls ``raise_overdue``, so the alert is out
within a relay period of the deadline; when nothing is overdue it costs one indexed lookup.

When a visit whose alerts paged anyone ends (the visitor's check-in, or a supervisor recording
them back), each person they paged is told once that the visitor is back safe (``stand_down``):
otherwise the buddy or on-call woken at night learns it only by opening the alert's page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from harbour import events
from harbour.app import UnitOfWork
from harbour.db.base import new_id
from harbour.db.models import Alert, OutboxMessage, Staff, Visit
from harbour.domain.vocab import AlertKind, Lane, NotificationKind
from harbour.notify import alerts, recipients
from harbour.notify.outbox import enqueue


def _overdue(now: datetime) -> Any:
    """Visits past their deadline, not back, whose current deadline has not alerted yet."""
    return select(Visit).where(
        Visit.back_at.is_(None), Visit.deadline_at <= now, Visit.alert_id.is_(None)
    )


def awaiting_alert(now: datetime) -> Any:
    """A query for the visits ``raise_overdue`` would alert on (their ids): an indexed lookup in
    the probe every relay pass makes."""
    return _overdue(now).with_only_columns(Visit.id)


def raise_overdue(uow: UnitOfWork, now: datetime) -> int:
    """Open the alert of every visit past its deadline; how many. A concurrent caller skips
    the visits this one holds (PostgreSQL) or waits for the write lock (SQLite); the alert's
    source (the visit and how often it was extended) makes each deadline alert once anyway."""
    due = uow.session.scalars(
        _overdue(now).order_by(Visit.deadline_at).with_for_update(skip_locked=True)
    ).all()
    for visit in due:
        _raise(uow, visit)
    return len(due)


def _raise(uow: UnitOfWork, visit: Visit) -> None:
    visit.alert_id = new_id()
    uow.session.flush()  # the buddy tier finds the visit by its alert
    # No case on it, even when the visit has one: the message says whose visit, nothing else.
    alert = alerts.open_alert(
        uow,
        None,
        AlertKind.VISIT_OVERDUE,
        source_of(visit),
        NotificationKind.VISIT_OVERDUE,
        {"handle": recipients.visitor(uow, visit.alert_id)},
        agency_id=visit.agency_id,
        alert_id=visit.alert_id,
    )
    visit.alert_id = alert.id  # the same, unless this deadline had alerted already
    # Ids only, and no case (as the alert has none): the alert is its subject, one per deadline.
    events.record(uow, None, events.VISIT_OVERDUE, alert.id, visit_id=visit.id)


def source_of(visit: Visit) -> str:
    """One alert per deadline: the visit's id with how many times it was extended."""
    return f"{visit.id[:28]}{visit.extensions:04d}"[:32]


def stand_down(uow: UnitOfWork, visit: Visit, *, also: list[str], but: str) -> int:
    """Tell each person the visit's overdue alerts paged (a page tried or delivered: one
    cancelled unsent woke nobody), and ``also`` (the buddy, for a visit recorded back), that the
    visitor is back safe: one short notice each on the urgent lane, once per visit (its key),
    never to ``but`` (who ended it) nor to the visitor. How many rows were offered."""
    M = OutboxMessage
    # Every alert of the visit (one per deadline: an extend takes one, and ends no visit).
    of_visit = select(Alert.id).where(
        Alert.agency_id == visit.agency_id,
        Alert.kind == AlertKind.VISIT_OVERDUE,
        Alert.source_id.startswith(visit.id[:28]),
    )
    paged = uow.session.scalars(
        select(M.recipient)
        .where(M.alert_id.in_(of_visit), or_(M.attempts > 0, M.sent_at.is_not(None)))
        .distinct()
    ).all()
    visitor = uow.session.scalar(select(Staff.handle).where(Staff.id == visit.staff_id))
    told = [p for p in recipients.unique([*sorted(paged), *also]) if p not in (but, visitor)]
    told = _still_here(uow, told)
    if not told:
        return 0
    context: dict[str, Any] = {"handle": visitor}
    if visit.alert_id or paged:
        latest = visit.alert_id or uow.session.scalar(
            of_visit.order_by(Alert.opened_at.desc()).limit(1)
        )
        context |= {"alert_id": latest, "path": f"/alerts/{latest}"}
    return enqueue(
        uow,
        NotificationKind.VISIT_BACK,
        recipients=told,
        case=None,
        dedupe=f"visit:{visit.id}:back",
        context=context,
        lane=Lane.URGENT,
        agency_id=visit.agency_id,
    )


def _still_here(uow: UnitOfWork, tags: list[str]) -> list[str]:
    """Those of ``tags`` still reachable: active staff by handle, and shared routes (``role/
    agency``); someone deactivated since is not written to."""
    handles = [tag for tag in tags if "/" not in tag]
    active = set(
        uow.session.scalars(
            select(Staff.handle).where(Staff.handle.in_(handles), Staff.active.is_(True))
        )
    )
    return [tag for tag in tags if "/" in tag or tag in active]
