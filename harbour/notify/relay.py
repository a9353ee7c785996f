"""The relay: sends due outbox rows, one Apprise call per row, and records what happened.

A row is claimed (attempts + 1, and a lease pushed into ``next_attempt_at``) in a short
transaction, sent outside any transaction by a small thread pool, then marked sent, or given a
backoff, or after ``max_attempts`` moved to dead-letter (the marks and the next claim share one
transaction; claims and marks are set-based, one statement per batch) with a notice to the agency's admins (one
per admin per relay pass, on the normal lane, however many rows died in it).
A row goes to each of its recipient's routes on its channel, and Apprise's result is read per
route: the routes that have it are recorded on the row (``delivered``, by fingerprint), a retry
goes to the others only, and a row that reached one of them counts as delivered (``sent_at``;
sent, not dead, when its attempts run out). An escalation digest's outcome is recorded on the
bundled pages it carries as well (``_mirror_on_bundled``): theirs is what says whether an alert
reached anyone.
A crash between the send and the mark leaves the row pending: it is sent again once its lease
ends (at most one duplicate per route in flight). A relay that stalls past its lease, the row
taken over meanwhile, still records the routes its send reached (added to ``delivered``, never
overwriting it: both relays' are kept, whichever records first), but nothing else: the row's
attempts, error and retry are its successor's. Urgent rows are claimed before normal ones at
every refill, so a reminder backlog delays an alert by one refill at most; the urgent lane carries
the ``alerts.URGENT`` kinds alone (someone in danger now), so nothing that comes in hundreds
(overdue escalations, dead-letter notices) can queue ahead of one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Collection
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, column, func, or_, select, text, update

from harbour.app import App, UnitOfWork
from harbour.db.base import new_id
from harbour.db.models import OutboxMessage
from harbour.db.writer_gap import WriterGap
from harbour.domain.vocab import Lane, NotificationKind, OutboxStatus
from harbour.errors import NotFound
from harbour.notify import links, missing_alerts, recipients, visit_checks
from harbour.notify.alerts import (
    awaiting_escalation,
    climb_now_where_nobody_was_reached,
    escalate_due,
)
from harbour.notify.directory import routes_of
from harbour.notify.messages import compose
from harbour.notify.outbox import enqueue, mirror_on_bundled, settle
from harbour.notify.routes import (
    Route,
    Routes,
    configured,
    kept_sender,
    per_route,
    pin_apprise_logger,
)

log = logging.getLogger("harbour.notify.relay")
PENDING = OutboxStatus.PENDING.value


@dataclass(frozen=True)
class RelayConfig:
    """How hard the relay tries. Timeouts are per socket operation of one send."""

    workers: int = 8
    prefetch: int = 2  # rows claimed per worker: what a crash can leave sent but unmarked
    max_attempts: int = 6
    timeout: float = 5.0
    lease: timedelta = timedelta(minutes=2)
    backoff: timedelta = timedelta(seconds=30)
    urgent_backoff: timedelta = timedelta(seconds=5)
    backoff_cap: timedelta = timedelta(hours=1)


@dataclass
class DeliveryReport:
    """What one ``deliver`` call did: counts for operators and benchmarks, never content."""

    escalated: int = 0
    raised: int = 0  # alerts this pass opened: overdue visits, a missing youth's steps
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    sent_by_lane: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    # Urgent rows this pass left unsent: row id -> (recipient tag, channel, why), why being
    # no_config, config_invalid, no_route (for want of a route) or send_failed (tried again).
    unsent: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    pass_id: str = field(default_factory=new_id)  # names this pass in its dead-letter notices

    def as_json(self) -> dict[str, Any]:
        return {
            "escalated": self.escalated,
            "raised": self.raised,
            "claimed": self.claimed,
            "sent": self.sent,
            "retried": self.retried,
            "dead": self.dead,
            "sent_by_lane": dict(self.sent_by_lane),
            "errors": dict(self.errors),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Claimed:
    id: str
    kind: str
    lane: str
    recipient: str
    channel: str
    context: dict[str, Any]
    attempts: int
    alert_id: str | None = None  # a page of this alert
    delivered: frozenset[str] = frozenset()  # fingerprints of the routes that have it already


# A page whose alert was taken after it was claimed, before its turn to be sent: not sent (the
# acknowledgement cancelled it), and no failure.
TAKEN = "alert_taken"


@dataclass(frozen=True)
class Outcome:
    row: Claimed
    error: str | None  # None: sent (to every route that did not have it yet)
    delivered: frozenset[str] = frozenset()  # fingerprints of the routes that got it now

    @property
    def reached(self) -> bool:
        """Whether one of the recipient's routes has it, now or from an earlier attempt."""
        return bool(self.delivered or self.row.delivered)


