"""The reminder digests of one sweep pass, assembled across the pass's committed batches.

A recipient's digest is written (one outbox row per channel) by the first batch that has a
reminder for them, in the same transaction as that batch's reminder marks, and later batches add
their reminders to the same rows. Until the pass ends the rows are held back from the relay
(``next_attempt_at`` pushed ``HOLD`` ahead, renewed by every batch); the pass's last, short
transaction makes them due. So each reminder is in exactly one digest, committed with its mark,
and each recipient gets one digest per pass, while no transaction lasts longer than a batch.

A pass that dies half-way leaves its rows held: they go out, with what the committed batches
put in them, once ``HOLD`` has run out. A row the relay took anyway (a batch slower than
``HOLD``) is left alone and the recipient's later reminders start a second digest.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, select, update

from harbour.app import UnitOfWork
from harbour.db.base import new_id
from harbour.db.models import Agency, Case, OutboxMessage, Plan, PlanItem, Staff, StepProgress
from harbour.domain import refs, steps
from harbour.domain.vocab import CaseStatus, Lane, NotificationKind, OutboxStatus, PlanStatus
from harbour.notify.context import MAX_ITEMS, clean_context
from harbour.notify.directory import routes_of
from harbour.notify.outbox import _key as outbox_key
from harbour.notify.outbox import enqueue
from harbour.notify.routes import ANY_CHANNEL

HOLD = timedelta(minutes=30)
Items = dict[str, list[dict[str, Any]]]  # recipient: reminder items


@dataclass
class Digests:
    """One pass's digests: the outbox rows already written for each recipient (committed)."""

    sweep_id: str = field(default_factory=new_id)
    rows: dict[str, list[str]] = field(default_factory=dict)
    written: int = 0

    def add(self, items: Items, uow: UnitOfWork) -> dict[str, list[str]]:
        """Put a batch's reminders into the digests, in the batch's transaction; returns the rows
        it started. Changes nothing here: ``started`` does, once the batch has committed (a
        transaction retried whole must find this object as it was)."""
        started: dict[str, list[str]] = {}
        held = {recipient: self.rows[recipient] for recipient in items if recipient in self.rows}
        extended = _extend(uow, held, items)
        new = [recipient for recipient in items if recipient not in extended]
        late = overdue_step_items(uow, new)
        for recipient in new:
            started[recipient] = _start(uow, self, recipient, items[recipient] + late[recipient])
        self._hold(uow, [row for ids in self.rows.values() for row in ids])
        return started

    def started(self, rows: dict[str, list[str]]) -> None:
        self.rows.update(rows)
        self.written += len(rows)

    def release(self, uow: UnitOfWork) -> None:
        """The pass is over: its digests are due now."""
        _set_due(uow, [row for ids in self.rows.values() for row in ids], uow.now())

    def _hold(self, uow: UnitOfWork, ids: list[str]) -> None:
        _set_due(uow, ids, uow.now() + HOLD)


def _start(
    uow: UnitOfWork, digests: Digests, recipient: str, items: list[dict[str, Any]]
) -> list[str]:
    # A second digest for a recipient in one pass only when the relay took the first one.
    suffix = f":{digests.written}" if recipient in digests.rows else ""
    dedupe = f"digest:{digests.sweep_id}{suffix}"
    enqueue(
        uow,
        NotificationKind.REMINDER_DIGEST,
        recipients=[recipient],
        case=None,
        dedupe=dedupe,
        context=_context([], 0, items),
        lane=Lane.NORMAL,
    )
    channels = routes_of(uow).channels_for(recipient) or [ANY_CHANNEL]
    keys = [outbox_key(dedupe, recipient, channel) for channel in channels]
    ids = list(
        uow.session.scalars(select(OutboxMessage.id).where(OutboxMessage.dedupe_key.in_(keys)))
    )
    _set_due(uow, ids, uow.now() + HOLD)
    return ids


