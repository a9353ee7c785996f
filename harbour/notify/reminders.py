"""The reminder sweep: each threshold of each open assessment fires once per due date.

Thresholds and their times come from the reassessment policy (``reminder_times``). When a sweep
finds several reminder thresholds passed at once (an assessment opened late), only the latest is
sent and the earlier ones are marked skipped. Reminders of one sweep go out as one digest per
recipient (``harbour.notify.digests``), written batch by batch with the marks. Overdue past
``escalate_overdue_after``: the case is marked escalated and an alert goes to the supervisors
(and up the ladder until acknowledged); a sweep's escalations reach each person as one
escalation digest, assembled as the reminders' is.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any, NamedTuple, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, delete, exists, or_, select, text, tuple_, update

from harbour import events
from harbour.access import agency_zones
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
# The first batch of a sweep that paces its batches (``hold``), and the smallest it makes (a
# loaded machine: smaller batches, not longer transactions). The first is the smallest: it also
# starts every recipient's digest and compiles the batch's statements, and at 200 it was the
# longest a sweep held SQLite's write lock.
FIRST_PACED_BATCH, SMALLEST_PACED_BATCH = 50, 50


class Due(NamedTuple):
    """An open assessment with a threshold near or past the sweep's moment: what its reminder
    and escalation need, read as plain columns (no rows kept in the session). A tuple: a sweep
    makes one per due assessment. Its case's caseworker as the page was read: a batch on SQLite
    reads it again (``_current_caseworkers``)."""

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
    escalations: dict[str, list[str]]  # escalation digest rows it started, by recipient


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
    hold: float | None = None,
) -> dict[str, int]:
    """Fire the reminder thresholds passed by ``now``; counts by threshold and digests.

    What fires is worked out in ``read`` (a read-only transaction, when given: on SQLite it
    holds no lock) from one indexed query, ``READ_PAGE`` candidates at a time; then the
    assessments with something to fire, ``batch`` at a time, are written in one ``run`` each
    (marks, digest items, escalations together), and a short last one sends the digests;
    ``between`` runs between two batches. A sweep that finds nothing new writes nothing. With
    ``run=app.run`` each batch commits: on SQLite a transaction holds the database's one write
    lock, and a catch-up sweep over many cases in one transaction kept every other command
    (``harbour assess`` too) waiting. ``hold``: about how long (seconds) a batch's transaction
    may last; each batch is then sized from the pace of the last one (up to ``batch``, and down
    to ``SMALLEST_PACED_BATCH``).
    """
    thresholds, digests = Thresholds.of(policy), Digests()
    escalations = Digests(kind=K.ESCALATION_DIGEST)
    counts: Counter[str] = Counter()
    size, written = (batch if hold is None else min(batch, FIRST_PACED_BATCH)), 0
    try:
        for page in _pages(read or run, thresholds, now):
            first = 0
            while first < len(page.firings):
                if written and between is not None:
                    between()
                chunk = page.firings[first : first + size]
                prepared = Prepared.of(chunk, page.dialect)  # before the transaction: no lock
                started = time.monotonic()
                done = run(
                    partial(
                        _batch,
                        firings=chunk,
                        digests=digests,
                        escalations=escalations,
                        prepared=prepared,
                        now=now,
                    )
                )
                digests.started(done.started)
                escalations.started(done.escalations)
                counts += done.counts
                first, written = first + len(chunk), written + 1
                if hold is not None:
                    pace = len(chunk) / max(time.monotonic() - started, 0.001)
                    size = min(batch, max(SMALLEST_PACED_BATCH, int(pace * hold)))
    except Exception:
        # A batch failed and the process lives on: what was committed goes out now (held, it
        # would wait past the next pass), and protective orders are reminded of as on any pass.
        _end_pass(run, now, digests, escalations)
        raise
    counts += _end_pass(run, now, digests, escalations)
    return _totals(counts, digests)


def _end_pass(run: Runner, now: datetime, digests: Digests, escalations: Digests) -> Counter[str]:
    """The protective orders' batch, then the pass's digests released to the relay."""
    try:
        return _order_reminders(run, now, digests)
    finally:
        if digests.rows or escalations.rows:
            run(partial(_release, passes=(digests, escalations)))


def _release(uow: UnitOfWork, passes: tuple[Digests, ...]) -> None:
    for digests in passes:
        digests.release(uow)


def _order_reminders(run: Runner, now: datetime, digests: Digests) -> Counter[str]:
    """Protective orders running out, as one more batch of the pass, in the same digests."""
    from harbour.notify import order_reminders

    found, started = run(lambda uow: order_reminders.remind(uow, now, digests))
    digests.started(started)
    return found


def _totals(counts: Counter[str], digests: Digests) -> dict[str, int]:
    return {**counts, "digests": digests.written}


# Candidates one read takes, at most: a catch-up sweep over a million cases (300,001 due) held
# them all, 742 MB at its peak.
READ_PAGE = 20_000
Key = tuple[datetime, str]  # an assessment's place in due order: (due_at, id)


@dataclass(frozen=True)
class Page:
    """The firings of up to ``READ_PAGE`` candidates, in due order, and the key the next page
    starts after (None: none left)."""

    firings: list[Firing]
    next_after: Key | None
    dialect: Any


def _pages(read: Runner, thresholds: Thresholds, now: datetime) -> Iterator[Page]:
    """What fires, a page at a time, each read in a transaction of its own when the caller is
    done with the last: at most a page's candidates are held at once."""
    after: Key | None = None
    while True:
        page = read(partial(_read_page, thresholds=thresholds, now=now, after=after))
        yield page
        if page.next_after is None:
            return
        after = page.next_after


