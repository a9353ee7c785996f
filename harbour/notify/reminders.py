"""The reminder sweep: each threshold of each open assessment fires once per due date.

Thresholds and their times come from the reassessment policy (``reminder_times``). When a sweep
finds several reminder thresholds passed at once (an assessment opened late), only the latest is
sent and the earlier ones are marked skipped. Reminders of one sweep go out as one digest per
recipient (``harbour.notify.digests``), written batch by batch with the marks. Overdue past
``escalate_overdue_after``: the case is marked escalated and an alert goes to the supervisors
(and up the ladder until acknowledged).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from harbour import events
from harbour.app import UnitOfWork
from harbour.db.models import Agency, Assessment, Case, ReminderMark
from harbour.domain import refs
from harbour.domain.policy import (
    ESCALATION,
    REMINDERS,
    SLACK,
    Policy,
    Thresholds,
    reminder_times,
)
from harbour.domain.vocab import (
    AlertKind,
    AssessmentPoint,
    AssessmentStatus,
    CaseStatus,
    NotificationKind,
)
from harbour.notify import alerts, recipients
from harbour.notify.digests import Digests

K = NotificationKind
KINDS = {"due_soon": K.ASSESSMENT_DUE_SOON, "due_today": K.ASSESSMENT_DUE_TODAY}
FOLLOW_UP_KINDS = {"due_soon": K.FOLLOW_UP_DUE, "due_today": K.FOLLOW_UP_DUE}
SENT, SKIPPED = "sent", "skipped"


@dataclass(frozen=True)
class Due:
    """An open assessment with a threshold near or past the sweep's moment: what its reminder
    and escalation need, read as plain columns (no rows kept in the session)."""

    assessment_id: str
    due_at: datetime
    point: str
    case_id: str
    reference: str
    caseworker_id: str | None
    agency_id: str
    zone: ZoneInfo


@dataclass(frozen=True)
class Batch:
    """What one batch did, handed back once its transaction has committed."""

    counts: Counter[str]
    started: dict[str, list[str]]  # digest rows it started, by recipient


T = TypeVar("T")


class Runner(Protocol):
    """Runs a piece of work in a unit of work: ``App.run`` (a transaction each time), or a
    caller's own unit of work (everything in one transaction)."""

    def __call__(self, work: Callable[[UnitOfWork], T], /) -> T: ...


def sweep(
    run: Runner,
    policy: Policy,
    now: datetime,
    *,
    batch: int = 500,
    between: Callable[[], None] | None = None,
    read: Runner | None = None,
) -> dict[str, int]:
    """Fire the reminder thresholds passed by ``now``; counts by threshold and digests.

    The candidates are found by one indexed query (in ``read``, a read-only transaction, when
    given); then ``batch`` of them at a time in one ``run`` each (marks, digest items,
    escalations together), and a short last one sends the digests; ``between`` runs between
    two batches. With ``run=app.run`` each batch commits: on SQLite a transaction holds the
    database's one write lock, and a catch-up sweep over many cases in one transaction kept
    every other command (``harbour assess`` too) waiting.
    """
    thresholds, digests = Thresholds.of(policy), Digests()
    counts: Counter[str] = Counter()
    chunks = _chunks((read or run)(partial(candidates, now=now)), batch)
    for number, chunk in enumerate(chunks):
        if number and between is not None:
            between()
        done = run(partial(_batch, thresholds=thresholds, now=now, ids=chunk, digests=digests))
        digests.started(done.started)
        counts += done.counts
    counts += _order_reminders(run, now, digests)
    run(digests.release)
    return _totals(counts, digests)


def _order_reminders(run: Runner, now: datetime, digests: Digests) -> Counter[str]:
    """Protective orders running out, as one more batch of the pass, in the same digests."""
    from harbour.notify import order_reminders

    found, started = run(lambda uow: order_reminders.remind(uow, now, digests))
    digests.started(started)
    return found


def _chunks(ids: list[str], size: int) -> list[list[str]]:
    return [ids[first : first + size] for first in range(0, len(ids), size)]


def _totals(counts: Counter[str], digests: Digests) -> dict[str, int]:
    return {**counts, "digests": digests.written}


def candidates(uow: UnitOfWork, now: datetime) -> list[str]:
    """The open assessments, by id, with a threshold near or past ``now`` that has not fired
    for their due date: one indexed query, whose cost follows what is due (the rest of the
    caseload is never read). The bound is loose by ``SLACK``; ``Thresholds.passed`` is exact."""
    names, params = _bounds(uow.reference.policy, now)
    return list(uow.session.scalars(_candidate_query(names), params))


