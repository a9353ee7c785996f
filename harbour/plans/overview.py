"""A case as its page opens: the summary, the timeline and the current plan version, with no
identifying value in it (people, threat sources and staff-written text wait for "show details",
which is ``show_case``). One transaction, audited as a read of the case; for a coordinator once
the case has a caseworker, the summary and timeline alone, audited as ``case.summary``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from harbour.access import Actor, agency_today, agency_zone, may, on_case
from harbour.app import App, UnitOfWork
from harbour.cases.cover import Cover, running_covers
from harbour.clock import local_time
from harbour.db.models import (
    Alert,
    AssessmentDraft,
    Case,
    LifecycleEvent,
    MissingEpisode,
    Plan,
    Staff,
    ThreatSource,
)
from harbour.domain import orders
from harbour.domain.plan_view import PlanItemView, PlanSnapshot
from harbour.domain.vocab import PlanSection
from harbour.notify import alerts
from harbour.plans.snapshot import snapshot
from harbour.plans.store import latest_plan

WITHHELD = ""  # what an identifying item's text becomes before "show details"


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to the case: an event name and operational values only."""

    at: datetime
    at_local: str
    what: str  # e.g. "assessment submitted", "alert opened"
    details: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DraftNote:
    """That an assessment draft of the case exists (its answers are its author's alone)."""

    point: str
    saved_local: str
    author: str  # the handle of who saved it
    mine: bool  # saved by the actor: they can continue it


@dataclass(frozen=True)
class CaseOverview:
    case: str  # the reference
    status: str
    risk_level: str | None
    reasons: tuple[tuple[str, str], ...]  # (rule code, staff wording) of the latest plan
    caseworker: str | None
    next_due_local: str | None
    overdue: bool
    escalated: bool
    timeline: tuple[TimelineEntry, ...]  # oldest first
    plan: PlanSnapshot | None  # identifying parts withheld (see ``withheld``)
    covers: tuple[Cover, ...] = ()  # running now (who, until when; never why)
    summary_only: bool = False  # no plan, no reasons: the actor may see the summary alone
    expired_orders: int = 0  # threat sources whose protective order has run out
    missing_since_local: str | None = None  # an open missing episode: when last seen
    missing_hours: int | None = None  # ... and how long ago
    drafts: tuple[DraftNote, ...] = ()  # for those who may assess the case, oldest first
    # Its alerts nobody has taken that the actor may see (``alerts.visible_to``), those where
    # someone is in danger first: (id, kind).
    waiting_alerts: tuple[tuple[str, str], ...] = ()


