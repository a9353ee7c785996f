"""The transactional outbox: rows written in the caller's transaction, sent later by the relay.

One row per notification, recipient tag and channel. ``dedupe`` names the event; with the
recipient and channel it forms a unique key, so the same event never enqueues twice (a repeat is
silently ignored, also under a concurrent twin).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, exists, func, select, update
from sqlalchemy.orm import aliased

from harbour.app import UnitOfWork
from harbour.db import upsert
from harbour.db.base import new_id
from harbour.db.models import Case, OutboxMessage
from harbour.domain import refs
from harbour.domain.vocab import Lane, NotificationKind, OutboxStatus
from harbour.notify.context import clean_context
from harbour.notify.directory import routes_of
from harbour.notify.recipients import agency_of, unique
from harbour.notify.routes import ANY_CHANNEL

KEY_MAX = 255


def enqueue(
    uow: UnitOfWork,
    kind: NotificationKind | str,
    *,
    recipients: list[str],
    case: Case | None,
    dedupe: str,
    context: Mapping[str, Any],
    lane: Lane,
    agency_id: str | None = None,
) -> int:
    """Write the rows of one notification; returns how many rows were offered.

    Args:
        recipients: routing tags (staff handles, or ``role/agency``).
        case: the case it points at (adds its short reference and link), or None.
        dedupe: names the event, e.g. ``alert:<id>:0``; repeats are ignored.
        context: allowlisted operational values only (see ``harbour.notify.context``).
        agency_id: whose admins hear of a dead letter, when there is no case.
    """
    rows = notification_rows(
        uow,
        kind,
        recipients=recipients,
        case=case,
        dedupe=dedupe,
        context=context,
        lane=lane,
        agency_id=agency_id,
    )
    insert_new(uow, rows)
    return len(rows)


def notification_rows(
    uow: UnitOfWork,
    kind: NotificationKind | str,
    *,
    recipients: list[str],
    case: Case | None,
    dedupe: str,
    context: Mapping[str, Any],
    lane: Lane,
    agency_id: str | None = None,
) -> list[dict[str, Any]]:
    """The rows ``enqueue`` writes, for a caller that writes many notifications' together
    (``insert_new``)."""
    values = clean_context(_with_case(context, case))
    routes = routes_of(uow)
    agency = case.agency_id if case is not None else agency_id
    return [
        _row(uow, kind, lane, dedupe, recipient, channel, values, case, agency)
        for recipient in unique(recipients)
        for channel in routes.channels_for(recipient) or [ANY_CHANNEL]
    ]


def _with_case(context: Mapping[str, Any], case: Case | None) -> dict[str, Any]:
    if case is None:
        return dict(context)
    defaults = {"case_ref": refs.short_form(case.reference), "path": f"/cases/{case.reference}"}
    return defaults | dict(context)


def _row(
    uow: UnitOfWork,
    kind: str,
    lane: Lane,
    dedupe: str,
    recipient: str,
    channel: str,
    context: dict[str, Any],
    case: Case | None,
    agency_id: str | None,
) -> dict[str, Any]:
    now = uow.now()
    return {
        "id": new_id(),
        "dedupe_key": dedupe_key(dedupe, recipient, channel),
        "kind": NotificationKind(kind).value,
        "lane": Lane(lane).value,
        "recipient": recipient,
        "channel": channel,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "agency_id": agency_id or agency_of(uow, recipient),
        "case_id": case.id if case is not None else None,
        "alert_id": context.get("alert_id"),
        "context": context,
        "created_at": now,
    }


def dedupe_key(dedupe: str, recipient: str, channel: str) -> str:
    """The unique key of the row ``dedupe`` makes for one recipient on one channel."""
    key = f"{dedupe}|{recipient}|{channel}"
    return key if len(key) <= KEY_MAX else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def insert_new(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    """Write outbox rows in one statement; a row whose key is already there is left out."""
    if not rows:
        return
    statement = upsert.insert(uow.session, OutboxMessage)
    statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    uow.session.execute(statement, rows)
    if uow.app.urgent_written is not None:  # a command warns about its own urgent pages
        urgent = Lane.URGENT.value
        uow.app.urgent_written.update(row["id"] for row in rows if row["lane"] == urgent)


def dead_letter_recipient(uow: UnitOfWork, handle: str, reason: str) -> int:
    """Move the rows still waiting for ``handle`` (a person, not a role) to dead-letter, with
    ``reason`` as their last error: someone who has left is not retried forever, and their
    failures never reach anyone else's terminal. ``harbour outbox --status dead`` lists them.
    A row that reached one of their routes already (waiting to retry another) was delivered: it
    is sent, as ``settle`` makes it, its last error kept. An escalation digest's end is recorded
    on the bundled pages it carries, as the relay records one it dead-letters
    (``mirror_on_bundled``): theirs say whether an alert reached anyone. How many rows went
    dead."""
    M = OutboxMessage
    unsent = M.sent_at.is_(None)
    ended = uow.session.execute(
        update(M)
        .where(M.recipient == handle, M.status == OutboxStatus.PENDING)
        .values(
            status=case((unsent, OutboxStatus.DEAD.value), else_=OutboxStatus.SENT.value),
            last_error=case((unsent, reason), else_=M.last_error),
        )
        .returning(M.id, M.kind, M.attempts, M.sent_at)
        .execution_options(synchronize_session=False)
    ).all()
    digest = NotificationKind.ESCALATION_DIGEST
    mirror_on_bundled(
        uow,
        [
            {"digest": row.id, "tries": row.attempts, "error": reason, "reached_at": None}
            for row in ended
            if row.kind == digest and row.sent_at is None
        ],
    )
    return sum(row.sent_at is None for row in ended)


def mirror_on_bundled(uow: UnitOfWork, outcomes: list[dict[str, Any]]) -> None:
    """Record escalation digests' outcomes on the bundled pages each carries (``carrier_id``:
    each alert it lists or counts, to its recipient on its channel), which stay ``bundled``:
    those pages are what ``alerts.unreached``, ``alerts.reached_anyone`` and ``harbour notify
    check`` read, and they are never sent themselves. Each outcome names the ``digest`` (its
    row's id), its ``tries`` (attempts), its last ``error`` (None: none) and ``reached_at`` (when
    it reached a route, or None; an earlier moment on a page is kept). The tries and error of an
    earlier try than the pages have (a relay that stalled past its lease, recording after the
    relay that took the digest over) are left alone: only its delivery is added. One statement;
    called in the transaction that records the digests' own outcome (the relay's record of a
    send, a dead-lettering)."""
    if outcomes:
        uow.session.connection().execute(_MIRRORED, outcomes)


def _mirrored() -> Any:
    table = cast(Table, OutboxMessage.__table__)
    c = table.c
    tries = bindparam("tries", type_=c.attempts.type)
    later = c.attempts > tries  # the pages have a later try's outcome already
    return (
        update(table)
        .where(c.carrier_id == bindparam("digest"), c.status == _BUNDLED)  # ix_outbox_carrier
        .values(
            attempts=case((later, c.attempts), else_=tries),
            last_error=case((later, c.last_error), else_=bindparam("error")),
            sent_at=func.coalesce(c.sent_at, bindparam("reached_at", type_=c.sent_at.type)),
        )
    )


_BUNDLED = OutboxStatus.BUNDLED.value
_MIRRORED = _mirrored()


def settle(uow: UnitOfWork, where: Any, reason: str) -> int:
    """Take the pending rows ``where`` names from the relay: one that reached a route already is
    sent (its recipient has it; a retry to another route would say it again), the others are
    cancelled, ``reason`` their last error; by one statement, each row as it stands once its
    lock is had (a relay's record of a first delivery, committed meanwhile, makes it sent).
    How many rows were settled.

    An escalation digest it settles (``digests.withdraw_alert``) has nothing new to record on
    the pages it carries (``mirror_on_bundled``): one made sent had reached a route on a try
    whose record put that on them already (a digest once tried carries no new page), and one
    cancelled (its last alert acknowledged before it reached anyone) carries none once the
    withdrawal's transaction ends."""
    M = OutboxMessage
    unsent = M.sent_at.is_(None)
    settled = (
        update(M)
        .where(where, M.status == OutboxStatus.PENDING)
        .values(
            status=case((unsent, OutboxStatus.CANCELLED.value), else_=OutboxStatus.SENT.value),
            last_error=case((unsent, reason), else_=M.last_error),
        )
        .execution_options(synchronize_session=False)
    )
    return int(uow.session.execute(settled).rowcount)  # type: ignore[attr-defined]


def counts(uow: UnitOfWork, agency_id: str | None = None) -> dict[str, int]:
    """Rows by status (pending, sent, dead, cancelled), optionally for one agency."""
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    if agency_id is not None:
        query = query.where(OutboxMessage.agency_id == agency_id)
    found = dict(uow.session.execute(query).all())
    return {status.value: found.get(status.value, 0) for status in OutboxStatus}


def partly_delivered() -> Any:
    """Rows recorded as sent though one of their recipient's routes failed on its last try
    (``last_error``: the relay ran out of attempts, or an acknowledgement or a reassignment
    settled the row), with no row to that recipient on that channel reaching every route since:
    a route that keeps failing, as far as the outbox knows."""
    M, later = OutboxMessage, aliased(OutboxMessage)
    reached_every_route_since = exists().where(
        later.recipient == M.recipient,
        later.channel == M.channel,
        later.status == OutboxStatus.SENT,
        later.last_error.is_(None),
        later.sent_at > M.sent_at,
    )
    return select(M).where(
        M.status == OutboxStatus.SENT, M.last_error.is_not(None), ~reached_every_route_since
    )
