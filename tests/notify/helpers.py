"""Cases, assessments and alerts for notification tests, the relay driven to quiet, and the
invariants."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from harbour.app import App, UnitOfWork
from harbour.cases.intake import refer
from harbour.cases.reads import assign_case
from harbour.clock import FixedClock
from harbour.db.base import new_id
from harbour.db.models import Alert, Assessment, Case, OutboxMessage, ThreatSource
from harbour.demo.receivers import MAIL_DOMAIN, WEBHOOK_TOKEN
from harbour.domain.vocab import (
    AlertKind,
    AssessmentPoint,
    AssessmentStatus,
    Lane,
    NotificationKind,
    OutboxStatus,
)
from harbour.notify.alerts import open_alert
from harbour.notify.relay import DeliveryReport, RelayConfig, deliver
from tests.notify.conftest import FAST
from tests.support import referral

MARKER = "MKNOTE"
# What must never appear in a notification or a log line.
BANNED_WORDS = ("traffick", "exploit", "abuse", "sex", "prostitut", "victim", "pimp")
AGENCY_WORDS = ("north", "south", "MARK-")

TIMEOUT = timedelta(minutes=10)  # the built-in policy's alert_ack_timeout


def order_expires(app: App, case: Case, day: date) -> None:
    """The case's threat sources hold a protective order that runs out on ``day``."""
    app.run(
        lambda uow: uow.session.execute(
            update(ThreatSource)
            .where(ThreatSource.case_id == case.id)
            .values(protective_order=True, protective_order_expires_on=day)
        )
    )


def new_case(app: App, marker: str = MARKER, caseworker: str | None = "cw1") -> Case:
    """A referred case, given to ``caseworker`` by the referral itself (None: to nobody), with no
    assessment open and no notice enqueued (the initial-contact step sends that), so each test
    starts with an empty outbox and opens the assessments it needs."""
    answers = referral(marker) | ({"caseworker": caseworker} if caseworker else {})
    referred = refer(app, "coord", answers, None, allow_duplicate=True)  # many alike here

    def bare(uow: UnitOfWork) -> Case:
        # The referral opened the initial assessment; each test opens the assessments it needs.
        uow.session.execute(delete(Assessment).where(Assessment.case_id == referred.id))
        case = uow.session.get_one(Case, referred.id)
        case.next_due_at = None
        if caseworker is None:  # as if the agency had had no caseworker to give it
            case.caseworker_id = None
        return case

    return app.run(bare)


def reassign(app: App, case: Case, handle: str) -> Case:
    """Give ``case`` to ``handle`` as ``harbour assign`` does: its row held first, as
    ``load_case`` holds a case it changes (FOR NO KEY UPDATE on PostgreSQL)."""

    def work(uow: UnitOfWork) -> Case:
        held = select(Case).where(Case.id == case.id).with_for_update(key_share=True)
        return assign_case(uow, None, uow.session.scalars(held).one(), handle)

    return app.run(work)


def open_assessment(
    app: App,
    case: Case,
    due_at: datetime,
    point: AssessmentPoint = AssessmentPoint.PLANNING_MEETING,
) -> Assessment:
    def work(uow: UnitOfWork) -> Assessment:
        row = Assessment(
            case_id=case.id,
            point=point,
            status=AssessmentStatus.OPEN,
            due_at=due_at,
            opened_at=uow.now(),
        )
        uow.session.add(row)
        uow.session.flush()
        return row

    return app.run(work)


def imminent_alert(app: App, case: Case) -> Alert:
    """An imminent-threat alert opened on ``case``, outside any assessment."""
    return case_alert(app, case, AlertKind.IMMINENT_THREAT, NotificationKind.IMMINENT_THREAT)


def case_alert(app: App, case: Case, kind: AlertKind, notification: NotificationKind) -> Alert:
    """An alert of ``kind`` opened on ``case`` (its page a ``notification``), from no source."""
    return app.run(
        lambda uow: open_alert(
            uow, uow.session.get_one(Case, case.id), kind, new_id(), notification
        )
    )


def drain(
    app: App, clock: FixedClock, config: RelayConfig = FAST, rounds: int = 8
) -> list[DeliveryReport]:
    """Deliver, then let time pass beyond any backoff, until nothing is pending."""
    reports = []
    for _ in range(rounds):
        reports.append(deliver(app, config=config))
        if status_counts(app)[OutboxStatus.PENDING] == 0:
            break
        clock.advance(config.backoff_cap * 1.3)
    return reports


def status_counts(app: App) -> Counter[str]:
    def work(uow: UnitOfWork) -> Counter[str]:
        rows = uow.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
        return Counter({status: count for status, count in rows})

    return app.run(work)


def digest_waiting_for(app: App, handle: str) -> None:
    """A reminder digest for ``handle`` about no case, waiting to be sent."""
    from harbour.notify.outbox import enqueue

    app.run(
        lambda uow: enqueue(
            uow,
            NotificationKind.REMINDER_DIGEST,
            recipients=[handle],
            case=None,
            dedupe="left",
            context={"count": 1, "more": 1},
            lane=Lane.NORMAL,
        )
    )


def rows(app: App, **where: Any) -> list[OutboxMessage]:
    def work(uow: UnitOfWork) -> list[OutboxMessage]:
        query = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(uow.session.scalars(query))

    return app.run(work)


def assert_nothing_lost(app: App, enqueued: int) -> None:
    counts = status_counts(app)
    assert sum(counts.values()) == enqueued
    assert (
        counts[OutboxStatus.SENT] + counts[OutboxStatus.PENDING] + counts[OutboxStatus.DEAD]
        == enqueued
    )


def assert_clean_logs(records: list[logging.LogRecord], *extra: str) -> None:
    """No identifying data, URL secret or address in any log line (the test servers' own
    loggers, standing in for the providers, are not Harbour's)."""
    needles = (MARKER, WEBHOOK_TOKEN, f"@{MAIL_DOMAIN}", *extra)
    for record in records:
        if record.name.startswith(("mail.log", "asyncio")):
            continue
        line = record.getMessage()
        for needle in needles:
            assert needle not in line, (record.name, needle)


def advance_to(clock: FixedClock, moment: datetime) -> None:
    clock.set(moment)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def in_transaction(uow: UnitOfWork) -> Any:
    """A ``reminders.sweep`` runner doing all its work in ``uow``: one transaction, fast."""
    return lambda work: work(uow)