def _read_page(uow: UnitOfWork, thresholds: Thresholds, now: datetime, after: Key | None) -> Page:
    firings, next_after = to_fire(uow, thresholds, now, after=after, limit=READ_PAGE)
    return Page(firings, next_after, uow.session.get_bind().dialect)


@dataclass(frozen=True)
class Prepared:
    """What a batch writes, worked out before its transaction (so a batch on SQLite holds the
    write lock for its statements, not for this): its marks as the one JSON parameter
    ``_record_marks`` sends, on SQLite its cases' ids as the one ``_current_caseworkers`` sends
    (None: the page's caseworkers stand), and the digest item of each reminder it sends."""

    marks: str
    cases: str | None
    items: dict[tuple[str, str], dict[str, Any]]  # by (assessment, threshold)

    @classmethod
    def of(cls, firings: list[Firing], dialect: Any) -> Prepared:
        items = {
            (due.assessment_id, name): _item(due, name)
            for due, marks in firings
            for name, outcome in marks
            if outcome == SENT and name != ESCALATION
        }
        cases = (
            json.dumps(sorted({due.case_id for due, _ in firings}), separators=(",", ":"))
            if dialect.name == "sqlite"
            else None
        )
        return cls(_marks_json(dialect, firings), cases, items)


Mark = tuple[str, str]  # a threshold that fires, and how: (threshold, SENT or SKIPPED)


class Firing(NamedTuple):
    """An open assessment and the marks its passed, unfired thresholds make (one ``SENT``
    reminder, the earlier ones ``SKIPPED``, and the escalation). A tuple, as ``Due``."""

    due: Due
    marks: tuple[Mark, ...]


def to_fire(
    uow: UnitOfWork,
    thresholds: Thresholds,
    now: datetime,
    *,
    after: Key | None = None,
    limit: int | None = None,
) -> tuple[list[Firing], Key | None]:
    """What a sweep at ``now`` fires, most overdue first: decided by the database where it can
    be exact, in Python where it cannot (``Cutoffs``). At most ``limit`` candidates, those after
    ``after``; also the key of the last one read when there may be more (None: none left).

    A first query on the assessments alone asks whether anything is to fire at all (a sweep
    that finds nothing new, the usual case, stops there: no case is read). Then one indexed
    query reads the candidates with what ``Due`` needs and, for each threshold, whether it has
    passed and not yet fired for the current due date; rows only Python can decide (a zone
    changing its offset near now) are decided by ``Thresholds.passed``."""
    cutoffs = Cutoffs.of(uow, thresholds, now)
    params: dict[str, Any] = cutoffs.params()
    if after is None and not anything_to_fire(uow, cutoffs):
        return [], None
    if uow.session.get_bind().dialect.name == "postgresql":
        # Planned over a store with marks, this query's estimate crosses jit_above_cost, and
        # compiling it took longer than running it (45 ms against 25 ms at 100,000 cases; 200 ms
        # on a server's first). Off for this transaction only: set on the connection, it was
        # dropped by the poolers that refuse startup options, and overrode a deployer's PGOPTIONS.
        uow.session.execute(text("SET LOCAL jit = off"))
    query = _candidates(thresholds.names, paged=after is not None)
    if after is not None:
        params |= {"after_due": after[0], "after_id": after[1]}
    found, read, last = [], 0, None
    zones: dict[str, ZoneInfo] = {}
    for row in uow.session.execute(query.limit(limit), params):
        assessment_id, due_at, point, case_id, ref, worker, agency_id, zone, *fires = row
        read, last = read + 1, (due_at, assessment_id)
        tz = zones.get(zone) or zones.setdefault(zone, ZoneInfo(zone))
        due = Due(assessment_id, due_at, point, case_id, ref, worker, agency_id, tz)
        marks = cutoffs.marks(due, fires, now)
        if marks:
            found.append(Firing(due, marks))
    return found, last if limit is not None and read == limit else None


