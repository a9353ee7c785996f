"""The program report: the agency's figures for supervisors, admins and funders (``harbour
report``, the console's dashboard). Aggregates only, in two queries over the whole agency (a
grouped one and a scalar one), never a row per case: open cases by status and risk level, the
share of active cases whose latest assessment has a final plan, overdue assessments and for how
long, the median time from referral to first assessment, imminent alerts and the median time to
acknowledge them, reminders and escalations sent, open missing-youth episodes. The medians come
from small histograms the database groups (whole hours, whole seconds), never from case rows.

How the figures are read. Every figure about cases comes from the cases table alone, and from
the agency's range of one index, ``ix_cases_agency`` (agency, status, risk level, whether the
latest plan is final, referral, first assessment), which holds every column they need: no case
row is read, nor any assessment or plan. Open cases are its status and risk; referral to first
assessment is ``created_at`` to ``first_assessed_at``; active cases with a final plan of their
latest assessment are those with ``latest_plan_final``. Those two columns are what the case's
assessments and plans come to, written in the transaction of the assessment or the finalisation
that changes them (``harbour.cases.milestones``): working them out here from every assessment
(the first per case, the latest per case and then its plan) took over a second at 100,000 cases
on either database (``benchmarks/dashboard.py``). The rest are small ranges of their own
indexes: open assessments due before now (``ix_assessments_open_due``), each checked against
its case's agency (SQLite seeks each case by key; PostgreSQL, which takes more of them to be
due than are, hash-joins the agency's cases instead, the largest part left there); the agency's
alerts, sent messages and open missing episodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from harbour.access import agency_zone, audit, authorize, resolve_actor
from harbour.app import App, UnitOfWork
from harbour.clock import local_time
from harbour.db.models import (
    Agency,
    Alert,
    Assessment,
    Case,
    MissingEpisode,
    OutboxMessage,
)
from harbour.domain.figures import median_of_counts, percent
from harbour.domain.vocab import (
    AlertKind,
    AssessmentStatus,
    CaseStatus,
    NotificationKind,
    OutboxStatus,
    RiskLevel,
)

WINDOW_DAYS = 30  # "in the last 30 days": alerts raised, reminders and escalations sent
# Open: every case not closed (a discharged case still has its follow-ups), as the caseload.
OPEN_STATUSES = tuple(s.value for s in CaseStatus if s != CaseStatus.CLOSED)
# Active: in casework after a completed assessment (reopened waits for its first one again).
ACTIVE_STATUSES = (CaseStatus.ACTIVE.value, CaseStatus.DISCHARGE_PENDING.value)
NOT_ASSESSED = "none"  # the risk level of a case with no completed assessment yet
RISKS = (*(level.value for level in RiskLevel), NOT_ASSESSED)
# How long overdue assessments have been overdue, in whole days: (key, up to but not including).
OVERDUE_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("under_1_day", 1),
    ("1_to_7_days", 8),
    ("8_to_30_days", 31),
    ("over_30_days", None),
)
K = NotificationKind
REMINDER_KINDS = (
    *(K.ASSESSMENT_DUE_SOON, K.ASSESSMENT_DUE_TODAY, K.ASSESSMENT_OVERDUE),
    *(K.FOLLOW_UP_DUE, K.REMINDER_DIGEST),
)
ESCALATION_KINDS = (K.OVERDUE_ESCALATION, K.ALERT_ESCALATED, K.ESCALATION_DIGEST)


@dataclass(frozen=True)
class ProgramReport:
    """The agency's figures at ``as_of``: counts and medians, nothing that identifies anyone."""

    agency: str
    as_of: datetime
    zone: ZoneInfo  # the agency's: its "as of" as its staff read it
    open_by_status_and_risk: dict[str, dict[str, int]]  # every open status, every risk level
    active_cases: int
    active_with_final_plan: int
    overdue_by_days: dict[str, int]  # OVERDUE_BUCKETS' keys
    longest_overdue_days: int | None
    first_assessed_cases: int
    median_days_to_first_assessment: float | None
    imminent_open: int
    imminent_raised: int  # in the window
    imminent_acknowledged: int  # of those raised in the window
    median_minutes_to_acknowledge: float | None
    reminders_sent: int  # in the window
    escalations_sent: int
    missing_open: int
    missing_oldest_hours: int | None

    @property
    def open_by_status(self) -> dict[str, int]:
        return {s: sum(risks.values()) for s, risks in self.open_by_status_and_risk.items()}

    @property
    def open_by_risk(self) -> dict[str, int]:
        by_status = self.open_by_status_and_risk.values()
        return {risk: sum(risks[risk] for risks in by_status) for risk in RISKS}

    @property
    def open_cases(self) -> int:
        return sum(self.open_by_status.values())

    @property
    def overdue(self) -> int:
        return sum(self.overdue_by_days.values())

    def as_json(self) -> dict[str, Any]:
        """The report's stable shape (README, "harbour report")."""
        return {
            "agency": self.agency,
            "as_of": self.as_of.isoformat(),
            "as_of_local": local_time(self.as_of, self.zone),
            "window_days": WINDOW_DAYS,
            "open_cases": {
                "total": self.open_cases,
                "by_status": self.open_by_status,
                "by_risk": self.open_by_risk,
                "by_status_and_risk": self.open_by_status_and_risk,
            },
            "final_plans": {
                "active_cases": self.active_cases,
                "with_final_plan_of_latest_assessment": self.active_with_final_plan,
                "percent": percent(self.active_with_final_plan, self.active_cases),
            },
            "overdue_assessments": {
                "total": self.overdue,
                "by_days_overdue": self.overdue_by_days,
                "longest_days": self.longest_overdue_days,
            },
            "referral_to_first_assessment": {
                "cases": self.first_assessed_cases,
                "median_days": self.median_days_to_first_assessment,
            },
            "imminent_alerts": {
                "open": self.imminent_open,
                "raised": self.imminent_raised,
                "acknowledged": self.imminent_acknowledged,
                "median_minutes_to_acknowledge": self.median_minutes_to_acknowledge,
            },
            "notifications_sent": {
                "reminders": self.reminders_sent,
                "escalations": self.escalations_sent,
            },
            "missing_episodes": {
                "open": self.missing_open,
                "oldest_hours": self.missing_oldest_hours,
            },
        }


