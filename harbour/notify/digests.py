"""The reminder digests of one sweep pass, assembled across the pass's committed batches.

A recipient's digest is written (one outbox row per channel) by the first batch that has a
reminder for them, in the same transaction as that batch's reminder marks, and later batches add
their reminders to the same rows (from the pass's own copy of what each row shows: no context is
read back, and a full digest has only its count set). Until the pass ends the rows are held back from the relay
(``next_attempt_at`` pushed ``Digests.hold`` ahead, renewed by every batch); the pass's last,
short transaction makes them due. So each reminder is in exactly one digest, committed with its
mark, and each recipient gets one digest per pass, while no transaction lasts longer than a batch.

A pass that dies half-way leaves its rows held: they go out, with what the committed batches
put in them, once their hold has run out (``HOLD``; an escalation digest's is far shorter:
``ESCALATION_HOLD``). A row the relay took anyway (a batch slower than the hold), or that a
reassignment changed meanwhile (``withdraw_case``), is left alone and the recipient's later
reminders start a second digest; the changed row goes out when the pass ends, with the rest (or
once its hold runs out, if the pass dies).

A case given to another caseworker is taken out of the digests not yet sent
(``withdraw_case``): its reminders fire afresh for the new caseworker.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, Text, bindparam, select, text, true, update

from harbour.app import UnitOfWork
from harbour.db.base import new_id
from harbour.db.models import Agency, Case, OutboxMessage, Plan, PlanItem, Staff, StepProgress
from harbour.domain import refs, steps
from harbour.domain.vocab import CaseStatus, Lane, NotificationKind, OutboxStatus, PlanStatus
from harbour.notify import outbox
from harbour.notify.context import MAX_ITEMS, clean_context
from harbour.notify.directory import routes_of
from harbour.notify.outbox import dedupe_key, insert_new, notification_rows
from harbour.notify.routes import ANY_CHANNEL

HOLD = timedelta(minutes=30)
# An escalation digest's hold, at most, and its share of the acknowledgement window: the alerts
# a dead pass's digest lists climb once ``alert_ack_timeout`` has run out since their pages were
# written, whether it has gone or not, so it must be free well before (docs/notifications.md
# says why, and what the renewals measured). Counting the climb from the release instead would
# have the release write every alert again, and a dead pass's alerts start their window late.
ESCALATION_HOLD = timedelta(minutes=2)
HOLD_SHARE = 5
Items = dict[str, list[dict[str, Any]]]  # recipient: reminder items


@dataclass
class Digests:
    """One pass's digests: the outbox rows already written for each recipient (committed), and
    what each of those rows shows (``Shown``), kept here as written: a batch adds its items to
    the rows from this copy, so it reads no context back and decodes no JSON."""

    sweep_id: str = field(default_factory=new_id)
    # Reminders, or a pass's overdue escalations (``alerts``: one message per person listing the
    # cases, each still an alert of its own; no plan steps added to it).
    kind: NotificationKind = NotificationKind.REMINDER_DIGEST
    rows: dict[str, list[str]] = field(default_factory=dict)
    # Rows a later digest of their recipient replaced (changed by a withdrawal meanwhile, or
    # taken by the relay): released with the rest when the pass ends.
    replaced: list[str] = field(default_factory=list)
    written: int = 0
    shown: dict[str, Shown] = field(default_factory=dict)  # by outbox row id
    _pending: dict[str, Shown] = field(default_factory=dict)  # the last ``add``'s, until committed

    def add(self, items: Items, uow: UnitOfWork) -> dict[str, list[str]]:
        """Put a batch's reminders into the digests, in the batch's transaction; returns the rows
        it started. Changes nothing here: ``started`` does, once the batch has committed (a
        transaction retried whole must find this object as it was)."""
        self._pending = {}
        started: dict[str, list[str]] = {}
        held = {recipient: self.rows[recipient] for recipient in items if recipient in self.rows}
        extended = _extend(uow, self, held, items)
        new = [recipient for recipient in items if recipient not in extended]
        late = overdue_step_items(uow, new if self.kind == NotificationKind.REMINDER_DIGEST else [])
        started = _start(uow, self, {r: items[r] + late[r] for r in new})
        if self.kind == NotificationKind.ESCALATION_DIGEST:
            _carry(uow, {**{r: held[r] for r in extended}, **started}, items)
        renewed = {row for recipient in extended for row in held[recipient]}
        renewed.update(row for ids in started.values() for row in ids)
        self._hold(uow, [row for ids in self.rows.values() for row in ids if row not in renewed])
        return started

    def started(self, rows: dict[str, list[str]]) -> None:
        """The batch whose ``add`` returned ``rows`` has committed."""
        self.replaced += [row for recipient in rows for row in self.rows.get(recipient, [])]
        self.rows.update(rows)
        self.written += len(rows)
        self.shown.update(self._pending)
        self._pending = {}

    def release(self, uow: UnitOfWork) -> None:
        """The pass is over: its digests are due now (those replaced as well: a row the relay
        took, or one cancelled, is left as it is)."""
        rows = [row for ids in self.rows.values() for row in ids] + self.replaced
        _set_due(uow, rows, uow.now())

    def hold(self, uow: UnitOfWork) -> timedelta:
        """How long the pass's rows are held past its latest batch: ``HOLD`` for reminders, for
        escalations ``ESCALATION_HOLD`` and at most a ``HOLD_SHARE``th of the policy's
        acknowledgement window (a climb must not come before the digest)."""
        if self.kind != NotificationKind.ESCALATION_DIGEST:
            return HOLD
        return min(ESCALATION_HOLD, uow.reference.policy.alert_ack_timeout.delta / HOLD_SHARE)

    def _hold(self, uow: UnitOfWork, ids: list[str]) -> None:
        _set_due(uow, ids, uow.now() + self.hold(uow))


@dataclass(frozen=True)
class Shown:
    """What a digest row's context holds: the items shown (already checked) and the count of
    its reminders, those shown and those only counted (past ``MAX_ITEMS``)."""

    items: tuple[dict[str, Any], ...]
    count: int

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.items))

    def context(self) -> dict[str, Any]:
        return {
            "items": list(self.items),
            **clean_context({"count": self.count, "more": self.more}),
        }


def _start(
    uow: UnitOfWork, digests: Digests, items: dict[str, list[dict[str, Any]]]
) -> dict[str, list[str]]:
    """Start the digests of the recipients of ``items``, held back (``Digests.hold``): their
    rows in one statement (and one lookup of the recipients' agencies, one of the rows' ids);
    the rows started, by recipient."""
    if not items:
        return {}
    # A second digest for a recipient in one pass only when the relay took the first one.
    routes, until = routes_of(uow), uow.now() + digests.hold(uow)
    agencies = dict(
        uow.session.execute(
            select(Staff.handle, Staff.agency_id).where(Staff.handle.in_(list(items)))
        ).all()
    )
    rows: list[dict[str, Any]] = []
    keys: dict[str, str] = {}  # outbox key: recipient
    shown: dict[str, Shown] = {}
    for recipient, recipient_items in items.items():
        suffix = f":{digests.written}" if recipient in digests.rows else ""
        dedupe = f"{_PREFIX[digests.kind]}:{digests.sweep_id}{suffix}"
        shown[recipient] = _added(Shown((), 0), recipient_items)
        made = notification_rows(
            uow,
            digests.kind,
            recipients=[recipient],
            case=None,
            dedupe=dedupe,
            context=shown[recipient].context(),
            lane=Lane.NORMAL,
            agency_id=agencies.get(recipient),
        )
        for row in made:
            row["next_attempt_at"] = until
        rows += made
        channels = routes.channels_for(recipient) or [ANY_CHANNEL]
        keys.update((dedupe_key(dedupe, recipient, channel), recipient) for channel in channels)
    insert_new(uow, rows)
    found = uow.session.execute(
        select(OutboxMessage.id, OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.in_(list(keys))
        )
    )
    started: dict[str, list[str]] = {}
    for row_id, key in found:
        started.setdefault(keys[key], []).append(row_id)
        digests._pending[row_id] = shown[keys[key]]
    return started


_PREFIX = {
    NotificationKind.REMINDER_DIGEST: "digest",
    NotificationKind.ESCALATION_DIGEST: "escalations",
}


def _extend(
    uow: UnitOfWork, digests: Digests, held: dict[str, list[str]], items: Items
) -> set[str]:
    """Add each recipient's new ``items`` to their held rows (and hold them on), all in two
    statements; returns the recipients extended (one whose rows the relay has taken any of, or
    a reassignment has changed, is left as it was). The rows' contexts come from
    ``digests.shown``: no context is read, only each row's count, which a reassignment that
    took items out of it (``withdraw_case``) has moved."""
    wanted = [row for ids in held.values() for row in ids]
    if not wanted:
        return set()
    as_shown = uow.session.execute(
        select(OutboxMessage.id, _COUNT)
        .where(
            OutboxMessage.id.in_(wanted),
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.attempts == 0,
        )
        .with_for_update()
    )
    found = {row for row, count in as_shown if count == digests.shown[row].count}
    extended = {recipient for recipient, ids in held.items() if all(i in found for i in ids)}
    until = uow.now() + digests.hold(uow)
    changes, counts = [], []
    for recipient in extended:
        for row in held[recipient]:
            before = digests.shown[row]
            shown = digests._pending[row] = _added(before, items[recipient])
            if len(shown.items) == len(before.items):  # full: only the count moves
                counts.append(
                    {"row": row, "count": shown.count, "more": shown.more, "until": until}
                )
            else:
                changes.append({"row": row, "context": shown.context(), "until": until})
    table = cast(Table, OutboxMessage.__table__)
    if changes:
        statement = (
            update(table)
            .where(table.c.id == bindparam("row"))
            .values(
                context=bindparam("context", type_=table.c.context.type),
                next_attempt_at=bindparam("until", type_=table.c.next_attempt_at.type),
            )
        )
        uow.session.connection().execute(statement, changes)
    if counts:
        postgres = uow.session.get_bind().dialect.name == "postgresql"
        uow.session.connection().execute(_COUNTS[postgres], counts)
    return extended


_COUNT = OutboxMessage.context["count"].as_integer()

# A full digest's new count, set in the stored context where it lies: rewriting the whole
# context (its fifty items) for each batch was most of a batch's time.
_UNTIL = bindparam("until", type_=OutboxMessage.__table__.c.next_attempt_at.type)
_COUNTS = {
    False: text(
        "UPDATE outbox SET next_attempt_at = :until,"
        " context = json_set(context, '$.count', :count, '$.more', :more) WHERE id = :row"
    ).bindparams(_UNTIL),
    True: text(
        "UPDATE outbox SET next_attempt_at = :until, context = CAST(jsonb_set(jsonb_set("
        "CAST(context AS jsonb), '{count}', to_jsonb(CAST(:count AS integer))),"
        " '{more}', to_jsonb(CAST(:more AS integer))) AS json) WHERE id = :row"
    ).bindparams(_UNTIL),
}


# Alerts one statement names, at most (SQLite binds 32,766 parameters to one, PostgreSQL 65,535).
_CARRY_CHUNK = 10_000


def _carry(uow: UnitOfWork, rows: dict[str, list[str]], items: Items) -> None:
    """Record on each recipient's bundled pages of the alerts in ``items`` the escalation digest
    row of ``rows`` that carries them (the one on the page's channel), for the digest's delivery
    to be theirs (``outbox.mirror_on_bundled``): those only counted past ``MAX_ITEMS`` as well,
    which reach the recipient in its count. A page already carried by an earlier digest (of an
    earlier tier's climb) keeps it."""
    channels = dict(
        uow.session.execute(
            select(OutboxMessage.id, OutboxMessage.channel).where(
                OutboxMessage.id.in_([row for ids in rows.values() for row in ids])
            )
        ).all()
    )
    for recipient, ids in rows.items():
        alerts = sorted({item["alert_id"] for item in items[recipient] if "alert_id" in item})
        for start in range(0, len(alerts), _CARRY_CHUNK):
            chunk = alerts[start : start + _CARRY_CHUNK]
            for row in ids:
                _carry_pages(uow, recipient, chunk, row, OutboxMessage.channel == channels[row])
            # A page on a channel none of the rows is on (the recipient's routes changed since
            # a batch before this one started their digest): carried by a row naming it too.
            _carry_pages(uow, recipient, chunk, ids[0], true())


def _carry_pages(uow: UnitOfWork, recipient: str, alerts: list[str], row: str, on: Any) -> None:
    uow.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.recipient == recipient,  # ix_outbox_recipient_alert
            OutboxMessage.alert_id.in_(alerts),
            on,
            OutboxMessage.status == _BUNDLED,
            OutboxMessage.carrier_id.is_(None),
        )
        .values(carrier_id=row)
        .execution_options(synchronize_session=False)
    )


