"""Alerts staff must acknowledge, and the ladder they climb until someone does.

An imminent threat goes at once to on-call staff and supervisors (tier 0). Not acknowledged within
the policy's ``alert_ack_timeout``, it goes to the supervisors again (tier 1), then to the agency's
admins (tier 2), where the ladder ends. An overdue escalation starts with the supervisors.

A tier with nobody in it (no on-call staff, no supervisor) is passed over at once: the next tier
with someone in it is paged in its place. When the rest of the ladder is empty too, the alert
stays at the top, the gap is logged (``nobody_to_page``) and it is tried again every
``alert_ack_timeout`` until someone can be paged or it is acknowledged; ``harbour notify check``
lists such alerts and the agencies whose ladder is empty. An urgent alert whose tier's pages all
died unsent (no working route for anyone there) climbs at the relay's next pass, not a timeout
later (``climb_now_where_nobody_was_reached``).

Only imminent threats, overdue visit check-ins and a missing youth's reporting deadline passed
(and their escalations) take the urgent lane: someone may be in danger now, and none comes by the
hundred; that lane is oldest-first, and a sweep can open hundreds of overdue escalations at once,
which must not queue ahead of them.
Those overdue escalations reach each person as one message per sweep (or per climb of a relay
pass), listing the cases: an escalation digest (``harbour.notify.digests``). Each page is still
written, per alert, tier, person and channel under its own key, but ``bundled``: the record of
who was paged (``paged_to``, ``visible_to``, ``page_joining``) and of the key that pages nobody
twice, never sent itself. Acknowledging an alert takes it out of the digests not yet sent.
A visit's alert belongs to no case (``agency_id`` says whose it is): its ladder is the buddy, the
supervisors, on-call, then the admins, never the staff member not back. A missing youth's step
alerts climb from the caseworker (and a colleague covering the case) and supervisors (deadline near)
or on-call and supervisors (deadline passed) to the admins.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select, true
from sqlalchemy.orm.attributes import set_committed_value

from harbour import events
from harbour.access import (
    Actor,
    agency_zone,
    audit,
    authorize,
    cover_active,
    deny,
    refuse_hidden,
    refuse_missing,
    resolve_actor,
)
from harbour.app import App, UnitOfWork
from harbour.db.base import new_id
from harbour.db.models import Alert, Assessment, AuditEvent, Case, CaseCover, OutboxMessage, Visit
from harbour.domain import refs
from harbour.domain.vocab import AlertKind, Lane, NotificationKind, OutboxStatus, Role
from harbour.errors import InvalidInput
from harbour.notify import digests, outbox, recipients
from harbour.notify.outbox import dedupe_key, insert_new, notification_rows

log = logging.getLogger("harbour.notify.alerts")
Tier = Callable[[UnitOfWork, Alert], list[str]]
Bundle = dict[str, list[dict[str, Any]]]  # recipient: digest items (``digests.Items``)


def _oncall_and_supervisors(uow: UnitOfWork, alert: Alert) -> list[str]:
    return recipients.on_call(uow, alert.agency_id) + _supervisors(uow, alert)


def _supervisors(uow: UnitOfWork, alert: Alert) -> list[str]:
    return recipients.in_role(uow, alert.agency_id, Role.SUPERVISOR)


def _on_call(uow: UnitOfWork, alert: Alert) -> list[str]:
    return recipients.on_call(uow, alert.agency_id)


def _admins(uow: UnitOfWork, alert: Alert) -> list[str]:
    return recipients.in_role(uow, alert.agency_id, Role.ADMIN)


def _buddy(uow: UnitOfWork, alert: Alert) -> list[str]:
    return recipients.visit_buddy(uow, alert.id)


def _but_the_visitor(tier: Tier) -> Tier:
    """A tier of a visit's alert without the staff member not back (a supervisor, or on call):
    paging the one who may be in danger reaches nobody who can act, and a tier of them alone
    held the alert there an ``alert_ack_timeout`` (the top tier: for good)."""

    def step(uow: UnitOfWork, alert: Alert) -> list[str]:
        visitor = recipients.visitor(uow, alert.id)
        return [person for person in tier(uow, alert) if person != visitor]

    return step


def _caseworker_and_supervisors(uow: UnitOfWork, alert: Alert) -> list[str]:
    """The case's caseworker and whoever covers it (doing the caseworker's work while they are
    away: the steps are theirs to record), and the supervisors."""
    case = uow.session.get(Case, alert.case_id) if alert.case_id else None
    if case is None:
        return _supervisors(uow, alert)
    workers = recipients.caseworker_or_supervisors(uow, case) + recipients.covering(uow, case)
    return workers + _supervisors(uow, alert)


def _oncall_and_supervisors_or_unwarned(uow: UnitOfWork, alert: Alert) -> list[str]:
    """On-call staff and the supervisors; with the caseworker and whoever covers the case too
    when the steps' warning was skipped (``missing_alerts``): nothing else told them."""
    warned = select(Alert.id).where(
        Alert.kind == AlertKind.MISSING_STEPS_DUE, Alert.source_id == alert.source_id
    )
    if uow.session.scalar(warned) is not None:
        return _oncall_and_supervisors(uow, alert)
    return _caseworker_and_supervisors(uow, alert) + _on_call(uow, alert)


# The tiers of a visit's alert after its buddy, by the name a visitor is told them by.
VISIT_TIERS_AFTER_BUDDY: tuple[tuple[str, Tier], ...] = (
    ("supervisors", _supervisors),
    ("on-call staff", _on_call),
    ("admins", _admins),
)


def visit_first_paged(
    uow: UnitOfWork, agency_id: str, visitor: str, buddy: str | None
) -> tuple[str, list[str]]:
    """Whom a visit's overdue alert would page first, as the ladder stands now: the buddy, or
    the first tier after it with someone in it but the visitor (as ``_page`` passes empty
    tiers over); its name ("buddy", "supervisors", ...) and its people, or ("", []): nobody."""
    if buddy is not None:
        return "buddy", [buddy]
    probe = Alert(agency_id=agency_id, kind=AlertKind.VISIT_OVERDUE)  # never written
    for name, tier in VISIT_TIERS_AFTER_BUDDY:
        people = [person for person in tier(uow, probe) if person != visitor]
        if people:
            return name, people
    return "", []