def program_report(app: App, actor_handle: str | None) -> ProgramReport:
    """The actor's agency's figures now (supervisors and admins), audited as a read."""

    def work(uow: UnitOfWork) -> ProgramReport:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "program.report")
        agency = uow.session.get(Agency, actor.agency_id)
        grouped, scalars = statements(actor.agency_id, uow.now())
        zone = agency_zone(uow, actor.agency_id)
        report = _report(agency.name if agency else "-", uow.now(), zone, grouped, scalars, uow)
        audit(uow, actor, "program.report")
        return report

    return app.run(work)


def statements(agency_id: str, now: datetime) -> tuple[Select[Any], Select[Any]]:
    """The report's two queries: grouped rows ``(figure, status, risk, number, count)`` and one
    row of scalar figures. ``benchmarks/dashboard.py`` runs them bare."""
    since = now - timedelta(days=WINDOW_DAYS)
    in_agency = Case.agency_id == agency_id
    grouped = union_all(
        _grouped(
            "open",
            select(
                Case.status.label("status"),
                func.coalesce(Case.risk_level, NOT_ASSESSED).label("risk"),
            ).where(in_agency, Case.status.in_(OPEN_STATUSES)),
        ),
        _grouped(
            "overdue",
            select(_overdue_bucket(now).label("number")).where(
                _overdue_assessments(agency_id, now)
            ),
        ),
        _grouped(
            "first_hours",
            select(
                WholeUnitsBetween(Case.created_at, Case.first_assessed_at, 3600).label("number")
            ).where(in_agency, Case.first_assessed_at.is_not(None)),
        ),
        _grouped(
            "ack_seconds",
            select(
                WholeUnitsBetween(Alert.opened_at, Alert.acknowledged_at, 1).label("number")
            ).where(
                _imminent(agency_id), Alert.opened_at >= since, Alert.acknowledged_at.is_not(None)
            ),
        ),
    )
    return select(grouped.subquery()), _scalars(agency_id, now, since)


def _grouped(figure: str, rows: Select[*tuple[Any, ...]]) -> Select[Any]:
    """``rows`` (labelled status and risk, or number) counted by their values, as rows of
    ``(figure, status, risk, number, count)``. Grouped outside the query that computes them,
    so that no bound value is both selected and grouped by (PostgreSQL would tell them apart)."""
    inner = rows.subquery()
    keys = [inner.c[name] for name in ("status", "risk", "number") if name in inner.c]
    columns = [
        inner.c[name] if name in inner.c else cast(null(), kind)
        for name, kind in (("status", String), ("risk", String), ("number", Integer))
    ]
    return select(literal(figure, String), *columns, func.count()).group_by(*keys)


def _scalars(agency_id: str, now: datetime, since: datetime) -> Select[Any]:
    missing = and_(
        MissingEpisode.still_open(),
        _of_agency(MissingEpisode.case_id, agency_id),
    )
    return select(
        _scalar(
            func.count(),
            Case.agency_id == agency_id,
            Case.status.in_(ACTIVE_STATUSES),
            Case.latest_plan_final.is_(True),
        ).label("with_final"),
        _scalar(func.min(Assessment.due_at), _overdue_assessments(agency_id, now)).label("oldest"),
        _scalar(func.count(), _imminent(agency_id), Alert.acknowledged_at.is_(None)).label(
            "imminent_open"
        ),
        _scalar(func.count(), _imminent(agency_id), Alert.opened_at >= since).label("raised"),
        _sent(agency_id, since, REMINDER_KINDS).label("reminders"),
        _sent(agency_id, since, ESCALATION_KINDS).label("escalations"),
        _scalar(func.count(), missing).label("missing"),
        _scalar(func.min(MissingEpisode.last_seen_at), missing).label("missing_oldest"),
    )