def _added(shown: Shown, items: list[dict[str, Any]]) -> Shown:
    """``shown`` with as many of the new ``items`` as fit, checked now; the count takes them all."""
    kept = clean_context({"items": items[: max(0, MAX_ITEMS - len(shown.items))]})["items"]
    return Shown((*shown.items, *kept), shown.count + len(items))


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


REASSIGNED = "reassigned"  # why a digest with nothing left to say was cancelled


def withdraw_case(uow: UnitOfWork, reference: str) -> int:
    """Take the case ``reference`` out of every reminder digest not yet sent (held by a sweep,
    due, or waiting to be retried), in the caller's transaction: the case was given to another
    caseworker, whose reminders of it fire afresh, and whoever had them before must not get them
    later. Returns how many digests it changed.

    Each digest is locked and settled as it then stands (a relay's record committed meanwhile
    is seen; a relay's claim passes over a locked row): one that reached a route already is sent
    (its recipient has it; a retry to another route would carry the case again), one with
    nothing else in it is cancelled (``REASSIGNED``; its context kept as the record of what was
    withdrawn), and the rest keep their other items and count. A send already under way is not
    recalled: it goes as claimed (recorded as sent if it gets through: ``relay._verdict``), and
    its retry goes without the case.
    """
    M = OutboxMessage
    path = f"/cases/{reference}"
    naming = _unsent(
        uow,
        M.kind == NotificationKind.REMINDER_DIGEST,
        M.context.cast(Text).contains(reference),
    )
    return len(_withdraw(uow, naming, lambda item: item.get("path") == path, REASSIGNED))