def deliver(
    app: App,
    *,
    lane: Lane | None = None,
    limit: int = 500,
    config: RelayConfig | None = None,
    escalation_batches: int | None = None,
) -> DeliveryReport:
    """Raise the alerts of visits past their check-in deadline and of a missing youth's steps
    whose deadline nears or has passed, escalate the alerts whose acknowledgement is overdue (at
    most ``escalation_batches`` transactions of them), then send up to ``limit`` due rows
    (urgent first; one lane only if ``lane`` is given).

    Escalating here, not only in the 15-minute sweep, is what makes ``alert_ack_timeout`` hold:
    the relay runs every minute and after every CLI command. Cheap when nothing is due (one
    statement of three indexed lookups). Without routes (no ``HARBOUR_APPRISE_CONFIG`` file, no
    YAML from a Secret block) nothing is sent and due rows stay pending.
    """
    config = config or RelayConfig()
    lanes = (Lane(lane),) if lane else (Lane.URGENT, Lane.NORMAL)
    report = DeliveryReport()
    started = time.monotonic()
    alerts_due, rows_due, visits_due, missing_due = app.run(lambda uow: _due(uow, lanes))
    if visits_due:
        report.raised = app.run(lambda uow: visit_checks.raise_overdue(uow, uow.now()))
    if missing_due:  # within a relay period of the deadline, as a visit's: not the next sweep's
        report.raised += app.run(lambda uow: missing_alerts.raise_due(uow, uow.now()))
    if alerts_due:
        # After a command (the urgent lane) only the urgent kinds: thousands of overdue-work
        # alerts a catch-up sweep opened are the periodic pass's, not an imminent alert's wait.
        report.escalated = escalate_due(
            app,
            app.clock.now(),
            urgent_only=lanes == (Lane.URGENT,),
            batches=escalation_batches,
            between=WriterGap(app.engine),
        )
    if limit > 0 and (rows_due or report.escalated or report.raised):
        routes = app.read(routes_of)
        if (not configured(app.settings) and not routes.routes) or routes.unusable:
            # Not configured (a demo, a fresh store), or a routes file that cannot be read:
            # rows wait, nothing burns its attempts (`harbour notify check` names the problem).
            why = "config_invalid" if routes.unusable else "no_config"
            log.info("notification routes unusable (%s); due rows stay pending", why)
            report.errors[why] += 1
            if Lane.URGENT in lanes:
                waiting = app.run(_urgent_waiting)
                report.unsent.update({row: (tag, channel, why) for row, tag, channel in waiting})
        else:
            pin_apprise_logger()
            with ThreadPoolExecutor(config.workers, thread_name_prefix="harbour-relay") as pool:
                _pump(app, pool, routes, lanes, limit, config, report)
    report.seconds = time.monotonic() - started
    return report


def _due(uow: UnitOfWork, lanes: tuple[Lane, ...]) -> tuple[bool, bool, bool, bool]:
    """Whether an alert waits to escalate, whether a row of ``lanes`` waits to be sent, whether
    a visit past its deadline waits for its alert, and whether a missing youth's steps wait for
    theirs (``missing_alerts.any_due``)."""
    now, M = uow.now(), OutboxMessage
    rows = select(M.id).where(M.status == PENDING, M.lane.in_(lanes), M.next_attempt_at <= now)
    # One statement, one round trip: every command and every relay pass asks, mostly to hear no.
    probes = [probe.exists() for probe in (awaiting_escalation(now), rows)]
    probes += [visit_checks.awaiting_alert(now).exists()]
    probes += [missing_alerts.any_due(uow.reference.policy, now)]  # an EXISTS already
    alerts_due, rows_due, visits_due, missing_due = uow.session.execute(select(*probes)).one()
    return bool(alerts_due), bool(rows_due), bool(visits_due), bool(missing_due)