@dataclass(frozen=True)
class Cutoffs:
    """The latest due time at which each threshold has passed by ``now``, as the database
    compares it (``due_at <= cutoff``).

    A threshold is whole local calendar days plus elapsed time from the due time
    (``reminder_times``): the same as plain elapsed time unless the zone changes its UTC offset
    between the due time and the threshold. When no agency's zone does so anywhere near
    ``now`` (nearly always), the cutoffs are exact and the database decides every row. Near a
    change they are loosened by ``SLACK`` and Python decides the candidates exactly."""

    thresholds: Thresholds
    bounds: tuple[datetime, ...]  # one per threshold, in ``thresholds.names`` order
    exact: bool

    @classmethod
    def of(cls, uow: UnitOfWork, thresholds: Thresholds, now: datetime) -> Cutoffs:
        offsets = [offset for *_, offset in thresholds.specs]
        zones = agency_zones(uow)
        exact = thresholds.in_fixed_order and all(
            _steady(ZoneInfo(zone), now, offsets) for zone in zones
        )
        slack = timedelta(0) if exact else SLACK
        return cls(thresholds, tuple(now - offset + slack for offset in offsets), exact)

    @property
    def horizon(self) -> datetime:
        """The latest due time a threshold passed by the cutoffs' moment can have: an
        assessment due later has nothing to fire yet."""
        return max(self.bounds)

    def params(self) -> dict[str, datetime]:
        names = self.thresholds.names
        return {
            **{f"bound_{name}": bound for name, bound in zip(names, self.bounds, strict=True)},
            "horizon": self.horizon,
        }

    def marks(self, due: Due, fires: list[Any], now: datetime) -> tuple[Mark, ...]:
        """The marks of one candidate: ``fires`` says, per threshold, passed (by the cutoffs)
        and not fired for its due date."""
        names = self.thresholds.names
        if self.exact:
            return _exact_marks(names, tuple(fires))
        unfired = {name for name, fire in zip(names, fires, strict=True) if fire}
        passed = self.thresholds.passed(due.due_at, due.zone, now)
        return _outcomes(tuple(name for name in passed if name in unfired))


def _steady(zone: ZoneInfo, now: datetime, offsets: list[timedelta]) -> bool:
    """Whether ``zone`` keeps one UTC offset over every span a threshold near ``now`` can
    cross (a due time and its threshold, each within ``SLACK`` of where it would be in
    elapsed time), looked at every ``STEADY_STEP`` (a zone's offsets last months)."""
    start = now - max(max(offsets), timedelta(0)) - 2 * SLACK
    end = now - min(min(offsets), timedelta(0)) + 2 * SLACK
    first = zone.utcoffset(start)
    moment = start
    while moment < end:
        moment = min(moment + STEADY_STEP, end)
        if zone.utcoffset(moment) != first:
            return False
    return True


STEADY_STEP = timedelta(hours=6)


@lru_cache(maxsize=64)
def _exact_marks(names: tuple[str, ...], fires: tuple[Any, ...]) -> tuple[Mark, ...]:
    """The marks of a candidate whose thresholds ``names`` fire as ``fires`` says (a few
    patterns, whatever the number of candidates)."""
    return _outcomes(tuple(name for name, fire in zip(names, fires, strict=True) if fire))