ACKNOWLEDGED = "acknowledged"  # why an escalation digest with nothing left to say was cancelled


def withdraw_alert(uow: UnitOfWork, alert_id: str, pages: Any) -> int:
    """Take the alert ``alert_id`` (acknowledged; ``pages`` picks its outbox rows) out of every
    escalation digest not yet sent that carries its pages (``_carry``), in the caller's
    transaction, as ``withdraw_case`` takes a case out of reminder digests: named, it is taken
    out of the list; only counted (past ``MAX_ITEMS``), out of the count. One left with nothing
    is cancelled (``ACKNOWLEDGED``), one that reached a route already is sent. Its pages are no
    longer carried by the digests that dropped it before reaching anyone: what those meet is
    not the alert's. Returns how many digests it changed."""
    M = OutboxMessage
    carriers = select(M.carrier_id).where(pages, M.status == _BUNDLED)
    carrying = _unsent(uow, M.id.in_(carriers))
    changed = _withdraw(
        uow, carrying, lambda item: item.get("alert_id") == alert_id, ACKNOWLEDGED, counted=True
    )
    if changed:
        unreached = select(M.id).where(M.id.in_(changed), M.sent_at.is_(None))
        uow.session.execute(
            update(M)
            .where(pages, M.status == _BUNDLED, M.carrier_id.in_(unreached))
            .values(carrier_id=None)
            .execution_options(synchronize_session=False)
        )
    return len(changed)