def _urgent_waiting(uow: UnitOfWork, limit: int = 200) -> list[tuple[str, str, str]]:
    """(row id, recipient tag, channel) of urgent rows due now (some, for a warning)."""
    M = OutboxMessage
    query = select(M.id, M.recipient, M.channel).where(
        M.status == PENDING, M.lane == Lane.URGENT, M.next_attempt_at <= uow.now()
    )
    return [(r.id, r.recipient, r.channel) for r in uow.session.execute(query.limit(limit))]


def _pump(
    app: App,
    pool: ThreadPoolExecutor,
    routes: Routes,
    lanes: tuple[Lane, ...],
    limit: int,
    config: RelayConfig,
    report: DeliveryReport,
) -> None:
    inflight: dict[Future[Outcome], Claimed] = {}
    outcomes: list[Outcome] = []
    more = True
    while True:
        room = min(config.prefetch * config.workers - len(inflight), limit - report.claimed)
        refill = (lanes, room) if more and room > 0 and len(inflight) <= config.workers else None
        batch: list[Claimed] = []
        # Outcomes are recorded when the next rows are claimed, in the same transaction, or
        # when nothing is left in flight: one transaction per refill, not one per send. What
        # a crash can leave sent but unrecorded is still only the rows claimed (and leased).
        if outcomes and (refill or not inflight):
            batch = record(app, outcomes, config, report, refill)
            outcomes = []
        elif refill:
            batch = claim(app, lanes, room, config)
        if refill:
            report.claimed += len(batch)
            more = len(batch) == room
        for row in batch:
            inflight[pool.submit(send, app, routes, row, config)] = row
        if not inflight:
            if outcomes:
                continue
            return
        done, _ = wait(inflight, return_when=FIRST_COMPLETED)
        outcomes += [future.result() for future in done]
        for future in done:
            del inflight[future]


def claim(app: App, lanes: tuple[Lane, ...], n: int, config: RelayConfig) -> list[Claimed]:
    """Take up to ``n`` due rows, earlier lanes first; a row is taken by one relay only."""
    return app.run(lambda uow: _claim(uow, lanes, n, config))


def _claim(uow: UnitOfWork, lanes: tuple[Lane, ...], n: int, config: RelayConfig) -> list[Claimed]:
    taken: list[Claimed] = []
    for lane in lanes:
        taken += _claim_lane(uow, lane, n - len(taken), config)
    return taken


def _claim_lane(uow: UnitOfWork, lane: Lane, n: int, config: RelayConfig) -> list[Claimed]:
    if n <= 0:
        return []
    now = uow.now()
    M = OutboxMessage
    due = uow.session.scalars(
        select(M.id)
        .where(M.status == PENDING, M.lane == lane, M.next_attempt_at <= now)
        .order_by(M.next_attempt_at, M.created_at)
        .limit(n)
        .with_for_update(skip_locked=True)
    ).all()
    if not due:
        return []
    # One UPDATE for the batch: a row another relay took since the SELECT has its lease in
    # next_attempt_at (later than now) and is left out, so each row is taken by one relay only.
    taken = uow.session.execute(
        update(M)
        .where(M.id.in_(due), M.status == PENDING)
        .where(M.next_attempt_at <= now)
        .values(attempts=M.attempts + 1, next_attempt_at=now + config.lease)
        .returning(
            M.id,
            M.kind,
            M.lane,
            M.recipient,
            M.channel,
            M.context,
            M.attempts,
            M.alert_id,
            M.delivered,
        )
        .execution_options(synchronize_session=False)
    ).all()
    order = {row_id: position for position, row_id in enumerate(due)}
    return [
        Claimed(
            r.id,
            r.kind,
            r.lane,
            r.recipient,
            r.channel,
            dict(r.context),
            r.attempts,
            r.alert_id,
            frozenset(r.delivered),
        )
        for r in sorted(taken, key=lambda r: order[r.id])
    ]