def _bounds(policy: Policy, now: datetime) -> tuple[tuple[str, ...], dict[str, datetime]]:
    specs = Thresholds.of(policy).specs
    names = tuple(name for name, *_ in specs)
    return names, {f"bound_{name}": now - offset + SLACK for name, _, _, offset in specs}


def _batch(
    uow: UnitOfWork, thresholds: Thresholds, now: datetime, ids: list[str], digests: Digests
) -> Batch:
    """Marks, escalations and digest items for the candidates ``ids``, read again in this
    transaction (one completed or reminded since is left out): a few statements per batch,
    whatever its size."""
    chunk = _due(uow, ids)
    fired = _fired_marks(uow, [due.assessment_id for due in chunk])
    who = recipients.caseworkers_or_supervisors(
        uow, [(due.caseworker_id, due.agency_id) for due in chunk]
    )
    marks: list[dict[str, Any]] = []
    for due in chunk:
        passed = [
            name
            for name in thresholds.passed(due.due_at, due.zone, now)
            if fired.get((due.assessment_id, name)) != due.due_at
        ]
        reminders = [name for name in passed if name in REMINDERS]
        marks += [_mark(due, name, now, SKIPPED) for name in reminders[:-1]]
        marks += [_mark(due, name, now, SENT) for name in reminders[-1:]]
        if ESCALATION in passed:
            marks.append(_mark(due, ESCALATION, now, SENT))
    written = _record_marks(uow, marks)
    by_id = {due.assessment_id: due for due in chunk}
    counts: Counter[str] = Counter(assessments=len(chunk))
    items: dict[str, list[dict[str, Any]]] = defaultdict(list)
    overdue: list[Due] = []
    for mark in marks:
        due, name = by_id[mark["assessment_id"]], mark["threshold"]
        if (due.assessment_id, name) not in written:
            continue  # another sweep fired it meanwhile
        if mark["outcome"] == SKIPPED:
            counts["skipped"] += 1
        elif name == ESCALATION:
            overdue.append(due)
        else:
            for recipient in who[due.caseworker_id, due.agency_id]:
                items[recipient].append(_item(due, name))
            counts[name] += 1
    _escalate_all(uow, overdue)
    counts["escalated"] += len(overdue)
    return Batch(counts, digests.add(items, uow))


def unfired_thresholds(uow: UnitOfWork) -> list[datetime]:
    """When each open assessment's earliest threshold not yet fired for its current due date
    passes (possibly already): the moments a sweep will next find work. The demo skips the cron
    ticks before the earliest of them."""
    policy = uow.reference.policy
    columns = (Assessment.id, Assessment.due_at, Agency.timezone)
    rows = uow.session.execute(_remindable(*columns)).all()
    marks = {(m.assessment_id, m.threshold): m for m in uow.session.scalars(select(ReminderMark))}
    found = []
    for assessment_id, due_at, zone in rows:
        assert due_at is not None
        times = reminder_times(policy, due_at, ZoneInfo(zone))
        fired = {name for name, _ in times if _fired(marks.get((assessment_id, name)), due_at)}
        found += [at for name, at in times if name not in fired][:1]
    return found


def _remindable(*columns: Any) -> Any:
    """Open assessments with a due date on cases still open, with their agency: those whose
    thresholds can fire."""
    return (
        select(*columns)
        .join(Case, Case.id == Assessment.case_id)
        .join(Agency, Agency.id == Case.agency_id)
        .where(
            Assessment.status == AssessmentStatus.OPEN,
            Assessment.due_at.is_not(None),
            Case.status != CaseStatus.CLOSED,
        )
    )


@lru_cache(maxsize=8)
def _candidate_query(thresholds: tuple[str, ...]) -> Any:
    """Built once (a sweep runs every few minutes): the bounds are parameters."""
    unfired = or_(*(_unfired_near(name) for name in thresholds))
    return _remindable(Assessment.id).where(unfired).order_by(Assessment.id)


# By primary key alone: beside the candidates' own conditions, SQLite's planner walked the
# (status, due_at) index for every batch. What those conditions say is checked in Python.
_DUE_BY_ID = (
    select(
        Assessment.id,
        Assessment.due_at,
        Assessment.point,
        Case.id,
        Case.reference,
        Case.caseworker_id,
        Case.agency_id,
        Agency.timezone,
        Assessment.status,
        Case.status,
    )
    .join(Case, Case.id == Assessment.case_id)
    .join(Agency, Agency.id == Case.agency_id)
    .where(Assessment.id.in_(bindparam("ids", expanding=True)))
    .order_by(Assessment.id)
)