def case_overview(app: App, actor_handle: str | None, ref: str) -> CaseOverview:
    def work(uow: UnitOfWork, actor: Actor, case: Case) -> CaseOverview:
        zone = agency_zone(uow, case.agency_id)
        full = may(uow, actor, case, "case.read")
        plan = latest_plan(uow, case) if full else None
        shown = withheld(snapshot(uow, plan, progress_now=True)) if plan else None
        handle = uow.session.scalar(select(Staff.handle).where(Staff.id == case.caseworker_id))
        now = uow.now()
        entries = sorted(_timeline(uow, case, full), key=lambda e: e[0])
        gone = uow.session.scalar(
            select(MissingEpisode.last_seen_at).where(
                MissingEpisode.case_id == case.id, MissingEpisode.still_open()
            )
        )
        return CaseOverview(
            case=case.reference,
            status=case.status,
            risk_level=case.risk_level,
            reasons=shown.reasons if shown else (),
            caseworker=handle,
            next_due_local=local_time(case.next_due_at, zone),
            overdue=bool(case.next_due_at and case.next_due_at < now),
            escalated=case.escalated,
            timeline=tuple(
                TimelineEntry(at, local_time(at, zone) or "-", what, details)
                for at, what, details in entries
            ),
            plan=shown,
            covers=running_covers(uow, case, with_reasons=False),
            summary_only=not full,
            # Threat-source information: not in a summary (as ``case show`` withholds it).
            expired_orders=_expired_orders(uow, case, agency_today(uow, case.agency_id))
            if full
            else 0,
            missing_since_local=local_time(gone, zone) if gone else None,
            missing_hours=int((now - gone).total_seconds() // 3600) if gone else None,
            drafts=_drafts(uow, actor, case, zone) if may(uow, actor, case, "case.assess") else (),
            waiting_alerts=_waiting_alerts(uow, actor, case),
        )

    return on_case(app, actor_handle, ref, "case.read", work, otherwise="case.summary")


def _waiting_alerts(uow: UnitOfWork, actor: Actor, case: Case) -> tuple[tuple[str, str], ...]:
    """The case's alerts nobody has taken that the actor may see, those where someone is in
    danger first: the case page links to each, where the caseload only flags them."""
    rows = uow.session.execute(
        select(Alert.id, Alert.kind)
        .join(Case, Case.id == Alert.case_id)
        .where(Alert.case_id == case.id, Alert.acknowledged_at.is_(None))
        .where(alerts.visible_to(actor, uow.now()))
        .order_by(Alert.kind.in_(sorted(alerts.URGENT)).desc(), Alert.opened_at, Alert.id)
    ).all()
    return tuple((alert_id, kind) for alert_id, kind in rows)


def _drafts(uow: UnitOfWork, actor: Actor, case: Case, zone: ZoneInfo) -> tuple[DraftNote, ...]:
    """The case's assessment drafts: whose, of which point, when (never their answers)."""
    rows = uow.session.execute(
        select(AssessmentDraft.point, AssessmentDraft.saved_at, Staff.handle, Staff.id)
        .join(Staff, Staff.id == AssessmentDraft.author_id)
        .where(AssessmentDraft.case_id == case.id)
        .order_by(AssessmentDraft.saved_at)
    ).all()
    return tuple(
        DraftNote(point, local_time(at, zone), handle, author == actor.staff_id)
        for point, at, handle, author in rows
    )


def _expired_orders(uow: UnitOfWork, case: Case, today: date) -> int:
    found = uow.session.scalars(
        select(ThreatSource.protective_order_expires_on).where(
            ThreatSource.case_id == case.id, ThreatSource.protective_order.is_(True)
        )
    )
    return sum(orders.expired(day, today) for day in found)


def identifying(item: PlanItemView) -> bool:
    """Text staff wrote, and a contact's name, identify someone; catalogue wording does not."""
    return item.written or item.section == PlanSection.CONTACTS


def withheld(plan: PlanSnapshot) -> PlanSnapshot:
    """The plan version without its identifying parts."""
    items = tuple(
        dataclasses.replace(i, staff_text=WITHHELD, youth_text=WITHHELD) if identifying(i) else i
        for i in plan.items
    )
    return dataclasses.replace(
        plan, items=items, threats=(), contacts=(), youth_title=None, extra={}
    )


Moment = tuple[datetime, str, tuple[tuple[str, str], ...]]

# What a summary's timeline says of an event: what the summary shows anyway (risk level, status,
# caseworker) and how staff handled the case. Never the assessment point: "just left" says what
# the youth's situation is, which a summary withholds (``harbour case show``'s too).
SUMMARY_DETAILS = frozenset(
    {"level", "previous_level", "from_status", "to_status", "caseworker", "by", "hours"}
    | {"version", "tier", "kind", "reason"}
)


def _timeline(uow: UnitOfWork, case: Case, full: bool) -> list[Moment]:
    """The case's events, plan versions and alerts; for a summary (not ``full``), each event's
    details only as far as ``SUMMARY_DETAILS``."""
    moments: list[Moment] = []
    for name, payload, at in uow.session.execute(
        select(LifecycleEvent.name, LifecycleEvent.payload, LifecycleEvent.occurred_at).where(
            LifecycleEvent.case_id == case.id
        )
    ):
        what = name.removeprefix("harbour.").replace(".", " ").replace("_", " ")
        details = tuple(
            (key.replace("_", " "), str(value).replace("_", " "))
            for key, value in sorted(payload.items())
            if isinstance(value, str | int | float | bool) and not key.endswith("id")
            if full or key in SUMMARY_DETAILS
        )
        moments.append((at, what, details))
    for number, at in uow.session.execute(
        select(Plan.version_number, Plan.created_at).where(Plan.case_id == case.id)
    ):
        moments.append((at, "plan version drafted", (("version", str(number)),)))
    for kind, tier, at in uow.session.execute(
        select(Alert.kind, Alert.tier, Alert.opened_at).where(Alert.case_id == case.id)
    ):
        moments.append(
            (at, "alert opened", (("kind", kind.replace("_", " ")), ("tier", str(tier))))
        )
    return moments