def send(app: App, routes: Routes, row: Claimed, config: RelayConfig) -> Outcome:
    """One Apprise call for one row, to the recipient's routes that do not have it yet, on the
    worker's kept hardened plugin instances (as fresh ones: no throttle, no retries, no
    redirects); errors become codes. A page of an alert is looked at again first: claimed rows
    wait for a worker, and one whose alert was taken meanwhile was cancelled by it (``TAKEN``;
    one sent already is recorded as sent)."""
    if row.alert_id is not None and _taken(app, row.id):
        return Outcome(row, TAKEN)
    targets = routes.matching(row.recipient, row.channel)
    if not targets:
        return Outcome(row, "no_route")
    context = row.context
    if row.kind == NotificationKind.ENROLMENT:
        try:
            context = app.read(lambda uow: links.with_link(uow, row.context))
        except NotFound:  # the link was used, replaced or ran out meanwhile: nothing to send
            gone = OutboxMessage.id == row.id  # settled, not retried to a dead letter
            app.run(lambda uow: settle(uow, gone, "link_gone"))
            return Outcome(row, "link_gone")
    try:
        message = compose(app.settings, row.kind, context, row.channel)
    except Exception:  # a template or kind that no longer fits: retried, then dead-lettered
        return Outcome(row, "render_failed")
    remaining = [route for route in targets if not has_reached(app, row.id, row.delivered, route)]
    if not remaining:  # the route that kept failing is gone from the routes
        return Outcome(row, None)
    try:
        result = message.send(kept_sender(remaining, config.timeout), config.timeout * 3)
    except Exception:  # a plugin bug must not take the relay down; the row retries
        return Outcome(row, "send_error")
    return _outcome(app, row, remaining, per_route(result, len(remaining)))


def _outcome(app: App, row: Claimed, routes: list[Route], errors: list[str | None]) -> Outcome:
    """The routes that got the row (``errors``: each route's, from ``per_route``), and the
    first failure."""
    pairs = zip(routes, errors, strict=True)
    got = frozenset(fingerprint(app, row.id, route) for route, error in pairs if error is None)
    failed = [error for error in errors if error is not None]
    return Outcome(row, failed[0] if failed else None, got)


FINGERPRINT_DIGITS = 16  # 64 bits: enough to tell a row's few routes apart


def fingerprint(app: App, row_id: str, route: Route, version: int | None = None) -> str:
    """How ``delivered`` names a route of a row: a keyed hash (the keyring's blind-index key, of
    key ``version``, the primary by default) of the row and the route's URL. The URL is a secret,
    and a plain hash of it could be tested against guessed addresses."""
    return app.cipher.blind_index(_fingerprinted(row_id, route), version)[:FINGERPRINT_DIGITS]


def has_reached(app: App, row_id: str, delivered: Collection[str], route: Route) -> bool:
    """Whether ``route`` has the row ``row_id`` already, by the row's ``delivered`` fingerprints
    (under any key of the keyring: the primary may have changed since they were recorded)."""
    if not delivered:
        return False
    prints = app.cipher.blind_indexes(_fingerprinted(row_id, route)).values()
    return any(full[:FINGERPRINT_DIGITS] in delivered for full in prints)


def _fingerprinted(row_id: str, route: Route) -> str:
    return f"outbox.delivered\0{row_id}\0{route.url}"


def _taken(app: App, row_id: str) -> bool:
    """Whether the page was settled by its alert's acknowledgement (cancelled, or sent when it
    had reached one of its routes: not to be sent to the others); if that cannot be read, not
    (a page sent twice is better than a page of an open alert not sent)."""
    query = select(OutboxMessage.status).where(OutboxMessage.id == row_id)
    try:
        return bool(app.read(lambda uow: uow.session.scalar(query)) != OutboxStatus.PENDING)
    except Exception:  # a database error must not take the relay down: send
        return False