LADDERS: dict[str, tuple[Tier, ...]] = {
    AlertKind.IMMINENT_THREAT: (_oncall_and_supervisors, _supervisors, _admins),
    AlertKind.OVERDUE_ESCALATION: (_supervisors, _admins),
    AlertKind.RISK_RAISED: (_supervisors, _admins),
    # A staff member not back from a visit: their buddy at once, then supervisors, on-call, and
    # the admins, as every ladder ends (those without the visitor, who may be any of them).
    AlertKind.VISIT_OVERDUE: (
        _buddy,
        *(_but_the_visitor(tier) for _, tier in VISIT_TIERS_AFTER_BUDDY),
    ),
    AlertKind.MISSING_STEPS_DUE: (_caseworker_and_supervisors, _supervisors, _admins),
    AlertKind.MISSING_STEPS_OVERDUE: (_oncall_and_supervisors_or_unwarned, _supervisors, _admins),
}
# Whom each tier of a ladder pages, in LADDERS' order, as a page says it to staff in a hurry
# (never "tier 1"); a tier with nobody in it is passed over.
TIER_WORDS: dict[str, tuple[str, ...]] = {
    AlertKind.IMMINENT_THREAT: (
        "the on-call staff and the supervisors",
        "the supervisors again",
        "the admins",
    ),
    AlertKind.OVERDUE_ESCALATION: ("the supervisors", "the admins"),
    AlertKind.RISK_RAISED: ("the supervisors", "the admins"),
    AlertKind.VISIT_OVERDUE: ("the buddy", *(f"the {name}" for name, _ in VISIT_TIERS_AFTER_BUDDY)),
    AlertKind.MISSING_STEPS_DUE: (
        "the caseworker, whoever covers the case, and the supervisors",
        "the supervisors again",
        "the admins",
    ),
    AlertKind.MISSING_STEPS_OVERDUE: (
        "the on-call staff and the supervisors (and the caseworker, if no warning came before)",
        "the supervisors again",
        "the admins",
    ),
}
# Alerts whose every page says what they are (and who), not the generic "not yet acknowledged".
ESCALATES_AS: dict[str, NotificationKind] = {
    AlertKind.VISIT_OVERDUE: NotificationKind.VISIT_OVERDUE,
    AlertKind.MISSING_STEPS_DUE: NotificationKind.MISSING_STEPS_DUE,
    AlertKind.MISSING_STEPS_OVERDUE: NotificationKind.MISSING_STEPS_OVERDUE,
}
URGENT = frozenset(
    {AlertKind.IMMINENT_THREAT, AlertKind.VISIT_OVERDUE, AlertKind.MISSING_STEPS_OVERDUE}
)
# The tiers whose people follow from the alert's agency alone (looked up once per agency when
# many alerts climb together); a buddy or a caseworker is the alert's own.
_BY_AGENCY: frozenset[Tier] = frozenset({_oncall_and_supervisors, _supervisors, _on_call, _admins})
_HEX = re.compile(r"[0-9a-f]{8,32}")


def overdue_source(assessment_id: str, due_at: datetime, fired_at: datetime) -> str:
    """The source of an overdue escalation: the assessment, the due date it is overdue from and
    the moment its escalation fired (its mark's), hashed to an id's size. Each firing is an
    alert of its own: an assessment moved to another date (its first escalation taken as it
    moved) and overdue again is paged afresh, even back at a date it was escalated from."""
    return _source(assessment_id, due_at, fired_at)


def _source(assessment_id: str, *moments: datetime) -> str:
    """An alert's source made of an assessment and moments, hashed to an id's size."""
    at = ",".join(moment.astimezone(UTC).isoformat() for moment in moments)
    return hashlib.blake2b(f"{assessment_id}@{at}".encode(), digest_size=16).hexdigest()


def imminent_source(uow: UnitOfWork, assessment: Assessment) -> str:
    """The source of the imminent-threat alert for ``assessment``'s level: the assessment that
    found the threat or, when a supervisor set its level by hand, the alert of the assessment's
    case still waiting to be taken (one pages until someone takes it: an override confirming
    imminent, or a form sent twice, pages nobody twice), else that override (its moment, hashed
    with the assessment as ``overdue_source`` is), so raised to imminent again after the first
    alert was taken it pages afresh."""
    if assessment.overridden_at is None:
        return assessment.id
    standing = uow.session.scalar(
        select(Alert.source_id)
        .where(
            Alert.case_id == assessment.case_id,
            Alert.kind == AlertKind.IMMINENT_THREAT,
            Alert.acknowledged_at.is_(None),
        )
        .order_by(Alert.opened_at.desc(), Alert.id)
        .limit(1)
    )
    return standing or _source(assessment.id, assessment.overridden_at)


def ack_timeout(uow: UnitOfWork) -> timedelta:
    return uow.reference.policy.alert_ack_timeout.delta


def open_alert(
    uow: UnitOfWork,
    case: Case | None,
    kind: AlertKind,
    source_id: str,
    notification: NotificationKind,
    context: dict[str, Any] | None = None,
    *,
    agency_id: str | None = None,
    alert_id: str | None = None,
) -> Alert:
    """Open the alert for ``source_id`` once and notify its first tier (see ``lane_of``). An
    alert about no case (a visit) names its agency instead; ``alert_id`` is the new alert's id
    when the caller has recorded it already (a tier may look the alert's subject up by it)."""
    existing = uow.session.scalar(
        select(Alert).where(Alert.kind == kind, Alert.source_id == source_id)
    )
    if existing is not None:
        return existing
    agency = case.agency_id if case is not None else agency_id
    assert agency is not None, "an alert belongs to an agency"
    alert = Alert(
        id=alert_id or new_id(),
        agency_id=agency,
        case_id=case.id if case is not None else None,
        kind=kind,
        source_id=source_id,
        tier=0,
        opened_at=uow.now(),
    )
    # Paged before it is written, so its tier and next escalation go in with it (no UPDATE after).
    pages: list[dict[str, Any]] = []
    _page(uow, alert, case, notification, context or {}, alert.opened_at, pages=pages)
    uow.session.add(alert)
    uow.session.flush()
    insert_new(uow, pages)
    return alert


