"""Protective orders running out: the caseworker is reminded 30 and 7 days before the expiry,
each threshold once per expiry date, as items of the sweep's reminder digest.

Called by the reminder sweep (``reminders.sweep``) as one more batch of its pass, after the
assessments' own. An order found past several thresholds at once (entered late) sends only the
latest and marks the earlier skipped, as assessment reminders do. Expired orders are not
reminded of: the case summary and the staff copy show them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, exists, false, or_, select

from harbour.access import agency_zones
from harbour.app import UnitOfWork
from harbour.db import upsert
from harbour.db.models import Agency, Case, OrderReminderMark, ThreatSource
from harbour.domain import orders, refs
from harbour.domain.vocab import CaseStatus
from harbour.notify import recipients
from harbour.notify.digests import Digests

SENT, SKIPPED = "sent", "skipped"


def remind(
    uow: UnitOfWork, now: datetime, digests: Digests
) -> tuple[Counter[str], dict[str, list[str]]]:
    """Fire the thresholds passed by ``now``; (counts, digest rows started by recipient)."""
    found = _candidates(uow, now)
    if not found:  # nearly every sweep: nothing more to read
        return Counter(orders_expiring=0), {}
    held = _held_caseworkers(uow, sorted({case for _, _, case, *_ in found}))
    found = _as_held(uow, now, [threat for threat, *_ in found])
    fired = _fired(uow, [threat for threat, *_ in found])
    marks: list[dict[str, Any]] = []
    owed: list[tuple[str, str, str | None, str, Any]] = []
    for threat, expires_on, case, reference, agency, zone in found:
        if case not in held:  # deleted since it was read
            continue
        worker = held[case]
        today = now.astimezone(ZoneInfo(zone)).date()
        due = [n for n in orders.passed(expires_on, today) if fired.get((threat, n)) != expires_on]
        marks += [_mark(threat, name, expires_on, now, SKIPPED) for name in due[:-1]]
        marks += [_mark(threat, name, expires_on, now, SENT) for name in due[-1:]]
        if due:
            owed.append((threat, reference, worker, agency, expires_on))
    written = _record(uow, marks)
    sent = {mark["threat_id"] for mark in marks if mark["outcome"] == SENT}
    owed = [entry for entry in owed if entry[0] in sent and entry[0] in written]
    who = recipients.caseworkers_or_supervisors(uow, [(w, a) for _, _, w, a, _ in owed])
    items: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, reference, worker, agency, expires_on in owed:
        for recipient in who[worker, agency]:
            items[recipient].append(_item(reference, expires_on))
    counts = Counter(orders_expiring=len(owed))
    return counts, digests.add(items, uow) if items else {}


def forget_order_marks(uow: UnitOfWork, case_id: str) -> None:
    """Delete the marks of the case's protective orders, so that their thresholds fire again.
    The caller holds the case (``load_case``), which a sweep writing its marks holds first
    (``_held_caseworkers``): the sweep is waited for there, so its reminder is committed, and
    its digest item found by the withdrawal, before the mark is forgotten. A mark a sweep holds
    is waited for too (no SKIP LOCKED, unlike ``reminders.forget_marks``): the sweep took it
    after the case, so a caller holding the case never meets one."""
    threats = select(ThreatSource.id).where(ThreatSource.case_id == case_id)
    uow.session.execute(delete(OrderReminderMark).where(OrderReminderMark.threat_id.in_(threats)))


def any_due(uow: UnitOfWork, now: datetime) -> Any:
    """Whether ``remind`` has a threshold to fire at ``now`` (an SQL EXISTS)."""
    return _candidates_query(uow, now).exists()


def _candidates(uow: UnitOfWork, now: datetime) -> list[Any]:
    """The orders with a threshold to fire, with what a reminder needs: one query, whose cost
    follows what is near and not yet reminded of."""
    return list(uow.session.execute(_candidates_query(uow, now)))


def _candidates_query(uow: UnitOfWork, now: datetime) -> Any:
    """Orders of cases not closed, not expired, with a threshold passed by ``now`` in their
    agency's zone (``orders.passed``) that has not fired for the order's expiry date."""
    expires_on, mark = ThreatSource.protective_order_expires_on, OrderReminderMark
    # Each agency's today: zones on the same date share one condition (a handful at most).
    zones_on: dict[date, list[str]] = defaultdict(list)
    for zone in agency_zones(uow):
        zones_on[now.astimezone(ZoneInfo(zone)).date()].append(zone)
    unfired = [
        and_(
            Agency.timezone.in_(zones),
            expires_on >= today,
            or_(
                *(
                    and_(
                        expires_on <= today + timedelta(days=days),
                        ~exists().where(
                            mark.threat_id == ThreatSource.id,
                            mark.threshold == name,
                            mark.expires_on == expires_on,
                        ),
                    )
                    for name, days in orders.REMINDERS.items()
                )
            ),
        )
        for today, zones in zones_on.items()
    ]
    return (
        select(
            ThreatSource.id,
            expires_on,
            Case.id,
            Case.reference,
            Case.agency_id,
            Agency.timezone,
        )
        .join(Case, Case.id == ThreatSource.case_id)
        .join(Agency, Agency.id == Case.agency_id)
        .where(
            ThreatSource.protective_order.is_(True),
            Case.status != CaseStatus.CLOSED,
            or_(false(), *unfired),
        )
        .order_by(ThreatSource.id)
    )


def _as_held(uow: UnitOfWork, now: datetime, threats: list[str]) -> list[Any]:
    """The candidates among ``threats`` read again once their cases are held: an edit the hold
    waited for (an order renewed or taken off, its case closed) is seen, so an order is reminded
    of, and marked, by the expiry it has now, not the one read before the wait (PostgreSQL)."""
    return list(
        uow.session.execute(_candidates_query(uow, now).where(ThreatSource.id.in_(threats)))
    )


def _held_caseworkers(uow: UnitOfWork, cases: list[str]) -> dict[str, str | None]:
    """The caseworker of each of ``cases`` as it stands now, by case (one deleted since it was
    read is left out), the cases held until the transaction ends (PostgreSQL), in id order.

    Before any mark is written, and before the marks are read: a reassignment
    (``hooks.reminders_handed_over``) holds the case before it forgets the case's marks, and
    waits for a mark the sweep has re-armed (``forget_order_marks``), so a sweep holding that
    mark while it waited for the case would wait in a circle (the assessments' sweep writes its
    marks first: ``reminders.forget_marks`` passes over those). Held so, a reassignment not yet
    committed is waited for and seen (and the marks it forgot), and one that comes later waits
    for the sweep to commit, then finds its marks and digest items, which it forgets and
    withdraws. In id order, as an assessments' batch takes its overdue cases
    (``reminders._still_overdue``) and a deactivation all it gives away. An IN list,
    as ``_fired``'s: orders near their expiry are few."""
    query = (
        select(Case.id, Case.caseworker_id)
        .where(Case.id.in_(cases))
        .order_by(Case.id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE, as ``load_case`` holds a case
    )
    return dict(uow.session.execute(query).all())


def _fired(uow: UnitOfWork, ids: list[str]) -> dict[tuple[str, str], Any]:
    M = OrderReminderMark
    found = uow.session.execute(
        select(M.threat_id, M.threshold, M.expires_on).where(M.threat_id.in_(ids))
    )
    return {(threat, name): day for threat, name, day in found}


def _mark(threat: str, name: str, expires_on: Any, now: datetime, outcome: str) -> dict[str, Any]:
    return {
        "threat_id": threat,
        "threshold": name,
        "expires_on": expires_on,
        "fired_at": now,
        "outcome": outcome,
    }


def _record(uow: UnitOfWork, marks: list[dict[str, Any]]) -> set[str]:
    """Write the marks in one statement (a new one, or one re-armed for a new expiry); the
    threats whose marks this sweep wrote (a concurrent sweep's are left out)."""
    if not marks:
        return set()
    from harbour.db.base import new_id

    statement = upsert.insert(uow.session, OrderReminderMark.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["threat_id", "threshold"],
        set_={name: statement.excluded[name] for name in ("expires_on", "fired_at", "outcome")},
        where=OrderReminderMark.expires_on != statement.excluded.expires_on,
    ).returning(OrderReminderMark.threat_id)
    rows = [{"id": new_id(), **mark} for mark in marks]
    return set(uow.session.connection().execute(statement, rows).scalars())


def _item(reference: str, expires_on: Any) -> dict[str, Any]:
    return {
        "case_ref": refs.short_form(reference),
        "kind": orders.EXPIRING,
        "due_date": expires_on.isoformat(),
        "path": f"/cases/{reference}",
    }
