"""The reassessment sweep: one pass over everything the clock makes due, in batches.

Each phase finds its rows with one set-based query (an anti-join for the cases missing their
next assessment, an indexed query for the reminders due), so its cost follows what is due, not
the caseload; it then commits a batch at a time, so a sweep holds no more than a batch of rows
in memory (and the due ids) and never keeps the database (on SQLite, its one write lock) from
other commands for longer than a batch. Reminders still make
one digest per recipient per sweep (``harbour.notify.digests``). Every phase is idempotent: a
crash loses the uncommitted batch, which the next sweep redoes. The phases are independent: one
that fails is reported (``SweepIncomplete``, codes only) after the others have run, so a bad row
in one phase never holds back another (escalation above all).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import configure_mappers

from harbour.app import App, UnitOfWork
from harbour.cases import schedule
from harbour.db.models import Case
from harbour.db.writer_gap import WriterGap, without_collections
from harbour.errors import ConfigError, HarbourError
from harbour.orchestration import pipeline

log = logging.getLogger("harbour.orchestration.sweep")
BATCH = 500
# Assessments whose reminders one transaction writes, at most: a few statements a batch whatever
# its size, so a bigger batch costs less in all (on SQLite, ``SQLITE_HOLD`` sizes them).
REMINDER_BATCH = 2000
# On SQLite, about how long one batch of reminders may hold the write lock: batches are sized
# to it from the pace of the last, so another writer waits about this plus one ``WriterGap``.
SQLITE_HOLD = 0.05
# On PostgreSQL, the assessments one transaction writes reminders for: bounded because a batch's
# statements name its cases, alerts and events in IN lists, and PostgreSQL binds at most 65,535
# parameters to a statement (a catch-up sweep over a million cases, 75,000 of them overdue, failed
# every time as one transaction).
POSTGRES_BATCH = 20_000


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did: counts only."""

    opened: int = 0
    reminders: int = 0
    escalated: int = 0
    events: int = 0
    visits: int = 0
    missing: int = 0

    def as_json(self) -> dict[str, int]:
        return asdict(self)


class SweepIncomplete(HarbourError):
    """Some phases of a sweep failed; the others ran. Names phases and codes, never a value."""

    default_code = "sweep_incomplete"

    def __init__(self, report: SweepReport, failed: dict[str, str]) -> None:
        self.report, self.failed = report, failed
        shown = ", ".join(f"{phase} ({code})" for phase, code in failed.items())
        super().__init__(self.default_code, f"phases failed: {shown}")

    def __reduce__(self) -> tuple[type[SweepIncomplete], tuple[SweepReport, dict[str, str]]]:
        return SweepIncomplete, (self.report, self.failed)  # Prefect pickles a flow's exception


Phase = tuple[str, Callable[[], int]]


def run_phases(phases: list[Phase], idle: Collection[str] = ()) -> SweepReport:
    """Run every phase but the ``idle`` ones (``idle_phases``), whatever the others did; each
    phase's count goes to the report field of its name. Raises ``SweepIncomplete`` (with the
    partial report) at the end if any failed."""
    counts: dict[str, int] = {}
    failed: dict[str, str] = {}
    for name, phase in phases:
        if name in idle:
            continue
        try:
            counts[name] = phase()
        except Exception as exc:  # any failure: the next phase still runs
            failed[name] = error_code(exc)
            log.warning("sweep phase %s failed: %s", name, failed[name])
    report = SweepReport(**counts)
    if failed:
        raise SweepIncomplete(report, failed)
    return report


def error_code(exc: BaseException) -> str:
    """What may be shown of an error: a Harbour code (a failed task's cause), else the class."""
    if isinstance(exc, HarbourError):
        return str(getattr(exc, "cause", exc.code))
    return type(exc).__name__


def idle_phases(app: App, now: datetime) -> list[str]:
    """The phases with nothing to do at ``now``, each asked its own question in one read
    (alerts to escalate, visits to alert on, missing steps to warn of, orders near their end:
    one statement; then cases missing their next assessment; reminders to fire). Most sweeps
    find nothing new, and then start none of those phases' transactions (on SQLite take no
    write lock; under Prefect run no task). What comes due after this read waits for the next
    sweep, as it would had it come due just after this one. (The events phase asks for itself,
    at the end: the phases before it record events.) If the read fails, none is idle: each
    phase runs and reports its own failure, unless there is no store at all (raised, rather than
    six phases failing alike)."""
    from harbour.notify import alerts, missing_alerts, order_reminders, reminders, visit_checks

    def ask(uow: UnitOfWork) -> list[str]:
        policy = uow.reference.policy
        cheap = {
            "escalated": alerts.awaiting_escalation(now).exists(),
            "visits": visit_checks.awaiting_alert(now).exists(),
            "missing": missing_alerts.any_due(policy, now),
            "orders": order_reminders.any_due(uow, now),
        }
        due = dict(zip(cheap, uow.session.execute(select(*cheap.values())).one(), strict=True))
        # Each a statement of its own: asked as an EXISTS, PostgreSQL planned both for a first
        # row, not for the whole range they read when there is none, and took twice as long.
        cutoffs = reminders.Cutoffs.of(uow, reminders.Thresholds.of(policy), now)
        due["opened"] = bool(schedule.cases_missing_next(uow, due_by=cutoffs.horizon))
        # What the opening phase opens may have its reminders due at once.
        due["reminders"] = (
            due.pop("orders") or due["opened"] or reminders.anything_to_fire(uow, cutoffs)
        )
        return [name for name, busy in due.items() if not busy]

    try:
        return app.read(ask)
    except Exception as exc:  # the phases find out for themselves
        if isinstance(exc, ConfigError) and exc.code == "store_not_initialised":
            raise  # no store there: no phase could do anything
        log.warning("sweep probe failed: %s", error_code(exc))
        return []