def open_alerts(
    uow: UnitOfWork,
    kind: AlertKind,
    notification: NotificationKind,
    sources: list[tuple[Case, str, dict[str, Any]]],
    bundle: Bundle | None = None,
) -> int:
    """``open_alert`` for many (case, source id, context) at once, as a sweep escalates: the
    alerts already open found by one query, the new ones written together, each tier of each
    agency looked up once, and all their pages written by one statement. With ``bundle``, an
    overdue escalation's pages are bundled (``_page``) and their items added to it, for the
    caller's escalation digest. How many opened."""
    wanted = [source for _, source, _ in sources]
    existing = set(
        uow.session.scalars(
            select(Alert.source_id).where(Alert.kind == kind, Alert.source_id.in_(wanted))
        )
    )
    new: dict[str, tuple[Case, Alert, dict[str, Any]]] = {}
    for case, source, context in sources:
        if source not in existing and source not in new:
            alert = Alert(
                id=new_id(),
                case_id=case.id,
                agency_id=case.agency_id,
                kind=kind,
                source_id=source,
                tier=0,
                opened_at=uow.now(),
            )
            new[source] = (case, alert, context)
    tier = _tiers_by_agency()
    pages: list[dict[str, Any]] = []
    for case, alert, context in new.values():
        _page(
            uow,
            alert,
            case,
            notification,
            context,
            alert.opened_at,
            tier=tier,
            pages=pages,
            bundle=bundle,
        )
    # Written once paged, tiers and next escalations set: one INSERT, no UPDATE per alert, and
    # (``inserting``) no session flush, which cost more than the statement after an outage.
    with uow.inserting():
        for _, alert, _ in new.values():
            uow.add(alert)
    insert_new(uow, pages)
    return len(new)


def awaiting_escalation(now: datetime) -> Any:
    """A query for the alerts ``escalate_unacknowledged`` would move (their ids): an indexed
    lookup in the probe every relay pass makes."""
    return _overdue(now).with_only_columns(Alert.id)


# Alerts one transaction moves up, at most: after a catch-up sweep had opened 7,501, climbing them
# all at once held SQLite's write lock 11 s, an imminent-threat write waiting. Climbed together,
# 100 take about 33 ms on SQLite (at most 92 ms: those 7,501, each on a case of its own; 200 took
# up to 149 ms), and a WriterGap follows each batch: 4.2 s for all 7,501 (17 s one by one).
ESCALATION_BATCH = 100
_URGENT_KINDS = Alert.kind.in_(sorted(URGENT))


def escalate_unacknowledged(
    uow: UnitOfWork, now: datetime, *, limit: int | None = None, urgent_only: bool = False
) -> dict[str, int]:
    """Move the alerts whose acknowledgement is overdue one tier up, at most ``limit`` of them
    (the urgent kinds first, then the longest waiting; only those if ``urgent_only``). Returns
    how many escalated, and how many were ``due`` (taken, escalated or not).

    A concurrent caller skips the alerts this one holds (PostgreSQL), or waits for its write lock
    (SQLite), so no alert climbs twice. The overdue escalations that climb go to each person as
    one escalation digest, due at once.
    """
    done, bundle = _escalate_batch(uow, now, limit, urgent_only)
    _digest_now(uow, bundle)
    return done


def _escalate_batch(
    uow: UnitOfWork, now: datetime, limit: int | None, urgent_only: bool
) -> tuple[dict[str, int], Bundle]:
    """``escalate_unacknowledged``'s work; also its overdue escalations' digest items."""
    due: list[Alert] = []
    # Two queries, each in the escalation index's order: sorting by urgency first made every
    # batch read and sort the whole overdue set.
    for kinds in (_URGENT_KINDS,) if urgent_only else (_URGENT_KINDS, ~_URGENT_KINDS):
        room = None if limit is None else limit - len(due)
        if room == 0:
            break
        query = _overdue(now).where(kinds).order_by(Alert.next_escalation_at).limit(room)
        due += uow.session.scalars(query.with_for_update(skip_locked=True)).all()
    bundle: Bundle = {}
    # The next climb is a timeout after this batch pages the new tier, not after the pass's
    # ``now``: a batch late in a long pass (its pauses, thousands of alerts) pages later. Never
    # before ``now`` (a pass as of a later moment), or the pass would find them due again.
    escalated = _climb_all(uow, due, max(now, uow.now()), bundle)
    return {"escalated": escalated, "due": len(due)}, bundle


def escalate_due(
    app: App,
    now: datetime,
    *,
    urgent_only: bool = False,
    batches: int | None = None,
    between: Callable[[], None] | None = None,
) -> int:
    """``escalate_unacknowledged`` until nothing is left overdue (or ``batches`` transactions
    are done), ``ESCALATION_BATCH`` alerts per transaction, ``between`` run between two; how many
    escalated. Each alert taken leaves the overdue set (its next escalation is set ahead, or
    cleared at the top), so this ends.

    The overdue escalations that climb in this pass reach each person as one escalation digest,
    held while the pass runs and released at its end (as a sweep's reminders are): a pass that
    dies half-way leaves it held (``Digests.hold``: two minutes at most, well within the alerts'
    acknowledgement window), then it goes with what was committed."""
    escalated, done_batches = 0, 0
    pass_digests = digests.Digests(kind=NotificationKind.ESCALATION_DIGEST)

    def batch(uow: UnitOfWork) -> tuple[dict[str, int], dict[str, list[str]]]:
        """A batch's climb, its digest items added to the pass's (held until it releases them)."""
        done, bundle = _escalate_batch(uow, now, ESCALATION_BATCH, urgent_only)
        return done, pass_digests.add(bundle, uow)

    try:
        while True:
            done, started = app.run(batch)
            pass_digests.started(started)
            escalated, done_batches = escalated + done["escalated"], done_batches + 1
            if done["due"] < ESCALATION_BATCH or done_batches == batches:
                break
            if between is not None:
                between()
    except Exception:
        # The pass's own error is the one told: a release failing too (the store out of reach)
        # leaves the digests held, to go once their hold is past.
        with suppress(Exception):
            _release(app, pass_digests)
        raise
    _release(app, pass_digests)
    return escalated