@lru_cache(maxsize=64)
def _outcomes(unfired: tuple[str, ...]) -> tuple[Mark, ...]:
    """The marks for the passed, unfired thresholds ``unfired`` (in time order): the latest
    reminder ``SENT``, earlier ones ``SKIPPED``, and the escalation."""
    reminders = [name for name in unfired if name in REMINDERS]
    found = [(name, SKIPPED) for name in reminders[:-1]]
    found += [(name, SENT) for name in reminders[-1:]]
    if ESCALATION in unfired:
        found.append((ESCALATION, SENT))
    return tuple(found)


def horizon(uow: UnitOfWork, policy: Policy, now: datetime) -> datetime:
    """``Cutoffs.horizon`` at ``now``: exact unless a zone changes its offset nearby."""
    return Cutoffs.of(uow, Thresholds.of(policy), now).horizon


def _batch(
    uow: UnitOfWork,
    firings: list[Firing],
    digests: Digests,
    escalations: Digests,
    prepared: Prepared,
    now: datetime,
) -> Batch:
    """Marks, escalations (their items in ``escalations``) and digest items for ``firings``,
    fired at ``now``, each checked again in this transaction (one completed, re-timed or
    reminded since is left out), each reminder to the caseworker its case has
    (``_current_caseworkers``): a few statements per batch, whatever its size. ``prepared``:
    ``Prepared.of(firings, ...)``, made beforehand."""
    written = _record_marks(uow, firings, prepared.marks, now) if firings else set()
    made = prepared.items
    fired_now = [
        firing
        for firing in firings
        if any((firing.due.assessment_id, name) in written for name, _ in firing.marks)
    ]
    worker = _current_caseworkers(uow, fired_now, prepared.cases)
    chunk = [(due, marks) for due, marks in fired_now if due.case_id in worker]
    who = recipients.caseworkers_or_supervisors(
        uow, [(worker[due.case_id], due.agency_id) for due, _ in chunk]
    )
    counts: Counter[str] = Counter(assessments=len(chunk))
    items: dict[str, list[dict[str, Any]]] = defaultdict(list)
    overdue: list[Due] = []
    for due, fired in chunk:
        for name, outcome in fired:
            if (due.assessment_id, name) not in written:
                continue  # another sweep fired it meanwhile
            if outcome == SKIPPED:
                counts["skipped"] += 1
            elif name == ESCALATION:
                overdue.append(due)
            else:
                item = made.get((due.assessment_id, name)) or _item(due, name)
                for recipient in who[worker[due.case_id], due.agency_id]:
                    items[recipient].append(item)
                counts[name] += 1
    bundle: alerts.Bundle = {}
    counts["escalated"] += _escalate_all(uow, overdue, now, bundle)
    return Batch(counts, digests.add(items, uow), escalations.add(bundle, uow))


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


_DUE_AT = Assessment.__table__.c.due_at.type


def fired(threshold: str) -> Any:
    """An SQL EXISTS: an assessment's ``threshold`` has fired for the due date it has now."""
    return exists().where(
        ReminderMark.assessment_id == Assessment.id,
        ReminderMark.threshold == threshold,
        ReminderMark.due_at == Assessment.due_at,
    )


def _fires(threshold: str) -> Any:
    """Passed by its cutoff (a parameter: ``Cutoffs``) and not fired for the current due date."""
    passed = Assessment.due_at <= bindparam(f"bound_{threshold}", type_=_DUE_AT)
    return and_(passed, ~fired(threshold))


def _open_within() -> Any:
    return and_(
        Assessment.status == AssessmentStatus.OPEN,
        Assessment.due_at <= bindparam("horizon", type_=_DUE_AT),
    )


def anything_to_fire(uow: UnitOfWork, cutoffs: Cutoffs) -> bool:
    """Whether an open assessment has a threshold to fire by ``cutoffs`` (one indexed query)."""
    query = _anything_to_fire(cutoffs.thresholds.names)
    return uow.session.execute(query, cutoffs.params()).first() is not None


