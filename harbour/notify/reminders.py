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
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, exists, or_, select

from harbour import events
from harbour.app import UnitOfWork
from harbour.db.models import Agency, Assessment, Case, ReminderMark
from harbour.domain import refs
from harbour.domain.policy import ESCALATION, REMINDERS, Policy, reminder_times
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
SLACK = timedelta(days=1)  # local calendar days and DST move a threshold by hours, not days


@dataclass(frozen=True)
class Due:
    assessment: Assessment
    case: Case
    zone: ZoneInfo


@dataclass(frozen=True)
class Batch:
    """What one batch did, handed back once its transaction has committed."""

    found: int
    last: str  # the keyset cursor: the batch's last assessment id
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
) -> dict[str, int]:
    """Fire the reminder thresholds passed by ``now``; counts by threshold and digests.

    Assessments are read ``batch`` at a time, each batch in one ``run`` (marks, digest items,
    escalations together), then a short last one sends the digests; ``between`` runs between
    two batches. With ``run=app.run`` each batch commits: on SQLite a transaction holds the
    database's one write lock, and a catch-up sweep over many cases in one transaction kept
    every other command (``harbour assess`` too) waiting.
    """
    digests = Digests()
    counts: Counter[str] = Counter()
    after = ""
    while True:
        done = run(
            partial(_batch, policy=policy, now=now, batch=batch, after=after, digests=digests)
        )
        digests.started(done.started)
        counts += done.counts
        if done.found < batch:
            break
        after = done.last
        if between is not None:
            between()
    run(digests.release)
    return _totals(counts, digests)


def _totals(counts: Counter[str], digests: Digests) -> dict[str, int]:
    return {**counts, "digests": digests.written}


def _batch(
    uow: UnitOfWork, policy: Policy, now: datetime, batch: int, after: str, digests: Digests
) -> Batch:
    """The next ``batch`` candidates after ``after``: marks, escalations and digest items."""
    chunk = _candidates(uow, policy, now, batch, after)
    counts: Counter[str] = Counter()
    items: dict[str, list[dict[str, Any]]] = defaultdict(list)
    marks = _marks(uow, [due.assessment.id for due in chunk])
    for due in chunk:
        counts["assessments"] += 1
        _consider(uow, policy, now, due, marks[due.assessment.id], items, counts)
    started = digests.add(items, uow)
    _let_go(uow, chunk, marks)
    last = chunk[-1].assessment.id if chunk else after
    return Batch(len(chunk), last, counts, started)


def _candidates(
    uow: UnitOfWork, policy: Policy, now: datetime, batch: int, after: str
) -> list[Due]:
    """Open assessments after ``after`` (by id) with a threshold near or past ``now`` that has
    not fired for their due date. The SQL bound is loose by a day (local calendar days, DST);
    ``_consider`` is exact."""
    offsets = _offsets(policy)
    query = _candidate_query(tuple(name for name, _ in offsets))
    bounds = {f"bound_{name}": now - offset + SLACK for name, offset in offsets}
    params = {**bounds, "after": after, "batch": batch}
    rows = uow.session.execute(query, params).tuples().all()
    return [Due(a, c, ZoneInfo(zone)) for a, c, zone in rows]


def _offsets(policy: Policy) -> list[tuple[str, timedelta]]:
    """Each threshold's offset from the due time, as plain elapsed time."""
    reference = datetime(2001, 1, 1, tzinfo=UTC)
    return [
        (name, at - reference) for name, at in reminder_times(policy, reference, ZoneInfo("UTC"))
    ]


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
    return (
        _remindable(Assessment, Case, Agency.timezone)
        .where(
            Assessment.id > bindparam("after"),
            or_(*(_unfired_near(name) for name in thresholds)),
        )
        .order_by(Assessment.id)
        .limit(bindparam("batch"))
    )


def _unfired_near(threshold: str) -> Any:
    fired = exists().where(
        ReminderMark.assessment_id == Assessment.id,
        ReminderMark.threshold == threshold,
        ReminderMark.due_at == Assessment.due_at,
    )
    bound = bindparam(f"bound_{threshold}", type_=Assessment.__table__.c.due_at.type)
    return and_(Assessment.due_at <= bound, ~fired)