def _release(app: App, pass_digests: digests.Digests) -> None:
    if pass_digests.rows:
        app.run(pass_digests.release)


def _overdue(now: datetime) -> Any:
    return select(Alert).where(Alert.acknowledged_at.is_(None), Alert.next_escalation_at <= now)


def climb_now_where_nobody_is_left(uow: UnitOfWork, handle: str) -> int:
    """Make the standing alerts that paged ``handle`` (deactivated, or given a role their tier
    does not count, in this transaction) due to climb now where their tier has nobody left:
    nobody there can take them, and waiting ``alert_ack_timeout`` kept someone who may be in
    danger waiting. The relay's next pass (right after the command, and every minute) climbs
    them. Each is held as the relay holds those it climbs, so none climbs twice. How many."""
    paged = select(OutboxMessage.alert_id).where(
        OutboxMessage.recipient == handle, OutboxMessage.alert_id.is_not(None)
    )
    standing = uow.session.scalars(
        select(Alert)
        .where(Alert.id.in_(paged), Alert.acknowledged_at.is_(None))
        .order_by(Alert.id)
        .with_for_update()
    ).all()
    emptied = [alert for alert in standing if not _tier_now(uow, alert)]
    for alert in emptied:
        alert.next_escalation_at = uow.now()
    return len(emptied)


def climb_now_where_nobody_was_reached(uow: UnitOfWork, alert_ids: set[str]) -> int:
    """Make those of the standing alerts ``alert_ids`` whose current tier's pages all died
    unsent (every route failed, or there was none) due to climb now: nobody at that tier was
    told, so nobody there can take them, and waiting ``alert_ack_timeout`` kept someone who may
    be in danger waiting (a visit's buddy with no working route: the alert's only tier-0
    person). The relay's next pass climbs them. Each held as an acknowledgement holds it, before
    its pages are read; one held already (taken, or climbing) is passed over. How many."""
    standing = uow.session.scalars(
        select(Alert)
        .where(
            Alert.id.in_(sorted(alert_ids)),
            Alert.acknowledged_at.is_(None),
            Alert.next_escalation_at > uow.now(),
        )
        .order_by(Alert.id)
        .with_for_update(skip_locked=True)
    ).all()
    unreached = [alert for alert in standing if _tier_died(uow, alert)]
    for alert in unreached:
        alert.next_escalation_at = uow.now()
    return len(unreached)


def _tier_died(uow: UnitOfWork, alert: Alert) -> bool:
    """Whether the alert is below its ladder's top and every page of its current tier is dead,
    none having reached a route."""
    if alert.tier >= top_tier(alert.kind):
        return False
    key = _tier_key(alert)
    pages = uow.session.scalars(select(OutboxMessage).where(_pages_of(alert))).all()
    tier = [p for p in pages if p.dedupe_key == dedupe_key(key, p.recipient, p.channel)]
    return bool(tier) and all(p.status == OutboxStatus.DEAD and p.sent_at is None for p in tier)


def _climb_all(uow: UnitOfWork, due: list[Alert], now: datetime, bundle: Bundle) -> int:
    """Each alert one tier up (or the top tried again, when it had nobody); how many changed.
    A few statements whatever their number: their cases read at once, each agency's tiers looked
    up once, their pages and events written together (one by one, an alert took 1.8 ms on SQLite
    and 5 ms on PostgreSQL)."""
    case_ids = {alert.case_id for alert in due if alert.case_id}
    cases = (
        {case.id: case for case in uow.session.scalars(select(Case).where(Case.id.in_(case_ids)))}
        if case_ids
        else {}
    )
    tier = _tiers_by_agency()
    pages: list[dict[str, Any]] = []
    again: Bundle = {}  # the items of alerts paging their top tier once more (``_untold``)
    changed = 0
    # The tiers' lookups read staff, agencies, cases and visits, never what this loop changes:
    # the alerts and events are written by one flush at the end, not a few at each lookup.
    with uow.session.no_autoflush:
        for alert in due:
            was = alert.tier
            alert.tier = min(alert.tier + 1, top_tier(alert.kind))
            case = cases[alert.case_id] if alert.case_id else None
            notification = ESCALATES_AS.get(alert.kind, NotificationKind.ALERT_ESCALATED)
            context = recipients.alert_context(uow, alert)
            into = again if was == alert.tier else bundle
            paged = _page(
                uow, alert, case, notification, context, now, tier=tier, pages=pages, bundle=into
            )
            if alert.tier != was and case is not None:
                # About a new subject (an id of its own): none can have been recorded before.
                events.record_new(
                    uow,
                    case.id,
                    events.CASE_ESCALATED,
                    new_id(),
                    alert_id=alert.id,
                    tier=alert.tier,
                )
            changed += paged or alert.tier != was
    _untold(uow, again, pages, bundle)
    insert_new(uow, pages)
    return changed