def _withdraw(
    uow: UnitOfWork, digests: list[Any], named: Any, reason: str, *, counted: bool = False
) -> list[str]:
    """Take the items ``named`` picks out of ``digests`` ((id, context, sent_at), locked; see
    ``withdraw_case``), or with ``counted``, where it names none, one only counted; the digests
    changed."""
    taken: list[str] = []  # from the relay: sent if they reached a route, else cancelled
    shortened: list[dict[str, Any]] = []
    for row_id, context, sent_at in digests:
        items = context.get("items", [])
        kept = tuple(item for item in items if not named(item))
        gone = len(items) - len(kept) or int(counted)
        if not gone:
            continue
        left = context["count"] - gone
        if sent_at is not None or left <= 0:
            taken.append(row_id)
        else:
            shortened.append({"row": row_id, "context": Shown(kept, left).context()})
    if taken:
        outbox.settle(uow, OutboxMessage.id.in_(taken), reason)
    if shortened:
        uow.session.connection().execute(_SHORTENED, shortened)
    return taken + [change["row"] for change in shortened]


def _unsent(uow: UnitOfWork, *where: Any) -> list[Any]:
    """(id, context, sent_at) of the pending digests ``where`` picks, locked."""
    M = OutboxMessage
    return list(
        uow.session.execute(
            select(M.id, M.context, M.sent_at)
            .where(M.status == OutboxStatus.PENDING, *where)
            .order_by(M.id)
            .with_for_update()
        )
    )


_BUNDLED = OutboxStatus.BUNDLED
_TABLE = cast(Table, OutboxMessage.__table__)
# A digest that keeps other items: the case's taken out, on a row still pending.
_SHORTENED = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row"), _TABLE.c.status == OutboxStatus.PENDING)
    .values(context=bindparam("context", type_=_TABLE.c.context.type))
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
    )
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