def record(
    app: App,
    outcomes: list[Outcome],
    config: RelayConfig,
    report: DeliveryReport,
    refill: tuple[tuple[Lane, ...], int] | None = None,
) -> list[Claimed]:
    """Mark sent rows, schedule retries, dead-letter the exhausted; one short transaction, which
    also claims the next rows when ``refill`` (lanes, how many) is given (one commit, not two).
    Then, apart, an urgent alert whose tier's pages all died climbs at the next pass."""

    def work(uow: UnitOfWork) -> tuple[list[tuple[Outcome, str]], list[Claimed]]:
        verdicts = _record(uow, outcomes, config, report.pass_id)
        if refill is None:
            return verdicts, []
        return verdicts, _claim(uow, *refill, config)  # after the marks: a retry may be due

    verdicts, taken = app.run(work)
    for outcome, verdict in verdicts:
        _count(report, outcome, verdict)
    alerts_of_dead_pages = {
        alert
        for o, v in verdicts
        if v == "dead" and o.row.lane == Lane.URGENT and (alert := o.row.alert_id)
    }
    if alerts_of_dead_pages:
        # Apart, after the pages' own transaction: the alerts are held before their pages, as
        # an acknowledgement holds them (no deadlock with one).
        app.run(lambda uow: climb_now_where_nobody_was_reached(uow, alerts_of_dead_pages))
    return taken


@dataclass(frozen=True)
class _Held:
    """What recording an outcome needs of its row, as it is now."""

    id: str
    status: str
    attempts: int
    lane: str
    kind: str
    agency_id: str | None
    reached: bool  # it reached a route already (``sent_at``), maybe on another relay's try


_SENT = OutboxStatus.SENT.value
# Taken from the relay while a send was in flight: by an acknowledgement, or as its recipient left.
_TAKEN_BACK = (OutboxStatus.CANCELLED.value, OutboxStatus.DEAD.value)


def _record(
    uow: UnitOfWork, outcomes: list[Outcome], config: RelayConfig, pass_id: str
) -> list[tuple[Outcome, str]]:
    """Each outcome's verdict (``_verdict``), written set-based: one SELECT for the rows, one
    executemany for the sent, one for the retried, one for the routes reached on a try no longer
    the row's, one for those taken back (with the retried and reached that reached a route now)
    and one for the dead."""
    M = OutboxMessage
    ids = [o.row.id for o in outcomes]
    columns = (M.id, M.status, M.attempts, M.lane, M.kind, M.agency_id, M.sent_at.is_not(None))
    rows = {r[0]: _Held(*r) for r in uow.session.execute(select(*columns).where(M.id.in_(ids)))}
    now = uow.now()
    verdicts = []
    # In this order: a retried row taken back while its update waited is then found taken back.
    changes: dict[str, list[dict[str, Any]]] = {
        "sent": [],
        "retried": [],
        "reached": [],
        "taken_back": [],
    }
    dead: list[tuple[_Held, str]] = []
    for outcome in outcomes:
        row = rows.get(outcome.row.id)
        verdict = _verdict(row, outcome, config)
        verdicts.append((outcome, "sent" if verdict == "taken_back" else verdict))
        if row is None or verdict == "gone":
            continue
        if verdict == "dead":
            dead.append((row, outcome.error or ""))
            continue
        delivered = _delivered(outcome)
        change: dict[str, Any] = {"row": row.id, "error": outcome.error, "delivered": delivered}
        if verdict == "retried":
            reached_at = now if outcome.delivered else None  # an earlier sent_at is kept
            at = now + backoff(row, config)
            change |= {"tries": row.attempts, "at": at, "reached_at": reached_at}
        if verdict in ("retried", "reached") and outcome.delivered:
            changes["taken_back"].append(change)  # if taken back as we record: sent after all
        changes[verdict].append(change)
    gone = [{"row": row.id, "tries": row.attempts, "error": error} for row, error in dead]
    _write(uow, changes, gone, now)
    if dead:
        verdicts = _as_written(uow, verdicts, [row.id for row, _ in dead])
    died = {o.row.id for o, v in verdicts if v == "dead"}
    _mirror_on_bundled(uow, [(o, v) for o, v in verdicts if rows.get(o.row.id)], now)
    for row, _ in dead:
        if row.id in died:
            _notify_admins(uow, row, pass_id)
    return verdicts