def _untold(uow: UnitOfWork, again: Bundle, pages: list[dict[str, Any]], bundle: Bundle) -> None:
    """Add to ``bundle`` the items of ``again`` (alerts tried again at the top of their ladder)
    for those not paged at that tier yet: one counted there while it waited for nobody was paged
    then (``page_newly_counted``), and their page's key is taken; a digest naming it again
    would page them twice. One lookup of the keys of ``pages``, before they are written."""
    if not again:
        return
    alert_ids = {item["alert_id"] for items in again.values() for item in items}
    keys = [page["dedupe_key"] for page in pages if page["alert_id"] in alert_ids]
    told = set(
        uow.session.execute(
            select(OutboxMessage.recipient, OutboxMessage.alert_id).where(
                OutboxMessage.dedupe_key.in_(keys)
            )
        )
    )
    for person, items in again.items():
        untold = [item for item in items if (person, item["alert_id"]) not in told]
        if untold:
            bundle.setdefault(person, []).extend(untold)


def _tiers_by_agency() -> Callable[[UnitOfWork, Alert, int], list[str]]:
    """A tier lookup for many alerts in one transaction (``_page``'s ``tier``): the people of a
    tier that follows from the agency alone (``_BY_AGENCY``) looked up once per agency, a buddy,
    a caseworker or a tier without a visitor for each alert."""
    found: dict[tuple[Tier, str], list[str]] = {}

    def tier(uow: UnitOfWork, alert: Alert, number: int) -> list[str]:
        step = LADDERS[alert.kind][number]
        if step not in _BY_AGENCY:
            return step(uow, alert)
        if (step, alert.agency_id) not in found:
            found[step, alert.agency_id] = step(uow, alert)
        return list(found[step, alert.agency_id])

    return tier


def _page(
    uow: UnitOfWork,
    alert: Alert,
    case: Case | None,
    notification: NotificationKind,
    context: dict[str, Any],
    now: datetime,
    *,
    tier: Callable[[UnitOfWork, Alert, int], list[str]] | None = None,
    pages: list[dict[str, Any]] | None = None,
    bundle: Bundle | None = None,
) -> bool:
    """Notify the alert's tier, or the first tier above it with someone in it; set when it
    escalates next. Whether anyone was paged. ``tier`` looks a tier's people up (the ladder's,
    by default); the pages are written at once, or added to ``pages`` for the caller to write.
    With ``bundle``, an overdue escalation's pages are written ``bundled`` (the record, never
    sent) and an item for each person added to ``bundle``, for their escalation digest."""
    ladder, top = LADDERS[alert.kind], top_tier(alert.kind)
    people_of = tier or (lambda uow, alert, number: ladder[number](uow, alert))
    people = people_of(uow, alert, alert.tier)
    while not people and alert.tier < top:
        alert.tier += 1
        people = people_of(uow, alert, alert.tier)
    done = alert.tier == top and bool(people)
    alert.next_escalation_at = None if done else now + ack_timeout(uow)
    if not people:
        log.warning(
            "alert %s (%s, tier %d) of agency %s: nobody_to_page",
            alert.id,
            alert.kind,
            alert.tier,
            alert.agency_id,
        )
        return False
    if notification == NotificationKind.ALERT_ESCALATED or (
        alert.kind in ESCALATES_AS and alert.tier
    ):
        context = {**context, "tier": alert.tier}
    rows = notification_rows(
        uow,
        notification,
        recipients=people,
        case=case,
        dedupe=_tier_key(alert),
        context={"alert_id": alert.id, "path": f"/alerts/{alert.id}", **context},
        lane=lane_of(alert.kind),
        agency_id=alert.agency_id,
    )
    if bundle is not None and alert.kind == AlertKind.OVERDUE_ESCALATION:
        _bundle(rows, bundle, _digest_item(alert, case, notification, context), people)
    if pages is None:
        insert_new(uow, rows)
    else:
        pages += rows
    return True


def _bundle(
    rows: list[dict[str, Any]], bundle: Bundle, item: dict[str, Any], people: list[str]
) -> None:
    """Write an overdue escalation's page ``rows`` bundled (the record, never sent themselves)
    and add its ``item`` to the escalation digest of each of ``people``."""
    for row in rows:
        row["status"] = OutboxStatus.BUNDLED.value
    for person in recipients.unique(people):
        bundle.setdefault(person, []).append(item)


def _digest_now(uow: UnitOfWork, bundle: Bundle) -> None:
    """The escalation digests of ``bundle``, made and released in the caller's transaction."""
    if bundle:
        made = digests.Digests(kind=NotificationKind.ESCALATION_DIGEST)
        made.started(made.add(bundle, uow))
        made.release(uow)


def _digest_item(
    alert: Alert, case: Case | None, notification: NotificationKind, context: dict[str, Any]
) -> dict[str, Any]:
    """What an escalation digest says of one alert's page: what its page would (pointers only)."""
    item: dict[str, Any] = {"kind": notification.value, "alert_id": alert.id}
    if case is not None:
        item["case_ref"] = refs.short_form(case.reference)
    if context.get("due_date"):
        item["due_date"] = context["due_date"]
    if alert.tier:
        item["tier"] = alert.tier
    return item | {"path": f"/alerts/{alert.id}"}


def _tier_now(uow: UnitOfWork, alert: Alert) -> list[str]:
    """The people of the alert's current tier, as they stand now."""
    return LADDERS[alert.kind][alert.tier](uow, alert)


def _tier_key(alert: Alert) -> str:
    """What names the pages of the alert's current tier: one per person (and channel)."""
    return f"alert:{alert.id}:{alert.tier}"


def page_joining(uow: UnitOfWork, case: Case, people: list[str]) -> int:
    """Page ``people``, who have just joined the case (given it, or covering it), about its
    standing alerts (``_page_newly_counted``)."""
    return _page_newly_counted(uow, Alert.case_id == case.id, people)


def page_newly_counted(uow: UnitOfWork, agency_id: str, handle: str) -> int:
    """Page ``handle``, just added to the agency or given a new role, about its standing alerts
    (any case's, or none's: a visit's): a supervisor, one on call or an admin is counted in
    tiers of them all (``_page_newly_counted``)."""
    return _page_newly_counted(uow, Alert.agency_id == agency_id, [handle], digested=True)


