"""When the next sweep has something to do, so the demo's simulated 15-minute cron can skip the
ticks that would find nothing: the same sweeps fire, in a fraction of the flow runs.

Something is due at the earliest of: a reminder threshold (or the overdue escalation) of an open
assessment that has not fired for its current due date; an unacknowledged alert's next
escalation; a lifecycle event that calls for a step and is still unprocessed, once the sweep would
take it (Prefect mode leaves recent events to their flows for ``PREFECT_GRACE``); a staff visit's
check-in deadline that has not alerted yet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from harbour.app import App, UnitOfWork
from harbour.db.models import Alert, LifecycleEvent, Visit
from harbour.notify import reminders
from harbour.orchestration import pipeline

TICK = timedelta(minutes=15)  # the sweep's cron in docs/orchestration.md


def next_due(app: App) -> datetime | None:
    """The earliest moment a sweep would find work (possibly already past), or None."""
    return app.run(_next_due)


def _next_due(uow: UnitOfWork) -> datetime | None:
    candidates = [*reminders.unfired_thresholds(uow), *_escalations(uow), *_unfinished(uow)]
    candidates += _visit_deadlines(uow)
    return min(candidates, default=None)


def _escalations(uow: UnitOfWork) -> list[datetime]:
    earliest = uow.session.scalar(
        select(func.min(Alert.next_escalation_at)).where(Alert.acknowledged_at.is_(None))
    )
    return [earliest] if earliest is not None else []


def _visit_deadlines(uow: UnitOfWork) -> list[datetime]:
    earliest = uow.session.scalar(
        select(func.min(Visit.deadline_at)).where(Visit.back_at.is_(None), Visit.alert_id.is_(None))
    )
    return [earliest] if earliest is not None else []


def _unfinished(uow: UnitOfWork) -> list[datetime]:
    oldest = uow.session.scalar(
        select(func.min(LifecycleEvent.occurred_at)).where(
            LifecycleEvent.processed_at.is_(None), LifecycleEvent.name.in_(pipeline.ROUTED)
        )
    )
    if oldest is None:
        return []
    grace = pipeline.PREFECT_GRACE if uow.app.settings.orchestration == "prefect" else timedelta()
    return [oldest + grace]


def tick_at_or_after(moment: datetime) -> datetime:
    """The first cron tick (every 15 minutes past the hour) at or after ``moment``."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    ticks = -((epoch - moment) // TICK)  # ceiling division
    return epoch + ticks * TICK