def _extend(uow: UnitOfWork, held: dict[str, list[str]], items: Items) -> set[str]:
    """Add each recipient's new ``items`` to their held rows, all in two statements; returns the
    recipients extended (one whose rows the relay has taken any of is left as it was)."""
    wanted = [row for ids in held.values() for row in ids]
    if not wanted:
        return set()
    found = uow.session.execute(
        select(OutboxMessage.id, OutboxMessage.context)
        .where(
            OutboxMessage.id.in_(wanted),
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.attempts == 0,
        )
        .with_for_update()
    )
    contexts = {row_id: context for row_id, context in found.tuples()}
    extended = {recipient for recipient, ids in held.items() if all(i in contexts for i in ids)}
    changes = [
        {"row": row, "context": _context(shown["items"], shown["count"], items[recipient])}
        for recipient in extended
        for row in held[recipient]
        for shown in [contexts[row]]
    ]
    if changes:
        table = cast(Table, OutboxMessage.__table__)
        statement = (
            update(table)
            .where(table.c.id == bindparam("row"))
            .values(context=bindparam("context", type_=table.c.context.type))
        )
        uow.session.connection().execute(statement, changes)
    return extended


def _context(
    shown: list[dict[str, Any]], count: int, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """A digest's context: ``shown`` (already checked when it was written) and as many of the
    new ``items`` as fit, checked now; ``count`` takes them all."""
    total = count + len(items)
    kept = clean_context({"items": items[: max(0, MAX_ITEMS - len(shown))]})["items"]
    return {
        "items": shown + kept,
        **clean_context({"count": total, "more": max(0, total - MAX_ITEMS)}),
    }


def _set_due(uow: UnitOfWork, ids: list[str], moment: Any) -> None:
    if not ids:
        return
    uow.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.attempts == 0,
        )
        .values(next_attempt_at=moment)
        .execution_options(synchronize_session=False)
    )


STEP_OVERDUE = "plan_step_overdue"  # a digest item's kind: not a notification of its own


def overdue_step_items(uow: UnitOfWork, handles: list[str]) -> dict[str, list[dict[str, Any]]]:
    """For each caseworker in ``handles``, one digest item per case of theirs whose plan has a
    step past its due date (the earliest such date), added when their digest starts: pointers
    only. One query for them all."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not handles:
        return found
    # Only cases with some step dated before tomorrow (UTC) in any version can have one late
    # today in their agency's zone: found from the steps' due dates (indexed), so the rest of a
    # large caseload is never walked.
    latest_today = uow.now().date() + timedelta(days=1)
    some_step_due = (
        select(Plan.case_id)
        .join(PlanItem, PlanItem.plan_id == Plan.id)
        .where(PlanItem.due_on < latest_today)
    )
    cases = uow.session.execute(
        select(Staff.handle, Case.id, Case.reference, Agency.timezone)
        .join(Staff, Staff.id == Case.caseworker_id)
        .join(Agency, Agency.id == Case.agency_id)
        .where(
            Case.id.in_(some_step_due),
            Staff.handle.in_(handles),
            Case.status != CaseStatus.CLOSED,
        )
        .order_by(Staff.handle, Case.reference)
    ).tuples()
    for handle, case_id, reference, zone in cases:
        today = uow.now().astimezone(ZoneInfo(zone)).date()
        late = _overdue_dates(uow, case_id, today)
        if late:
            found[handle].append(
                {
                    "case_ref": refs.short_form(reference),
                    "kind": STEP_OVERDUE,
                    "due_date": min(late).isoformat(),
                    "path": f"/cases/{reference}",
                }
            )
    return found


def _overdue_dates(uow: UnitOfWork, case_id: str, today: date) -> list[date]:
    plan = uow.session.scalar(
        select(Plan).where(Plan.case_id == case_id).order_by(Plan.version_number.desc()).limit(1)
    )
    if plan is None or plan.status == PlanStatus.SUPERSEDED:
        return []
    records = uow.session.execute(
        select(StepProgress.key, StepProgress.done)
        .where(StepProgress.case_id == case_id)
        .order_by(StepProgress.seq)
    ).all()
    done = steps.done_now((key, was_done) for key, was_done in records)
    rows = uow.session.scalars(select(PlanItem).where(PlanItem.plan_id == plan.id))
    return [
        row.due_on
        for row in rows
        if row.due_on is not None
        and steps.overdue(
            row.section,
            row.state,
            row.due_on,
            today,
            steps.progress_key(plan.version_number, row.key, row.section) in done,
        )
    ]