def _page_newly_counted(
    uow: UnitOfWork, alerts: Any, people: list[str], *, digested: bool = False
) -> int:
    """Page ``people`` about each standing alert of ``alerts`` whose current tier now counts
    them. A tier is paged as the alert reaches it, so one counted in it later was never told,
    and, never paged, could not acknowledge it. Each gets the page the tier had, under its key:
    one per alert, tier and person, however often they join. Each alert is held as an
    acknowledgement holds it: one taken meanwhile is not paged. ``digested`` (every alert of an
    agency, not one case's): overdue escalations reach each of them as one escalation digest,
    as a sweep's do (``_page``'s ``bundle``), for after an outage one made a supervisor is
    counted in thousands. How many alerts paged someone."""
    standing = uow.session.scalars(
        select(Alert)
        .where(alerts, Alert.acknowledged_at.is_(None))
        .order_by(Alert.id)
        .with_for_update(key_share=True)
    ).all()
    tier = _tiers_by_agency()
    pages: list[dict[str, Any]] = []
    bundle: Bundle = {}
    paged = 0
    for alert in standing:
        counted = tier(uow, alert, alert.tier)
        joining = [person for person in people if person in counted]
        page, told = _tier_page(uow, alert) if joining else (None, set())
        if page is None:  # none of them is in its tier, or nobody was paged there
            continue
        case = uow.session.get(Case, alert.case_id) if alert.case_id else None
        rows = notification_rows(
            uow,
            page.kind,
            recipients=joining,
            case=case,
            dedupe=_tier_key(alert),
            context=page.context,
            lane=lane_of(alert.kind),
            agency_id=alert.agency_id,
        )
        if digested and alert.kind == AlertKind.OVERDUE_ESCALATION:
            item = _digest_item(alert, case, NotificationKind(page.kind), page.context)
            _bundle(rows, bundle, item, [p for p in joining if p not in told])
        pages += rows
        paged += 1
    insert_new(uow, pages)
    _digest_now(uow, bundle)
    return paged


def _tier_page(uow: UnitOfWork, alert: Alert) -> tuple[OutboxMessage | None, set[str]]:
    """A page of the alert's current tier as it was written (its key says which tier it is of),
    or None when that tier paged nobody; and whom that tier paged."""
    key = _tier_key(alert)
    pages = uow.session.scalars(select(OutboxMessage).where(_pages_of(alert)))
    tier = [p for p in pages if p.dedupe_key == dedupe_key(key, p.recipient, p.channel)]
    return (tier[0] if tier else None), {p.recipient for p in tier}


def top_tier(kind: str) -> int:
    return len(LADDERS[kind]) - 1


def stuck() -> Any:
    """Open alerts at the top of their ladder still waiting to page someone: nobody was left."""
    at_top = [and_(Alert.kind == kind, Alert.tier == top_tier(kind)) for kind in LADDERS]
    return select(Alert).where(
        Alert.acknowledged_at.is_(None), Alert.next_escalation_at.is_not(None), or_(*at_top)
    )


def unreached() -> Any:
    """Open alerts none of whose pages reached a route, though one was tried: every send so far
    failed (each is tried again; ``harbour notify test`` finds the route at fault). A bundled
    page carries the tries and delivery of the escalation digest that listed it."""
    M = OutboxMessage
    by_case = and_(M.case_id == Alert.case_id, M.alert_id == Alert.id)
    by_agency = and_(M.case_id.is_(None), M.agency_id == Alert.agency_id, M.alert_id == Alert.id)
    page = or_(by_case, by_agency)
    tried = exists().where(page, M.attempts > 0)
    reached = exists().where(page, M.sent_at.is_not(None))
    return select(Alert).where(Alert.acknowledged_at.is_(None), tried, ~reached)


def lane_of(kind: str) -> Lane:
    """The urgent lane is for someone in danger now (an imminent threat, a staff member not back
    from a visit, a missing youth not yet reported): a few at a time, never hundreds; other
    alerts wait their turn."""
    return Lane.URGENT if kind in URGENT else Lane.NORMAL


def acknowledge(app: App, actor_handle: str | None, alert_id: str) -> AlertRow:
    """Record who acknowledged an alert of their agency, and when; the ladder stops there, and
    its pages not yet sent are settled (kept as ``cancelled``/``acknowledged``, never sent).

    Only those the alert paged so far, and the agency's supervisors and admins, may acknowledge
    it (``may_acknowledge``); anyone else is refused and audited. Acknowledging again changes
    nothing. An alert the actor may not see (another agency's, or one ``visible_to`` hides from
    them) answers as a missing one.
    """
    typed = _typed_id(alert_id)

    def work(uow: UnitOfWork) -> AlertRow:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "alert.ack")
        alert, reference = _find(uow, actor, typed, "alert.ack")
        if not may_acknowledge(uow, actor, alert):
            deny(uow, actor, "alert.ack", alert.case_id, "only those it paged may acknowledge it")
        taken = close(uow, alert, actor.handle)
        if taken:
            audit(uow, actor, "alert.ack", alert.case_id, alert_id=alert.id, tier=alert.tier)
            if alert.case_id is not None:
                events.record(
                    uow, alert.case_id, events.ALERT_ACKNOWLEDGED, alert.id, kind=alert.kind
                )
        row = _row(alert, reference, agency_zone(uow, actor.agency_id))
        return replace(row, already_acknowledged=not taken)

    return app.run(work)


def close(uow: UnitOfWork, alert: Alert, handle: str) -> bool:
    """Record ``handle`` as having taken the alert now (also a visitor checking in, staff
    recording the steps an alert waits for): the ladder stops and the pages not yet sent are
    settled. Whether it was open.

    The alert's row is held until the transaction ends, and read again: of two taking it at
    once, the second waits and sees the first (PostgreSQL; SQLite's writers queue anyway)."""
    held = uow.session.execute(
        select(Alert.acknowledged_at, Alert.acknowledged_by)
        .where(Alert.id == alert.id)
        .with_for_update(key_share=True)
    ).one()
    set_committed_value(alert, "acknowledged_at", held.acknowledged_at)
    set_committed_value(alert, "acknowledged_by", held.acknowledged_by)
    if alert.acknowledged_at is not None:
        return False
    alert.acknowledged_at = uow.now()
    alert.acknowledged_by = handle
    alert.next_escalation_at = None
    settle_pages(uow, alert)
    return True


