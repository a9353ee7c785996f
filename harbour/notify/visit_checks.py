"""Staff visits not checked in by their deadline: each raises one alert, at once.

A visit's deadline is the time its staff member gave plus the policy's grace; past it and not back,
an alert of kind ``visit_overdue`` goes to their buddy and climbs to the supervisors, on-call, then
the admins, until someone takes it or they check in (``harbour.cases.visits``). Every relay pass
(every minute, and after every command) and every sweep calls ``raise_overdue``, so the alert is out
within a relay period of the deadline; when nothing is overdue it costs one indexed lookup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from harbour import events
from harbour.app import UnitOfWork
from harbour.db.base import new_id
from harbour.db.models import Visit
from harbour.domain.vocab import AlertKind, NotificationKind
from harbour.notify import alerts, recipients


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
