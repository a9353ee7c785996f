"""The caseload as the web console shows it: most urgent first, counted, one page at a time.

The same scope and filters as ``harbour cases`` (``reads.caseload_query``), ordered by what needs
someone first: an open imminent-threat alert, overdue, escalated, due today, due soon, the rest.
Only one page of rows is ever loaded; the counts are one aggregate query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, or_, select

from harbour.access import audit, authorize, resolve_actor
from harbour.app import App, UnitOfWork
from harbour.cases.reads import (
    CaseRow,
    agency_zone,
    caseload_query,
    due_soon_horizon,
    missing_since,
)
from harbour.db.models import Alert, Case, MissingEpisode
from harbour.domain.vocab import AlertKind
from harbour.errors import InvalidInput

PAGE_SIZE = 50
MAX_PAGE = 100_000

# Urgency ranks, most urgent first.
IMMINENT, OVERDUE, ESCALATED, DUE_TODAY, DUE_SOON, LATER = range(6)


@dataclass(frozen=True)
class CaseloadEntry:
    row: CaseRow
    urgency: int

    @property
    def imminent(self) -> bool:
        return self.urgency == IMMINENT


@dataclass(frozen=True)
class CaseloadPage:
    entries: tuple[CaseloadEntry, ...]
    counts: dict[str, int]  # over the whole visible caseload, filters aside
    matching: int  # cases the filters match
    page: int
    pages: int


def caseload_page(
    app: App,
    actor_handle: str | None,
    *,
    page: int = 1,
    due: bool = False,
    overdue: bool = False,
    escalated: bool = False,
    page_size: int = PAGE_SIZE,
) -> CaseloadPage:
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput([("page", f"a page number from 1 to {MAX_PAGE}")])

    def work(uow: UnitOfWork) -> CaseloadPage:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "case.list")
        now = uow.now()
        zone = agency_zone(uow, actor.agency_id)
        rank = _urgency(uow, now, zone)
        scoped = caseload_query(uow, actor, now, zone)
        counts = _counts(uow, scoped, rank, now, zone) | _missing_counts(uow, scoped, now)
        filtered = caseload_query(
            uow, actor, now, zone, due=due, overdue=overdue, escalated=escalated
        )
        matching = uow.session.scalar(select(func.count()).select_from(filtered.subquery())) or 0
        rows = uow.session.execute(
            filtered.add_columns(rank, missing_since())
            .order_by(rank, Case.next_due_at.is_(None), Case.next_due_at, Case.reference)
            .limit(page_size)
            .offset((page - 1) * page_size)
        ).all()
        entries = tuple(
            CaseloadEntry(
                CaseRow(
                    c.reference,
                    c.status,
                    c.risk_level,
                    c.next_due_at,
                    bool(c.next_due_at and c.next_due_at < now),
                    c.escalated,
                    handle,
                    zone,
                    since,
                ),
                urgency,
            )
            for c, handle, urgency, since in rows
        )
        audit(uow, actor, "case.list", count=len(entries), page=page)
        pages = max(1, -(-matching // page_size))
        return CaseloadPage(entries, counts, matching, page, pages)

    return app.run(work)


def _urgency(uow: UnitOfWork, now: datetime, zone: ZoneInfo) -> Any:
    open_threat = exists().where(
        Alert.case_id == Case.id,
        Alert.kind == AlertKind.IMMINENT_THREAT,
        Alert.acknowledged_at.is_(None),
    )
    return case(
        (open_threat, IMMINENT),
        (Case.next_due_at < now, OVERDUE),
        (Case.escalated.is_(True), ESCALATED),
        (Case.next_due_at < _end_of_today(now, zone), DUE_TODAY),
        (Case.next_due_at <= due_soon_horizon(uow, now, zone), DUE_SOON),
        else_=LATER,
    ).label("urgency")


def _end_of_today(now: datetime, zone: ZoneInfo) -> datetime:
    return datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(), zone)


def _counts(
    uow: UnitOfWork, scoped: Any, rank: Any, now: datetime, zone: ZoneInfo
) -> dict[str, int]:
    """Each count is of the cases its flag and filter name, whatever else is on them (an
    overdue case with an open imminent alert counts in both), not of each case's top rank."""
    ranks = scoped.add_columns(rank).subquery()
    due = ranks.c.next_due_at
    soon = or_(due < _end_of_today(now, zone), due <= due_soon_horizon(uow, now, zone))
    flags = (
        ranks.c.urgency == IMMINENT,
        due < now,
        ranks.c.escalated.is_(True),
        and_(due >= now, soon),
    )
    row = uow.session.execute(
        select(
            func.count(), *(func.coalesce(func.sum(case((on, 1), else_=0)), 0) for on in flags)
        ).select_from(ranks)
    ).one()
    names = ("open", "imminent", "overdue", "escalated", "due_soon")
    return {name: int(value) for name, value in zip(names, row, strict=True)}


def _missing_counts(uow: UnitOfWork, scoped: Any, now: datetime) -> dict[str, int]:
    """Open missing episodes of the visible caseload, and the oldest one's age in hours."""
    cases = scoped.with_only_columns(Case.id).subquery()
    count, oldest = uow.session.execute(
        select(func.count(), func.min(MissingEpisode.last_seen_at)).where(
            MissingEpisode.still_open(), MissingEpisode.case_id.in_(select(cases.c.id))
        )
    ).one()
    hours = int((now - oldest).total_seconds() // 3600) if oldest is not None else 0
    return {"missing": int(count), "missing_oldest_hours": hours}