def _due(uow: UnitOfWork, ids: list[str]) -> list[Due]:
    """The candidates ``ids`` still remindable (``_remindable``) in this transaction."""
    return [
        Due(assessment, due_at, point, case, ref, worker, agency, ZoneInfo(zone))
        for assessment, due_at, point, case, ref, worker, agency, zone, status, case_status in (
            uow.session.execute(_DUE_BY_ID, {"ids": ids}).tuples()
        )
        if status == AssessmentStatus.OPEN
        and due_at is not None
        and case_status != CaseStatus.CLOSED
    ]


def _unfired_near(threshold: str) -> Any:
    fired = exists().where(
        ReminderMark.assessment_id == Assessment.id,
        ReminderMark.threshold == threshold,
        ReminderMark.due_at == Assessment.due_at,
    )
    bound = bindparam(f"bound_{threshold}", type_=Assessment.__table__.c.due_at.type)
    return and_(Assessment.due_at <= bound, ~fired)


def _fired_marks(uow: UnitOfWork, ids: list[str]) -> dict[tuple[str, str], datetime]:
    """The due date each threshold of these assessments last fired for."""
    found = uow.session.execute(
        select(ReminderMark.assessment_id, ReminderMark.threshold, ReminderMark.due_at).where(
            ReminderMark.assessment_id.in_(ids)
        )
    )
    return {(assessment_id, name): due_at for assessment_id, name, due_at in found.tuples()}


def _fired(mark: ReminderMark | None, due_at: datetime) -> bool:
    return mark is not None and mark.due_at == due_at


def _mark(due: Due, threshold: str, now: datetime, outcome: str) -> dict[str, Any]:
    return {
        "assessment_id": due.assessment_id,
        "threshold": threshold,
        "due_at": due.due_at,
        "fired_at": now,
        "outcome": outcome,
    }


def _record_marks(uow: UnitOfWork, marks: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Record that each threshold fired for the current due date, in one statement: a new mark,
    or the assessment's earlier one re-armed (its due date moved since), keyed by the marks'
    uniqueness. Returns those written: a mark another sweep has just written for the same due
    date is left alone and left out, so a threshold fires once even if two sweeps overlap."""
    if not marks:
        return set()
    dialect = postgresql if uow.session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ReminderMark.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["assessment_id", "threshold"],
        set_={name: statement.excluded[name] for name in ("due_at", "fired_at", "outcome")},
        where=ReminderMark.due_at != statement.excluded.due_at,
    ).returning(ReminderMark.assessment_id, ReminderMark.threshold)
    found = uow.session.connection().execute(statement, marks)
    return set(found.tuples())


def _item(due: Due, threshold: str) -> dict[str, Any]:
    follow_up = due.point == AssessmentPoint.FOLLOW_UP
    kind = (FOLLOW_UP_KINDS if follow_up else KINDS).get(threshold, K.ASSESSMENT_OVERDUE)
    return {
        "case_ref": refs.short_form(due.reference),
        "kind": kind.value,
        "due_date": _local_date(due),
        "path": f"/cases/{due.reference}",
    }


def _local_date(due: Due) -> str:
    return due.due_at.astimezone(due.zone).date().isoformat()


def _escalate_all(uow: UnitOfWork, overdue: list[Due]) -> None:
    if not overdue:
        return
    ids = [due.case_id for due in overdue]
    cases = {case.id: case for case in uow.session.scalars(select(Case).where(Case.id.in_(ids)))}
    for due in overdue:
        escalate_overdue(uow, due, cases[due.case_id])


def escalate_overdue(uow: UnitOfWork, due: Due, case: Case) -> None:
    """Overdue past the policy's threshold: mark the case and alert its supervisors."""
    case.escalated = True
    alerts.open_alert(
        uow,
        case,
        AlertKind.OVERDUE_ESCALATION,
        due.assessment_id,
        NotificationKind.OVERDUE_ESCALATION,
        {"due_date": _local_date(due)},
    )
    events.record(
        uow,
        case.id,
        events.CASE_ESCALATED,
        due.assessment_id,
        reason="overdue",
        point=due.point,
    )
