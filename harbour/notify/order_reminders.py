"""Protective orders running out: the caseworker is reminded 30 and 7 days before the expiry,
each threshold once per expiry date, as items of the sweep's reminder digest.

Called by the reminder sweep (``reminders.sweep``) as one more batch of its pass, after the
assessments' own. An order found past several thresholds at once (entered late) sends only the
latest and marks the earlier skipped, as assessment reminders do. Expired orders are not
reminded of: the case summary and the staff copy show them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from harbour.app import UnitOfWork
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
    fired = _fired(uow, [threat for threat, *_ in found])
    marks: list[dict[str, Any]] = []
    owed: list[tuple[str, str, str | None, str, Any]] = []
    for threat, expires_on, reference, worker, agency, zone in found:
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


def any_due(now: datetime) -> Any:
    """Whether ``remind`` may have a threshold to fire at ``now`` (an SQL EXISTS)."""
    return (
        select(ThreatSource.id)
        .join(Case, Case.id == ThreatSource.case_id)
        .where(*_unfired_near(now))
        .exists()
    )


def _candidates(uow: UnitOfWork, now: datetime) -> list[Any]:
    """The orders ``_unfired_near`` finds, with what a reminder needs: one query, whose cost
    follows what is near and not yet reminded of."""
    query = (
        select(
            ThreatSource.id,
            ThreatSource.protective_order_expires_on,
            Case.reference,
            Case.caseworker_id,
            Case.agency_id,
            Agency.timezone,
        )
        .join(Case, Case.id == ThreatSource.case_id)
        .join(Agency, Agency.id == Case.agency_id)
        .where(*_unfired_near(now))
        .order_by(ThreatSource.id)
    )
    return list(uow.session.execute(query).tuples())


def _unfired_near(now: datetime) -> tuple[Any, ...]:
    """Orders of cases not closed, not expired, with a threshold that may have passed by ``now``
    (a day's slack: the agency's date may differ from UTC's) and has not fired for the order's
    expiry date. (Joined with the cases.)"""
    today, day = now.date(), timedelta(days=1)
    expires_on, mark = ThreatSource.protective_order_expires_on, OrderReminderMark
    unfired = [
        and_(
            expires_on <= today + timedelta(days=days) + day,
            ~exists().where(
                mark.threat_id == ThreatSource.id,
                mark.threshold == name,
                mark.expires_on == expires_on,
            ),
        )
        for name, days in orders.REMINDERS.items()
    ]
    return (
        ThreatSource.protective_order.is_(True),
        expires_on >= today - day,
        Case.status != CaseStatus.CLOSED,
        or_(*unfired),
    )


def _fired(uow: UnitOfWork, ids: list[str]) -> dict[tuple[str, str], Any]:
    M = OrderReminderMark
    found = uow.session.execute(
        select(M.threat_id, M.threshold, M.expires_on).where(M.threat_id.in_(ids))
    )
    return {(threat, name): day for threat, name, day in found.tuples()}


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

    dialect = postgresql if uow.session.get_bind().dialect.name == "postgresql" else sqlite
    table = OrderReminderMark.__table__
    statement = dialect.insert(table)
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