@lru_cache(maxsize=8)
def _anything_to_fire(thresholds: tuple[str, ...]) -> Any:
    """One open assessment with a threshold to fire, if there is any: the assessments alone,
    through their (status, due_at) index and the marks' (assessment, threshold) one; no case
    is joined, so a sweep that finds nothing new reads only the due index range."""
    fires = or_(*(_fires(name) for name in thresholds))
    return select(Assessment.id).where(_open_within(), fires).limit(1)


@lru_cache(maxsize=8)
def _candidates(thresholds: tuple[str, ...], paged: bool = False) -> Any:
    """The open assessments with a threshold to fire (the cutoffs are parameters), with what
    ``Due`` needs and, per threshold, whether it fires: one indexed query, whose cost follows
    what is due (the rest of the caseload is never read), most overdue first; ``paged``: those
    after ``(after_due, after_id)``. Built once: a sweep runs every few minutes."""
    fires = [_fires(name) for name in thresholds]
    columns = (
        Assessment.id,
        Assessment.due_at,
        Assessment.point,
        Case.id,
        Case.reference,
        Case.caseworker_id,
        Case.agency_id,
        Agency.timezone,
        *(fire.label(f"fires_{n}") for n, fire in enumerate(fires)),
    )
    query = _remindable(*columns).where(_open_within(), or_(*fires))
    if paged:
        # The row comparison decides; the plain bound lets the (status, due_at) index start there.
        after_due = bindparam("after_due", type_=_DUE_AT)
        after = tuple_(after_due, bindparam("after_id"))
        query = query.where(
            Assessment.due_at >= after_due, tuple_(Assessment.due_at, Assessment.id) > after
        )
    return query.order_by(Assessment.due_at, Assessment.id)


def _fired(mark: ReminderMark | None, due_at: datetime) -> bool:
    return mark is not None and mark.due_at == due_at


def _record_marks(
    uow: UnitOfWork, firings: list[Firing], marks: str, fired_at: datetime
) -> set[tuple[str, str]]:
    """Record that each threshold of ``firings`` fired for the current due date (``marks``:
    theirs, as ``_marks_json`` makes them before the transaction), for the assessments still
    open and due when they were read (one completed or re-timed since is left out). Returns
    those written: a mark another sweep has just written for the same due date is left alone
    and left out, so a threshold fires once even if two sweeps overlap.

    Keyed by the marks' uniqueness, in one statement that inserts what is new and leaves every
    existing mark alone, unheld (PostgreSQL's upsert held each one it met until the batch
    committed, even changing nothing, and a reassignment meanwhile, passing over held marks,
    kept its case's from being forgotten: the new caseworker was never reminded). Then, only
    if some were left out, a second re-arms those whose mark is of an earlier due date (the
    assessment was moved since it fired).

    The marks travel as one JSON parameter, read back as rows by the database (``json_each``,
    ``jsonb_to_recordset``): a statement of a few hundred characters whatever the batch's
    size, where thousands of bound parameters cost more to render and parse than the
    inserts."""
    dialect = uow.session.get_bind().dialect
    statements = _MARKS[dialect.name == "postgresql"]
    params = {"fired_at": fired_at, "open": AssessmentStatus.OPEN.value}
    written = _marks_written(uow, statements.insert, marks, params)
    left = [
        Firing(due, kept)
        for due, fired in firings
        if (kept := tuple(m for m in fired if (due.assessment_id, m[0]) not in written))
    ]
    if left:
        written |= _marks_written(uow, statements.rearm, _marks_json(dialect, left), params)
    return written


def _marks_written(
    uow: UnitOfWork, statement: Any, marks: str, params: dict[str, Any]
) -> set[tuple[str, str]]:
    found = uow.session.connection().execute(statement, {"marks": marks, **params})
    # Plain tuples, not Rows: the caller tests thousands of keys against them, and comparing a
    # tuple with a Row is slow. Fetched at once: iterating fetched them one call each.
    return {(assessment_id, threshold) for assessment_id, threshold in found.all()}


def forget_marks(uow: UnitOfWork, *where: Any) -> None:
    """Delete the marks ``where`` names, so that their thresholds fire again, but those a sweep
    is re-arming (PostgreSQL, SKIP LOCKED; a sweep holds no other): waiting for one, while
    holding a case the sweep takes next, was a deadlock; the sweep, which sees the change once
    it has the case, fires nothing it should not."""
    key = (ReminderMark.assessment_id, ReminderMark.threshold)
    free = select(*key).where(*where).with_for_update(skip_locked=True)
    uow.session.execute(delete(ReminderMark).where(tuple_(*key).in_(free)))