def _as_written(
    uow: UnitOfWork, verdicts: list[tuple[Outcome, str]], dead_ids: list[str]
) -> list[tuple[Outcome, str]]:
    """The verdicts with each row found dead as its update left it: sent when a relay past its
    lease recorded a route reached while the update waited for the row (PostgreSQL), gone when
    it was no longer the try we read. Only a row that died is told to the admins as dead."""
    M = OutboxMessage
    ended = dict(uow.session.execute(select(M.id, M.status).where(M.id.in_(dead_ids))).all())
    as_left = {_SENT: "sent", OutboxStatus.DEAD.value: "dead"}
    return [
        (o, as_left.get(ended.get(o.row.id, ""), "gone") if v == "dead" else v) for o, v in verdicts
    ]


def _verdict(row: _Held | None, outcome: Outcome, config: RelayConfig) -> str:
    """sent, taken_back (cancelled by an acknowledgement, or dead-lettered as its recipient
    left, while in flight, but it reached a route: recorded as sent after all), retried, or
    when its attempts have run out, sent if it or an earlier try reached one of the recipient's
    routes (the failed one is in ``last_error``), else dead. A row no longer ours (sent, or taken
    by another relay after our lease ran out) is gone, or reached when the send got to routes:
    they are added to its ``delivered``, so that no retry goes to them again."""
    if row is not None and row.status in _TAKEN_BACK and outcome.reached:
        return "taken_back"
    if row is None or row.status not in (PENDING, _SENT):
        return "gone"
    if row.status == PENDING and outcome.error is None:
        return "sent"
    if row.status != PENDING or row.attempts != outcome.row.attempts:
        return "reached" if outcome.delivered else "gone"
    if row.attempts < config.max_attempts:
        return "retried"
    return "sent" if outcome.reached or row.reached else "dead"


def _delivered(outcome: Outcome) -> list[str]:
    return sorted(outcome.row.delivered | outcome.delivered)


def _write(
    uow: UnitOfWork, changes: dict[str, list[dict[str, Any]]], dead: list[dict[str, Any]], now: Any
) -> None:
    """The verdicts' updates, each on rows still as they were read (status, and attempts for
    the failed: a row another relay took meanwhile is left to it). ``sent_at`` keeps the
    moment the row first reached a route; ``delivered`` gains the routes reached, keeping
    those another relay recorded meanwhile (``_merged``); a row that reached a route is sent,
    never dead."""
    table = cast(Table, OutboxMessage.__table__)
    c = table.c
    row = c.id == bindparam("row")
    delivered = _merged(uow.session.get_bind().dialect.name, c.delivered.type)
    reached = func.coalesce(c.sent_at, now)
    statements = {
        # Taken back meanwhile too: read as pending, a row a deactivation or an acknowledgement
        # was settling is waited for, then found dead or cancelled; it reached the route.
        "sent": update(table)
        .where(row, or_(*(c.status == status for status in (PENDING, *_TAKEN_BACK))))
        .values(status=_SENT, sent_at=reached, last_error=bindparam("error"), delivered=delivered),
        "taken_back": update(table)
        .where(row, or_(*(c.status == status for status in _TAKEN_BACK)))  # not IN: executemany
        .values(status=_SENT, sent_at=reached, delivered=delivered),
        "retried": update(table)
        .where(row, c.status == PENDING, c.attempts == bindparam("tries"))
        .values(
            last_error=bindparam("error"),
            next_attempt_at=bindparam("at", type_=c.next_attempt_at.type),
            sent_at=func.coalesce(c.sent_at, bindparam("reached_at", type_=c.sent_at.type)),
            delivered=delivered,
        ),
        "reached": update(table)
        .where(row, or_(c.status == PENDING, c.status == _SENT))
        .values(sent_at=reached, delivered=delivered),
        "dead": update(table)
        .where(row, c.status == PENDING, c.attempts == bindparam("tries"))
        .values(
            # Reached by a relay past its lease, recorded as this one read the row: sent.
            status=case((c.sent_at.is_(None), OutboxStatus.DEAD.value), else_=_SENT),
            last_error=bindparam("error"),
        ),
    }
    connection = uow.session.connection()
    for name, params in {**changes, "dead": dead}.items():
        if params:
            connection.execute(statements[name], params)