def _let_go(uow: UnitOfWork, chunk: list[Due], marks: dict[str, dict[str, ReminderMark]]) -> None:
    """Write the chunk's changes and drop its rows from the session: memory stays one batch."""
    uow.session.flush()
    for due in chunk:
        uow.session.expunge(due.assessment)
        for mark in marks[due.assessment.id].values():
            uow.session.expunge(mark)


def _marks(uow: UnitOfWork, ids: list[str]) -> dict[str, dict[str, ReminderMark]]:
    found: dict[str, dict[str, ReminderMark]] = defaultdict(dict)
    for mark in uow.session.scalars(
        select(ReminderMark).where(ReminderMark.assessment_id.in_(ids))
    ):
        found[mark.assessment_id][mark.threshold] = mark
    return found


def _consider(
    uow: UnitOfWork,
    policy: Policy,
    now: datetime,
    due: Due,
    marks: dict[str, ReminderMark],
    items: dict[str, list[dict[str, Any]]],
    counts: Counter[str],
) -> None:
    due_at = due.assessment.due_at
    assert due_at is not None
    passed = [
        name
        for name, at in reminder_times(policy, due_at, due.zone)
        if at <= now and not _fired(marks.get(name), due_at)
    ]
    reminders = [name for name in passed if name in REMINDERS]
    for name in reminders[:-1]:
        _mark(uow, marks, due.assessment, name, now, SKIPPED)
        counts["skipped"] += 1
    if reminders:
        latest = reminders[-1]
        _mark(uow, marks, due.assessment, latest, now, SENT)
        for recipient in recipients.caseworker_or_supervisors(uow, due.case):
            items[recipient].append(_item(due, latest))
        counts[latest] += 1
    if ESCALATION in passed:
        _mark(uow, marks, due.assessment, ESCALATION, now, SENT)
        escalate_overdue(uow, due)
        counts["escalated"] += 1


def _fired(mark: ReminderMark | None, due_at: datetime) -> bool:
    return mark is not None and mark.due_at == due_at


def _mark(
    uow: UnitOfWork,
    marks: dict[str, ReminderMark],
    assessment: Assessment,
    threshold: str,
    now: datetime,
    outcome: str,
) -> None:
    """Record that ``threshold`` fired for the current due date (re-arming a moved one)."""
    mark = marks.get(threshold)
    if mark is None:
        mark = ReminderMark(assessment_id=assessment.id, threshold=threshold)
        uow.session.add(mark)
        marks[threshold] = mark
    assert assessment.due_at is not None
    mark.due_at = assessment.due_at
    mark.fired_at = now
    mark.outcome = outcome


def _item(due: Due, threshold: str) -> dict[str, Any]:
    follow_up = due.assessment.point == AssessmentPoint.FOLLOW_UP
    kind = (FOLLOW_UP_KINDS if follow_up else KINDS).get(threshold, K.ASSESSMENT_OVERDUE)
    return {
        "case_ref": refs.short_form(due.case.reference),
        "kind": kind.value,
        "due_date": _local_date(due),
        "path": f"/cases/{due.case.reference}",
    }


def _local_date(due: Due) -> str:
    assert due.assessment.due_at is not None
    return due.assessment.due_at.astimezone(due.zone).date().isoformat()


def escalate_overdue(uow: UnitOfWork, due: Due) -> None:
    """Overdue past the policy's threshold: mark the case and alert its supervisors."""
    case = due.case
    case.escalated = True
    alerts.open_alert(
        uow,
        case,
        AlertKind.OVERDUE_ESCALATION,
        due.assessment.id,
        NotificationKind.OVERDUE_ESCALATION,
        {"due_date": _local_date(due)},
    )
    events.record(
        uow,
        case.id,
        events.CASE_ESCALATED,
        due.assessment.id,
        reason="overdue",
        point=due.assessment.point,
    )