def _marks_json(dialect: Any, firings: list[Firing]) -> str:
    """The marks of ``firings`` as the JSON rows ``_MARKS``' statements read."""
    value = _due_at_value(dialect)
    rows = [
        {"assessment_id": due.assessment_id, "threshold": name, "due_at": at, "outcome": outcome}
        for due, marks in firings
        for at in (value(due.due_at),)
        for name, outcome in marks
    ]
    return json.dumps(rows, separators=(",", ":"))


def _due_at_value(dialect: Any) -> Callable[[datetime], str]:
    """A due time as the database stores it, for the JSON the marks travel in: SQLite's text
    (compared as text with the assessment's), PostgreSQL's ISO form with its zone."""
    if dialect.name == "postgresql":
        return lambda moment: moment.isoformat()
    process = _DUE_AT.dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    return lambda moment: str(process(moment))


class _MarkStatements(NamedTuple):
    insert: Any  # the new marks, existing ones left alone
    rearm: Any  # marks of an earlier due date, fired again for the current one


# By the marks' rows, each joined to its assessment by primary key: nothing else is read.
# (SQLite: ``CROSS JOIN`` keeps the marks the outer loop, which its planner otherwise made the
# open assessments, probing the JSON for each; ``WHERE true`` keeps its parser from taking
# ON CONFLICT for the join's ON.)
_SQLITE_MARKS = """json_each(:marks) AS m
        CROSS JOIN assessments AS a ON a.id = json_extract(m.value, '$.assessment_id')
            AND a.due_at = json_extract(m.value, '$.due_at') AND a.status = :open"""
_POSTGRESQL_MARKS = """jsonb_to_recordset(CAST(:marks AS jsonb))
            AS m(assessment_id text, threshold text, due_at timestamptz, outcome text)
        JOIN assessments AS a ON a.id = m.assessment_id AND a.due_at = m.due_at
            AND a.status = :open"""
_SQLITE_THRESHOLD = "json_extract(m.value, '$.threshold')"
_SQLITE_OUTCOME = "json_extract(m.value, '$.outcome')"


def _mark_statements(marks: str, threshold: str, outcome: str) -> _MarkStatements:
    """The two statements of ``_record_marks`` over the marks' rows ``marks`` (``m``, joined to
    their assessments ``a``), whose threshold and outcome are ``threshold`` and ``outcome``."""
    insert = f"""INSERT INTO reminder_marks (assessment_id, threshold, due_at, fired_at, outcome)
        SELECT a.id, {threshold}, a.due_at, :fired_at, {outcome} FROM {marks}
        WHERE true ON CONFLICT (assessment_id, threshold) DO NOTHING
        RETURNING assessment_id, threshold"""
    rearm = f"""UPDATE reminder_marks
        SET due_at = a.due_at, fired_at = :fired_at, outcome = {outcome} FROM {marks}
        WHERE reminder_marks.assessment_id = a.id AND reminder_marks.threshold = {threshold}
            AND reminder_marks.due_at <> a.due_at
        RETURNING reminder_marks.assessment_id, reminder_marks.threshold"""
    fired_at = bindparam("fired_at", type_=_DUE_AT)
    return _MarkStatements(text(insert).bindparams(fired_at), text(rearm).bindparams(fired_at))


_MARKS = {  # by whether the database is PostgreSQL
    False: _mark_statements(_SQLITE_MARKS, _SQLITE_THRESHOLD, _SQLITE_OUTCOME),
    True: _mark_statements(_POSTGRESQL_MARKS, "m.threshold", "m.outcome"),
}


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