def _merged(dialect: str, json_type: Any) -> Any:
    """The row's ``delivered`` with the ``delivered`` parameter's fingerprints added, sorted,
    each once: computed by the database on the row as the update finds it, so fingerprints
    another relay committed since this one read the row (or since its claim) are kept."""
    merge = _MERGE_POSTGRESQL if dialect == "postgresql" else _MERGE_SQLITE
    given = bindparam("delivered", type_=json_type)
    return text(merge).bindparams(given).columns(column("merged", json_type)).scalar_subquery()


_MERGE_SQLITE = """SELECT json_group_array(value) FROM (
    SELECT value FROM json_each(outbox.delivered)
    UNION SELECT value FROM json_each(:delivered) ORDER BY value)"""
_MERGE_POSTGRESQL = """SELECT coalesce(json_agg(value ORDER BY value), '[]') FROM (
    SELECT json_array_elements_text(outbox.delivered) AS value
    UNION SELECT json_array_elements_text(CAST(:delivered AS json))) AS given"""


def _mirror_on_bundled(uow: UnitOfWork, verdicts: list[tuple[Outcome, str]], now: Any) -> None:
    """Record each escalation digest's outcome on the bundled pages it carries
    (``outbox.mirror_on_bundled``): attempts, the last error, and ``sent_at`` once it reached a
    route; in the transaction that records the digest's own."""
    mirror_on_bundled(
        uow,
        [
            {
                "digest": outcome.row.id,
                "tries": outcome.row.attempts,
                "error": outcome.error,
                "reached_at": now if verdict == "sent" or outcome.reached else None,
            }
            for outcome, verdict in verdicts
            if outcome.row.kind == NotificationKind.ESCALATION_DIGEST and verdict != "gone"
        ],
    )


def backoff(row: _Held | OutboxMessage, config: RelayConfig) -> timedelta:
    """Exponential from the lane's base, capped, with a fixed per-row spread of up to 20%."""
    base = config.urgent_backoff if row.lane == Lane.URGENT else config.backoff
    delay = min(base * 2 ** max(row.attempts - 1, 0), config.backoff_cap)
    spread = int(hashlib.sha256(row.id.encode()).hexdigest()[:4], 16) / 0xFFFF
    return delay * (1 + 0.2 * spread)


def _notify_admins(uow: UnitOfWork, row: _Held, pass_id: str) -> None:
    """One notice per admin (of the row's agency; else the operators) per relay pass, naming
    the first row that died in it; the rest are in ``harbour outbox --status dead``. A target
    that is down kills rows by the hundred: a notice each would bury the admins (and, before,
    the urgent lane)."""
    if row.kind == NotificationKind.DEAD_LETTER:
        return  # the admins' own route is down: the row stays visible in `harbour outbox`
    admins, agency_id = recipients.admins_or_operators(uow, row.agency_id)
    enqueue(
        uow,
        NotificationKind.DEAD_LETTER,
        recipients=admins,
        case=None,
        dedupe=f"dead:{pass_id}",
        context={"failed_kind": row.kind, "outbox_id": row.id},
        lane=Lane.NORMAL,
        agency_id=agency_id,
    )


def _count(report: DeliveryReport, outcome: Outcome, verdict: str) -> None:
    if outcome.error is not None and outcome.error != TAKEN:
        _failed(report, outcome)
    if verdict == "sent":
        report.sent += 1
        report.sent_by_lane[outcome.row.lane] += 1
    elif verdict == "retried":
        report.retried += 1
    elif verdict == "dead":
        report.dead += 1


def _failed(report: DeliveryReport, outcome: Outcome) -> None:
    """Count and log a failed send; an urgent row that reached nobody is named as unsent."""
    row = outcome.row
    report.errors[outcome.error or ""] += 1
    if row.lane == Lane.URGENT and not outcome.reached:
        why = outcome.error if outcome.error in ("no_route", "render_failed") else "send_failed"
        report.unsent[row.id] = (row.recipient, row.channel, why)
    # INFO, not WARNING: the relay runs after every command, and one person's delivery
    # problem is not for everyone's terminal; the outbox keeps it (`harbour outbox`).
    log.info(
        "outbox row %s (%s to tag %s on %s) failed: %s%s",
        row.id,
        row.kind,
        row.recipient,
        row.channel,
        outcome.error,
        " (delivered on another route)" if outcome.reached else "",
    )