def may_acknowledge(uow: UnitOfWork, actor: Actor, alert: Alert) -> bool:
    """Supervisors and admins of the alert's agency always; anyone else only if one of its
    pages so far was addressed to them (acknowledging cancels the pages still to come)."""
    return alert.id in may_take(uow, actor, [alert.id])


def may_take(uow: UnitOfWork, actor: Actor, alert_ids: list[str]) -> set[str]:
    """Those of ``alert_ids`` (the actor's agency's) the actor may acknowledge
    (``may_acknowledge``), in one indexed lookup whatever their number."""
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        return set(alert_ids)
    return _paged_to(uow, alert_ids, actor.handle)


def paged_to(uow: UnitOfWork, alert: Alert, handle: str) -> bool:
    """Whether one of the alert's pages so far was addressed to ``handle``."""
    return alert.id in _paged_to(uow, [alert.id], handle)


def _paged_to(uow: UnitOfWork, alert_ids: list[str], handle: str) -> set[str]:
    """Those of ``alert_ids`` one of whose pages so far was addressed to ``handle``: one
    indexed lookup whatever their number (ix_outbox_recipient_alert)."""
    if not alert_ids:
        return set()
    M = OutboxMessage
    paged = select(M.alert_id).where(M.recipient == handle, M.alert_id.in_(alert_ids))
    return set(uow.session.scalars(paged.distinct()))


def reached_anyone(app: App, actor_handle: str | None, alert_id: str) -> bool:
    """Whether an alert of the actor's agency reached anyone: one of its pages reached a route
    (``sent_at``; it may still be retried on another; a bundled page's is its digest's), or
    someone has already taken it. Read
    right after the command that raised it has sent its urgent lane, so that the command can
    say plainly when nobody was paged."""
    typed = _typed_id(alert_id)

    def work(uow: UnitOfWork) -> bool:
        actor = resolve_actor(uow, actor_handle)
        alert, _ = _find(uow, actor, typed, "alert.read")
        return _reached(uow, alert)

    return app.run(work)


def urgent_unreached(app: App, actor_handle: str | None, alert_ids: Sequence[str]) -> list[str]:
    """Of a command's own alerts, those on the urgent lane that reached nobody (``reached_anyone``;
    the others wait for the relay's pass): the command says so plainly."""

    def work(uow: UnitOfWork) -> list[str]:
        actor = resolve_actor(uow, actor_handle)
        found = [_find(uow, actor, _typed_id(alert_id), "alert.read")[0] for alert_id in alert_ids]
        urgent = [alert for alert in found if lane_of(alert.kind) == Lane.URGENT]
        return [alert.id for alert in urgent if not _reached(uow, alert)]

    return app.run(work) if alert_ids else []


def _reached(uow: UnitOfWork, alert: Alert) -> bool:
    reached = select(OutboxMessage.id).where(_pages_of(alert), OutboxMessage.sent_at.is_not(None))
    return alert.acknowledged_at is not None or uow.session.scalar(reached.limit(1)) is not None


def _typed_id(alert_id: str) -> str:
    typed = alert_id.strip().lower()
    if not _HEX.fullmatch(typed):
        raise InvalidInput([("ALERT_ID", "not an alert id (at least 8 hex characters)")])
    return typed


def settle_pages(uow: UnitOfWork, alert: Alert) -> int:
    """Settle the alert's pending pages: an acknowledged alert must not page anyone later.

    A page that reached one of its routes already (its retry was for another) is sent; the rest
    are cancelled; by one statement, each row as it stands once its lock is had (a relay's
    record of a first delivery, committed meanwhile, makes it sent, not left pending). A row a
    relay holds mid-send is settled too; the relay sends none of them (``relay._taken``), and if
    a send already under way succeeds, records it as sent after all (see ``relay._verdict``).
    Returns how many rows were settled.
    """
    pages = _pages_of(alert)
    settled = outbox.settle(uow, pages, "acknowledged")
    if alert.kind == AlertKind.OVERDUE_ESCALATION:
        settled += digests.withdraw_alert(uow, alert.id, pages)
    return settled


def _pages_of(alert: Alert) -> Any:
    """The outbox rows of an alert (by its case first, the indexed column, when it has one)."""
    M = OutboxMessage
    if alert.case_id is None:
        return and_(M.case_id.is_(None), M.agency_id == alert.agency_id, M.alert_id == alert.id)
    return and_(M.case_id == alert.case_id, M.alert_id == alert.id)


def _find(uow: UnitOfWork, actor: Actor, typed: str, action: str) -> tuple[Alert, str | None]:
    """The alert for a typed id that the actor may see (``visible_to``), and its case's
    reference. Another agency's alert answers as a missing one, and so does one of their own
    agency's they may not see (no existence leak: an id that also matches hidden alerts is not
    called ambiguous); each attempt is audited, the hidden one as a refusal on its case."""
    of_agency = (
        select(Alert, Case.reference)
        .outerjoin(Case, Case.id == Alert.case_id)
        .where(Alert.agency_id == actor.agency_id, Alert.id.startswith(typed))
    )
    matches = uow.session.execute(of_agency.where(visible_to(actor, uow.now())).limit(2)).all()
    if len(matches) > 1:
        raise InvalidInput([("ALERT_ID", "matches more than one alert; type more of it")])
    if matches:
        alert, reference = matches[0]
        return alert, reference
    hidden = uow.session.scalars(of_agency.with_only_columns(Alert).limit(2)).all()
    if len(hidden) == 1:
        refuse_hidden(uow, actor, action, hidden[0].case_id, *_MISSING, alert_id=hidden[0].id)
    refuse_missing(uow, actor, action, *_MISSING)