def _scalar(what: Any, *where: ColumnElement[bool]) -> Any:
    return select(what).where(*where).scalar_subquery()


def _overdue_assessments(agency_id: str, now: datetime) -> ColumnElement[bool]:
    return and_(
        Assessment.status == AssessmentStatus.OPEN,
        Assessment.due_at < now,
        _of_agency(Assessment.case_id, agency_id),
    )


def _of_agency(case_id: Any, agency_id: str) -> ColumnElement[bool]:
    """The row's case is the agency's: a lookup by key per row, where ``IN (the agency's case
    ids)`` would list the whole caseload first (SQLite does, for each use)."""
    return select(Case.id).where(Case.id == case_id, Case.agency_id == agency_id).exists()


def _overdue_bucket(now: datetime) -> Any:
    """The index of the ``OVERDUE_BUCKETS`` entry an overdue assessment falls in."""
    last = len(OVERDUE_BUCKETS) - 1
    whens = [
        (Assessment.due_at > now - timedelta(days=upto), index)
        for index, (_, upto) in enumerate(OVERDUE_BUCKETS)
        if upto is not None
    ]
    return case(*whens, else_=last)


def _imminent(agency_id: str) -> ColumnElement[bool]:
    return and_(Alert.agency_id == agency_id, Alert.kind == AlertKind.IMMINENT_THREAT)


def _sent(agency_id: str, since: datetime, kinds: tuple[str, ...]) -> Any:
    return _scalar(
        func.count(),
        OutboxMessage.agency_id == agency_id,
        OutboxMessage.status == OutboxStatus.SENT,
        OutboxMessage.sent_at >= since,
        OutboxMessage.kind.in_(kinds),
    )


def _report(
    agency: str,
    now: datetime,
    zone: ZoneInfo,
    grouped: Select[Any],
    scalars: Select[Any],
    uow: UnitOfWork,
) -> ProgramReport:
    table = {status: dict.fromkeys(RISKS, 0) for status in OPEN_STATUSES}
    overdue = dict.fromkeys((key for key, _ in OVERDUE_BUCKETS), 0)
    hours: list[tuple[float, int]] = []
    seconds: list[tuple[float, int]] = []
    for figure, status, risk, number, count in uow.session.execute(grouped):
        if figure == "open":
            table[status][risk] = int(count)
        elif figure == "overdue":
            overdue[OVERDUE_BUCKETS[int(number)][0]] = int(count)
        else:
            (hours if figure == "first_hours" else seconds).append((int(number), int(count)))
    row = uow.session.execute(scalars).one()
    first_hours, ack_seconds = median_of_counts(hours), median_of_counts(seconds)
    return ProgramReport(
        agency=agency,
        as_of=now,
        zone=zone,
        open_by_status_and_risk=table,
        active_cases=sum(sum(table[s].values()) for s in ACTIVE_STATUSES),
        active_with_final_plan=int(row.with_final or 0),
        overdue_by_days=overdue,
        longest_overdue_days=(now - row.oldest).days if row.oldest else None,
        first_assessed_cases=sum(n for _, n in hours),
        median_days_to_first_assessment=None if first_hours is None else round(first_hours / 24, 1),
        imminent_open=int(row.imminent_open or 0),
        imminent_raised=int(row.raised or 0),
        imminent_acknowledged=sum(n for _, n in seconds),
        median_minutes_to_acknowledge=None if ack_seconds is None else round(ack_seconds / 60, 1),
        reminders_sent=int(row.reminders or 0),
        escalations_sent=int(row.escalations or 0),
        missing_open=int(row.missing or 0),
        missing_oldest_hours=(
            int((now - row.missing_oldest).total_seconds() // 3600) if row.missing_oldest else None
        ),
    )


class WholeUnitsBetween(FunctionElement[int]):
    """Whole ``unit``-second spans from one timestamp to a later one, rounded down, on SQLite
    (timestamps as text: ``strftime('%s')``, whole seconds) and PostgreSQL (``EXTRACT(EPOCH ...)``). The unit is
    written into the SQL as a number, so a GROUP BY on the expression matches its SELECT."""

    type = Integer()
    inherit_cache = True
    name = "whole_units_between"

    def __init__(self, start: Any, end: Any, unit: int) -> None:
        self.unit = int(unit)
        super().__init__(start, end)


@compiles(WholeUnitsBetween, "sqlite")
def _sqlite_units(element: WholeUnitsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    seconds = f"(CAST(strftime('%s', {end}) AS INTEGER) - CAST(strftime('%s', {start}) AS INTEGER))"
    return f"({seconds} / {element.unit})"  # integers: SQLite divides them whole


@compiles(WholeUnitsBetween, "postgresql")
def _postgres_units(element: WholeUnitsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM ({end} - {start})) / {element.unit}) AS INTEGER)"