def _escalate_all(
    uow: UnitOfWork, overdue: list[Due], fired_at: datetime, bundle: alerts.Bundle
) -> int:
    """Overdue past the policy's threshold: mark each case escalated and alert its supervisors
    (``alerts.open_alerts``), an alert for each firing (``alerts.overdue_source``: ``fired_at``
    is the firing's moment, its mark's), their pages' items added to ``bundle`` (for each
    person's escalation digest); a few statements whatever their number. How many were
    escalated (those done or moved meanwhile are not)."""
    overdue = _still_overdue(uow, overdue)
    if not overdue:
        return 0
    sources = {
        due: alerts.overdue_source(due.assessment_id, due.due_at, fired_at) for due in overdue
    }
    ids = [due.case_id for due in overdue]
    # One UPDATE for them all (the version moved, as the ORM's would): marking loaded rows made
    # the flush write each case by a statement of its own, 7,500 of them after an outage.
    uow.session.execute(
        update(Case)
        .where(Case.id.in_(ids), Case.escalated.is_not(True))
        .values(escalated=True, version=Case.version + 1),
        execution_options={"synchronize_session": False},
    )
    loaded = select(Case).where(Case.id.in_(ids)).execution_options(populate_existing=True)
    cases = {case.id: case for case in uow.session.scalars(loaded)}
    alerts.open_alerts(
        uow,
        AlertKind.OVERDUE_ESCALATION,
        NotificationKind.OVERDUE_ESCALATION,
        [
            (cases[due.case_id], source, {"due_date": _local_date(due)})
            for due, source in sources.items()
        ],
        bundle,
    )
    recorded = events.recorded(uow, events.CASE_ESCALATED, list(sources.values()))
    with uow.inserting():
        for due, source in sources.items():
            if (due.case_id, source) not in recorded:
                events.record_new(
                    uow,
                    due.case_id,
                    events.CASE_ESCALATED,
                    source,
                    reason="overdue",
                    point=due.point,
                )
    return len(overdue)


def _current_caseworkers(
    uow: UnitOfWork, fired: list[Firing], cases: str | None
) -> dict[str, str | None]:
    """The caseworker of each case of ``fired`` as the batch writes, by case (one deleted since
    it was read is left out).

    On SQLite a page's batches are paced over seconds (``hold``), each holding the one write
    lock: each reads its cases' caseworkers again (``cases``: their ids as one JSON parameter,
    as the marks travel), so a case given to another caseworker
    (``hooks.reminders_handed_over``) since the page was read is reminded to the new one. On
    PostgreSQL a page's one batch is written straight after it is read, and the page's
    caseworkers stand (``cases`` is None): reading them again would narrow the window in which
    a reassignment committing meanwhile leaves a threshold's reminder with the previous
    caseworker by the batch's preparation alone, for 35 ms of the sweep's 0.5 s (10,000 due).
    Holding the cases to close it kept every write on them waiting for the batch, an imminent
    ``harbour assess`` 1.2 s where it had waited 9 ms."""
    if cases is None:
        return {due.case_id: due.caseworker_id for due, _ in fired}
    if not fired:
        return {}
    return dict(uow.session.connection().execute(_CURRENT_CASEWORKERS, {"cases": cases}).all())


# ``CROSS JOIN`` keeps the ids the outer loop, each a lookup by primary key (as ``_MARKS``).
_CURRENT_CASEWORKERS = text(
    """SELECT c.id, c.caseworker_id FROM json_each(:cases) AS m
    CROSS JOIN cases AS c ON c.id = m.value"""
)


def _still_overdue(uow: UnitOfWork, overdue: list[Due]) -> list[Due]:
    """Those of ``overdue`` still open and due when they were read, their cases held until the
    transaction ends: an assessment done (or moved) while its mark was being written, which the
    mark's statement could not see yet (PostgreSQL), is not escalated after it was done.
    Cases are taken in id order, as another sweep would take them."""
    if not overdue:
        return []
    case_ids = sorted({due.case_id for due in overdue})
    uow.session.execute(
        select(Case.id)
        .where(Case.id.in_(case_ids))
        .order_by(Case.id)
        .with_for_update(key_share=True)  # as a write on a case holds it (``load_case``)
    )
    # By primary key alone: with the status in the statement, SQLite read every open assessment
    # through the (status, due_at) index for each batch, and a catch-up sweep took twice as long.
    current = uow.session.execute(
        select(Assessment.id, Assessment.status, Assessment.due_at).where(
            Assessment.id.in_([due.assessment_id for due in overdue])
        )
    )
    due_now = {id_: due_at for id_, status, due_at in current if status == AssessmentStatus.OPEN}
    return [due for due in overdue if due_now.get(due.assessment_id) == due.due_at]