_MISSING = ("alert_not_found", "no such alert")


@dataclass(frozen=True)
class AlertRow:
    """One alert as staff see it in a list: operational values only, and the agency's zone
    its times are shown in."""

    id: str
    case_reference: str | None  # None: an alert about no case (a visit)
    kind: str
    tier: int
    opened_at: datetime
    next_escalation_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    zone: ZoneInfo
    already_acknowledged: bool = False  # an `ack` that found it taken: nothing was changed
    may_take: bool = True  # whether this person may acknowledge it (``may_acknowledge``)

    def as_json(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "alert": self.id,
            "case": self.case_reference,
            "kind": self.kind,
            "tier": self.tier,
            "opened_at": moment(self.opened_at),
            "next_escalation_at": moment(self.next_escalation_at),
            "acknowledged_at": moment(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
        }


def show_alert(
    app: App, actor_handle: str | None, alert_id: str, *, seen_within: timedelta | None = None
) -> AlertRow:
    """One alert the actor may see (``visible_to``: the page a message's link opens); audited.
    Any other answers as a missing one (``_find``).

    ``seen_within``: a refresh of what a page already showed (the console's status poll). The
    read is audited only if this person has no ``alert.read`` of this alert that recent, so a
    page open for a quarter of an hour is one row, not one per poll, while a status asked for
    without the page (or after the page's polling has long stopped) is still recorded."""
    typed = _typed_id(alert_id)

    def work(uow: UnitOfWork) -> AlertRow:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "alert.ack")
        alert, reference = _find(uow, actor, typed, "alert.read")
        if seen_within is None or not _read_since(uow, actor, alert, uow.now() - seen_within):
            audit(uow, actor, "alert.read", alert.case_id, alert_id=alert.id)
        row = _row(alert, reference, agency_zone(uow, actor.agency_id))
        return replace(row, may_take=may_acknowledge(uow, actor, alert))

    return app.run(work)


def _read_since(uow: UnitOfWork, actor: Actor, alert: Alert, since: datetime) -> bool:
    """Whether ``actor`` has an audited read of ``alert`` at or after ``since`` (by the alert's
    case and time first: the audit table's index)."""
    A = AuditEvent
    recent = uow.session.scalars(
        select(A.details).where(
            A.case_id.is_(None) if alert.case_id is None else A.case_id == alert.case_id,
            A.at >= since,
            A.agency_id == actor.agency_id,
            A.actor_handle == actor.handle,
            A.action == "alert.read",
            A.outcome == "ok",
        )
    )
    return any(details.get("alert_id") == alert.id for details in recent)


def _row(a: Alert, reference: str | None, zone: ZoneInfo) -> AlertRow:
    return AlertRow(
        a.id,
        reference,
        a.kind,
        a.tier,
        a.opened_at,
        a.next_escalation_at,
        a.acknowledged_at,
        a.acknowledged_by,
        zone,
    )


def visible_to(actor: Actor, now: datetime) -> Any:
    """Which of the agency's alerts an actor sees, listed or by id (the page a message's link
    opens, its acknowledgement): supervisors and admins all of them; anyone else those paged
    to them, those of the cases assigned to them or that they cover, and those about their own
    visits (an alert names its case: which cases are in danger is not everyone's to know).
    Each part is an indexed lookup. The query must join ``Case`` on the alert's case."""
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        return true()
    M = OutboxMessage
    paged = select(M.alert_id).where(M.alert_id.is_not(None), M.recipient == actor.handle)
    covered = select(CaseCover.case_id).where(
        CaseCover.staff_id == actor.staff_id, cover_active(now)
    )
    # The buddy is paged (tier 0); the visitor is not, but the alert is about their visit.
    visits = select(Visit.alert_id).where(
        Visit.staff_id == actor.staff_id, Visit.alert_id.is_not(None)
    )
    return or_(
        Alert.id.in_(paged),
        Case.caseworker_id == actor.staff_id,
        Alert.case_id.in_(covered),
        Alert.id.in_(visits),
    )


def sees(uow: UnitOfWork, actor: Actor, alert_id: str | None) -> bool:
    """Whether the actor may see the alert ``alert_id`` (``visible_to``): a page links to an
    alert only for those its link would not answer "not found"."""
    if alert_id is None:
        return False
    found = uow.session.scalar(
        select(Alert.id)
        .outerjoin(Case, Case.id == Alert.case_id)
        .where(Alert.id == alert_id, Alert.agency_id == actor.agency_id)
        .where(visible_to(actor, uow.now()))
    )
    return found is not None


def list_alerts(
    app: App,
    actor_handle: str | None,
    *,
    include_acknowledged: bool = False,
    limit: int = 50,
    urgent_first: bool = False,
) -> list[AlertRow]:
    """The alerts the actor may see (``visible_to``), newest first: those still waiting for
    someone, or all of them. ``urgent_first``: those someone is in danger in (``URGENT``)
    before the others, so that no number of later ones pushes them out of ``limit``."""

    def work(uow: UnitOfWork) -> list[AlertRow]:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "alert.ack")
        query = (
            select(Alert, Case.reference)
            .outerjoin(Case, Case.id == Alert.case_id)
            .where(Alert.agency_id == actor.agency_id, visible_to(actor, uow.now()))
            .order_by(
                *([_URGENT_KINDS.desc()] if urgent_first else []),
                Alert.opened_at.desc(),
                Alert.id,
            )
            .limit(limit)
        )
        if not include_acknowledged:
            query = query.where(Alert.acknowledged_at.is_(None))
        zone = agency_zone(uow, actor.agency_id)
        found = uow.session.execute(query).all()
        takes = may_take(uow, actor, [alert.id for alert, _ in found])
        rows = [replace(_row(a, ref, zone), may_take=a.id in takes) for a, ref in found]
        audit(uow, actor, "alert.list", count=len(rows))
        return rows

    return app.run(work)
