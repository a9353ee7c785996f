"""The reassessment sweep: one pass over everything the clock makes due, in batches.

Each phase works through its rows a batch at a time, one transaction per batch, so a sweep over
a hundred thousand cases holds no more than a batch in memory and a crash loses at most one
batch's work (which the next sweep redoes: every phase is idempotent).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from harbour import pipeline
from harbour.app import App

BATCH = 500


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did: counts only."""

    opened: int = 0
    reminders: int = 0
    escalated: int = 0
    events: int = 0

    def as_json(self) -> dict[str, int]:
        return asdict(self)


def sweep_time(app: App) -> datetime:
    """The moment a scheduled sweep works at: Harbour's clock (frozen in tests and the demo)."""
    return app.clock.now()


def open_due_assessments(app: App, now: datetime, batch: int = BATCH) -> int:
    """Open the periodic (and follow-up) assessments whose time has come; how many opened."""
    # WIRE(issue 3): the schedule's due cases, a batch at a time, open_assessment(...) each
    return 0


def send_reminders(app: App, now: datetime, batch: int = BATCH) -> int:
    """Enqueue the once-per-threshold reminders, one digest per recipient, and the overdue
    escalations; how many. One transaction (one digest each), reading ``batch`` at a time."""
    from harbour.notify import reminders

    counts = app.run(lambda uow: reminders.sweep(uow, now, batch=batch))
    return sum(counts.get(name, 0) for name in ("due_soon", "due_today", "overdue", "escalated"))


def escalate(app: App, now: datetime) -> int:
    """Re-escalate unacknowledged alerts one tier; how many. (Overdue work is escalated by the
    reminder sweep, in the same transaction as its reminders.)"""
    from harbour.notify import alerts

    return app.run(lambda uow: alerts.escalate_unacknowledged(uow, now))["escalated"]


def finish_events(app: App, now: datetime, batch: int = BATCH) -> int:
    """Process lifecycle events recorded but never processed (a server was down, a flow was
    killed). With Prefect, recent events are left to the flows their triggers started."""
    before = now - pipeline.PREFECT_GRACE if app.settings.orchestration == "prefect" else now
    return pipeline.process_pending(app, before=before, limit=batch)


def sweep(app: App, now: datetime | None = None, batch: int = BATCH) -> SweepReport:
    """One whole sweep; ``now`` defaults to the App's clock."""
    now = now or app.clock.now()
    return SweepReport(
        opened=open_due_assessments(app, now, batch),
        reminders=send_reminders(app, now, batch),
        escalated=escalate(app, now),
        events=finish_events(app, now, batch),
    )