def sweep_time(app: App) -> datetime:
    """The moment a scheduled sweep works at: Harbour's clock (frozen in tests and the demo)."""
    return app.clock.now()


def open_due_assessments(app: App, now: datetime, batch: int = BATCH) -> int:
    """Open the next assessment (periodic, or follow-up after discharge) of every case that has
    none open, a batch of cases per transaction; how many were opened.

    Harbour opens each assessment ahead of its due time, when the previous one completes, so
    reminders can fire before it is due; this pass catches what a crash or a policy change left.
    One anti-join finds those cases (usually none) among the cases due by the reminders' horizon
    (``schedule.cases_missing_next``): the others are never read.
    """
    from harbour.notify import reminders

    def missing(uow: UnitOfWork) -> list[str]:
        due_by = reminders.horizon(uow, app.reference.policy, now)
        return schedule.cases_missing_next(uow, due_by=due_by)

    found = app.read(missing)
    opened, gap = 0, WriterGap(app.engine)
    for first in range(0, len(found), batch):
        if first:
            gap()
        opened += app.run(partial(_open_next, ids=found[first : first + batch]))
    return opened


def _open_next(uow: UnitOfWork, *, ids: list[str]) -> int:
    cases = uow.session.scalars(select(Case).where(Case.id.in_(ids)))
    return sum(schedule.ensure_next(uow, case) is not None for case in cases)


def send_reminders(
    app: App,
    now: datetime,
    batch: int | None = None,
    between: Callable[[], None] | None = None,
) -> int:
    """Enqueue the once-per-threshold reminders, one digest per recipient, and the overdue
    escalations; how many. A transaction per ``batch`` assessments with something to fire
    (``between`` runs between two), then a short one that sends the digests.

    By default, on SQLite batches of up to ``REMINDER_BATCH``, each sized to hold the write lock
    about ``SQLITE_HOLD``; on PostgreSQL batches of ``POSTGRES_BATCH``, nearly always one: its
    writers wait for no lock the sweep takes (new marks and outbox rows; the rows of overdue
    cases, only while it commits), so smaller batches would only add transactions and
    re-checks."""
    from harbour.notify import reminders

    gap = WriterGap(app.engine)

    def pause() -> None:
        gap()
        if between is not None:
            between()

    sqlite = app.engine.dialect.name == "sqlite"
    hold = SQLITE_HOLD if sqlite else None
    size = batch or (REMINDER_BATCH if sqlite else POSTGRES_BATCH)
    run = without_collections(app.run) if sqlite else app.run
    counts = reminders.sweep(
        run, app.reference.policy, now, batch=size, between=pause, read=app.read, hold=hold
    )
    names = ("due_soon", "due_today", "overdue", "escalated", "orders_expiring")
    return sum(counts.get(name, 0) for name in names)


def escalate(app: App, now: datetime) -> int:
    """Re-escalate unacknowledged alerts one tier, a batch per transaction; how many. (Overdue
    work is escalated by the reminder sweep, in the same transaction as its reminders.)"""
    from harbour.notify import alerts

    return alerts.escalate_due(app, now, between=WriterGap(app.engine))


def raise_overdue_visits(app: App, now: datetime) -> int:
    """Alert the buddies of visits past their check-in deadline; how many. (The relay does this
    every minute; the sweep too, so a missed check-in never waits for a relay alone.)"""
    from harbour.notify import visit_checks

    return app.run(lambda uow: visit_checks.raise_overdue(uow, now))


def alert_missing_steps(app: App, now: datetime) -> int:
    """Alert staff of a missing youth's reporting steps as their deadline nears, and escalate
    once it passes; how many alerts were opened."""
    from harbour.notify import missing_alerts

    return app.run(lambda uow: missing_alerts.raise_due(uow, now))


def finish_events(app: App, now: datetime, batch: int = BATCH) -> int:
    """Process lifecycle events recorded but never processed (a server was down, a flow was
    killed). With Prefect, recent events are left to the flows their triggers started."""
    before = now - pipeline.PREFECT_GRACE if app.settings.orchestration == "prefect" else now
    return pipeline.process_pending(app, before=before, limit=batch, between=WriterGap(app.engine))


def sweep(app: App, now: datetime | None = None, batch: int | None = None) -> SweepReport:
    """One whole sweep; ``now`` defaults to the App's clock; ``batch`` overrides every phase's
    batch size. Every phase runs even if another fails (then ``SweepIncomplete`` is raised at
    the end, carrying the partial report)."""
    at = now or app.clock.now()
    # The ORM's mappers are configured by their first query: here, not in a phase's first
    # transaction (on SQLite it holds the write lock, and that took a tenth of a second).
    configure_mappers()
    return run_phases(
        [
            ("escalated", partial(escalate, app, at)),  # first: the one that cannot wait
            ("visits", partial(raise_overdue_visits, app, at)),
            ("missing", partial(alert_missing_steps, app, at)),
            ("opened", partial(open_due_assessments, app, at, batch or BATCH)),
            ("reminders", partial(send_reminders, app, at, batch)),
            ("events", partial(finish_events, app, at, batch or BATCH)),
        ],
        idle_phases(app, at),
    )
