"""Reading cases: one case in full (for its agency's staff), caseloads, assignment, the audit trail."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, exists, func, or_, select

from harbour import events
from harbour.access import (
    Actor,
    agency_today,
    agency_zone,
    audit,
    authorize,
    caseworker,
    cover_active,
    may,
    on_case,
    resolve_actor,
)
from harbour.app import App, UnitOfWork
from harbour.cases.cover import Cover, running_covers
from harbour.clock import local_time
from harbour.db.base import new_id
from harbour.db.models import (
    PERSON_FIELDS,
    Assessment,
    AuditEvent,
    Case,
    CaseCover,
    LifecycleEvent,
    MissingEpisode,
    MissingStep,
    Person,
    Staff,
    ThreatSource,
)
from harbour.domain import orders
from harbour.domain.policy import Interval, shift
from harbour.domain.text import escaped
from harbour.domain.vocab import AssessmentStatus, CaseStatus, Role, Situation
from harbour.errors import InvalidInput
from harbour.notify import hooks


@dataclass(frozen=True)
class CaseRow:
    """One line of a caseload: operational values only."""

    reference: str
    status: str
    risk_level: str | None
    next_due: datetime | None
    overdue: bool
    escalated: bool
    caseworker: str | None
    zone: ZoneInfo
    missing_since: datetime | None = None  # an open missing episode: when last seen

    def as_json(self) -> dict[str, Any]:
        return {
            "missing_since": self.missing_since.isoformat() if self.missing_since else None,
            "case": self.reference,
            "status": self.status,
            "risk_level": self.risk_level,
            "next_due": self.next_due.isoformat() if self.next_due else None,
            "next_due_local": local_time(self.next_due, self.zone),
            "overdue": self.overdue,
            "escalated": self.escalated,
            "caseworker": self.caseworker,
        }


def caseload(
    app: App,
    actor_handle: str | None,
    *,
    due: bool = False,
    overdue: bool = False,
    escalated: bool = False,
) -> list[CaseRow]:
    """The actor's cases: a caseworker's own and those they cover; coordinators and supervisors
    see the agency's.
    ``due``: an assessment falls due within the policy's due-soon reminder window, or is
    overdue; ``overdue``: past its due time."""

    def work(uow: UnitOfWork) -> list[CaseRow]:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "case.list")
        now = uow.now()
        zone = agency_zone(uow, actor.agency_id)
        query = caseload_query(uow, actor, now, zone, due=due, overdue=overdue, escalated=escalated)
        query = query.order_by(Case.next_due_at.is_(None), Case.next_due_at, Case.reference)
        listed: Any = query.add_columns(missing_since())
        rows = [
            CaseRow(
                case.reference,
                case.status,
                case.risk_level,
                case.next_due_at,
                bool(case.next_due_at and case.next_due_at < now),
                case.escalated,
                handle,
                zone,
                since,
            )
            for case, handle, since in uow.session.execute(listed)
        ]
        audit(uow, actor, "case.list", count=len(rows))
        return rows

    return app.run(work)


def missing_since() -> Any:
    """A caseload column: when the youth of an open missing episode was last seen, or NULL."""
    return (
        select(MissingEpisode.last_seen_at)
        .where(MissingEpisode.case_id == Case.id, MissingEpisode.still_open())
        .limit(1)
        .scalar_subquery()
        .label("missing_since")
    )


def caseload_query(
    uow: UnitOfWork,
    actor: Actor,
    now: datetime,
    zone: ZoneInfo,
    *,
    due: bool = False,
    overdue: bool = False,
    escalated: bool = False,
) -> Select[Case, str | None]:
    """The cases ``actor`` may list (and their caseworker's handle), with ``harbour cases``'s
    filters: a caseworker's own and those they cover, the agency's for coordinators and
    supervisors."""
    query = (
        select(Case, Staff.handle)
        .outerjoin(Staff, Staff.id == Case.caseworker_id)
        .where(Case.agency_id == actor.agency_id, Case.status != CaseStatus.CLOSED)
    )
    if actor.role == Role.CASEWORKER:
        covered = exists().where(
            CaseCover.case_id == Case.id,
            CaseCover.staff_id == actor.staff_id,
            cover_active(now),
        )
        query = query.where(or_(Case.caseworker_id == actor.staff_id, covered))
    if due or overdue:
        query = query.where(Case.next_due_at.is_not(None))
    if due:
        query = query.where(Case.next_due_at <= due_soon_horizon(uow, now, zone))
    if overdue:
        query = query.where(Case.next_due_at < now)
    if escalated:
        query = query.where(Case.escalated.is_(True))
    return query


def due_soon_horizon(uow: UnitOfWork, now: datetime, zone: ZoneInfo) -> datetime:
    """Due times up to this one have had their due-soon reminder (``--due``)."""
    policy = uow.reference.policy
    return shift(now, policy.reminders.get("due_soon", Interval()), zone)


@dataclass(frozen=True)
class CaseDetails:
    """The whole case as its agency's staff see it, identifying fields unsealed (people and
    threat sources as ``case show`` lists them: by number, only the fields that hold a value).

    ``summary_only``: the actor may see the case's summary alone (a coordinator, once the case
    has a caseworker): reference, status, risk level, caseworker, due dates and covers; the
    situation, persons at risk, referral source, people and threat sources are left empty."""

    case: str  # the reference
    status: str
    situation: str | None
    risk_level: str | None
    next_due: datetime | None
    next_due_local: str | None  # in the agency's zone
    escalated: bool
    caseworker: str | None
    persons_at_risk: tuple[str, ...]
    referral_source: str | None
    people: tuple[Mapping[str, Any], ...]
    threats: tuple[Mapping[str, Any], ...]
    # The latest assessment's override, if any: level, computed, by, at (local), reason.
    override: Mapping[str, Any] | None = None
    covers: tuple[Cover, ...] = ()  # running now; with their reasons unless summary_only
    summary_only: bool = False
    missing: Mapping[str, Any] | None = None  # the open missing episode, its steps

    @property
    def expired_orders(self) -> int:
        """How many of the threat sources' protective orders have run out."""
        return sum(bool(t.get("protective_order_expired")) for t in self.threats)

    def as_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "summary_only": self.summary_only,
            "status": self.status,
            "situation": self.situation,
            "risk_level": self.risk_level,
            "next_due": self.next_due.isoformat() if self.next_due else None,
            "next_due_local": self.next_due_local,
            "escalated": self.escalated,
            "caseworker": self.caseworker,
            "persons_at_risk": list(self.persons_at_risk),
            "referral_source": self.referral_source,
            "people": [dict(p) for p in self.people],
            "threats": [dict(t) for t in self.threats],
            "override": dict(self.override) if self.override else None,
            "covers": [c.as_json() for c in self.covers],
            "expired_orders": self.expired_orders,
            "missing": dict(self.missing) if self.missing else None,
        }


def show_case(
    app: App, actor_handle: str | None, ref: str, *, or_summary: bool = True
) -> CaseDetails:
    """The whole case, identifying fields unsealed, for those who may read it in full (its
    caseworker, whoever covers it, its agency's supervisors, coordinators until it has a
    caseworker); its summary for coordinators after that (audited as ``case.summary``), unless
    not ``or_summary`` (the console's "show details": refused instead)."""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> CaseDetails:
        if not may(uow, actor, case, "case.read"):
            return summarize(uow, case)
        return describe(uow, case)

    lesser = "case.summary" if or_summary else None
    return on_case(app, actor_handle, ref, "case.read", work, otherwise=lesser)


def summarize(uow: UnitOfWork, case: Case) -> CaseDetails:
    """What intake needs of a case: nothing identifying, nothing of its plan."""
    caseworker = uow.session.get(Staff, case.caseworker_id) if case.caseworker_id else None
    zone = agency_zone(uow, case.agency_id)
    return CaseDetails(
        case=case.reference,
        status=case.status,
        situation=None,
        risk_level=case.risk_level,
        next_due=case.next_due_at,
        next_due_local=local_time(case.next_due_at, zone),
        escalated=case.escalated,
        caseworker=caseworker.handle if caseworker else None,
        persons_at_risk=(),
        referral_source=None,
        people=(),
        threats=(),
        covers=running_covers(uow, case, with_reasons=False),
        summary_only=True,
    )


def at_risk(uow: UnitOfWork, case: Case) -> list[str]:
    """Who besides the youth is at risk (codes), as the referral or the latest assessment said:
    sealed, since it tells what the answers were."""
    found = uow.unseal(case, "persons_at_risk")
    return [str(code) for code in json.loads(found)] if found else []


def set_at_risk(uow: UnitOfWork, case: Case, codes: Iterable[str]) -> None:
    uow.seal(case, "persons_at_risk", json.dumps(sorted(set(codes))))


def situation(uow: UnitOfWork, case: Case) -> Situation:
    """Where the youth stands, as the referral or the latest assessment said: sealed, since it
    tells what the answers were (every case has one from its referral on)."""
    found = uow.unseal(case, "situation")
    if found is None:
        raise ValueError("a case without a situation")  # every referral gives it one
    return Situation(found)


def set_situation(uow: UnitOfWork, case: Case, value: Situation) -> None:
    uow.seal(case, "situation", Situation(value).value)


def describe(uow: UnitOfWork, case: Case) -> CaseDetails:
    """The whole case: its summary and everything identifying, unsealed."""
    people = uow.session.scalars(
        select(Person).where(Person.case_id == case.id).order_by(Person.position)
    ).all()
    threats = uow.session.scalars(
        select(ThreatSource).where(ThreatSource.case_id == case.id).order_by(ThreatSource.position)
    ).all()
    zone = agency_zone(uow, case.agency_id)
    today = agency_today(uow, case.agency_id)
    return dataclasses.replace(
        summarize(uow, case),
        situation=situation(uow, case).value,
        persons_at_risk=tuple(at_risk(uow, case)),
        referral_source=uow.unseal(case, "referral_source"),
        people=tuple(MappingProxyType(_person(uow, p)) for p in people),
        threats=tuple(MappingProxyType(_threat(uow, t, today)) for t in threats),
        override=_override(uow, case, zone),
        covers=running_covers(uow, case, with_reasons=True),
        summary_only=False,
        missing=_missing(uow, case, zone),
    )


def _override(uow: UnitOfWork, case: Case, zone: ZoneInfo) -> Mapping[str, Any] | None:
    """The latest completed assessment's override, with its reason unsealed (supervisors'
    judgement, shown where the rest of the case's sensitive detail is)."""
    latest = uow.session.scalar(
        select(Assessment)
        .where(Assessment.case_id == case.id, Assessment.status == AssessmentStatus.COMPLETED)
        .order_by(Assessment.completed_at.desc(), Assessment.id.desc())
        .limit(1)
    )
    if latest is None or latest.override_level is None:
        return None
    by = uow.session.get(Staff, latest.override_by_id) if latest.override_by_id else None
    return MappingProxyType(
        {
            "level": latest.override_level,
            "computed_level": latest.computed_level,
            "point": latest.point,
            "by": by.handle if by else None,
            "at_local": local_time(latest.overridden_at, zone),
            "reason": uow.unseal(latest, "override_reason"),
        }
    )


def _missing(uow: UnitOfWork, case: Case, zone: ZoneInfo) -> Mapping[str, Any] | None:
    """The open missing episode: since when, for how long, and its steps (report numbers
    unsealed: ``case show`` is the audited read of identifying details)."""
    episode = uow.session.scalar(
        select(MissingEpisode).where(MissingEpisode.case_id == case.id, MissingEpisode.still_open())
    )
    if episode is None:
        return None
    steps = uow.session.scalars(
        select(MissingStep).where(MissingStep.episode_id == episode.id).order_by(MissingStep.step)
    )
    return MappingProxyType(
        {
            "since_local": local_time(episode.last_seen_at, zone),
            "hours": int((uow.now() - episode.last_seen_at).total_seconds() // 3600),
            "steps": [
                {
                    "step": s.step,
                    "due_local": local_time(s.due_at, zone),
                    "done": s.done_at is not None,
                    "report_number": uow.unseal(s, "report_number"),
                }
                for s in steps
            ],
        }
    )


def _person(uow: UnitOfWork, person: Person) -> dict[str, Any]:
    shown: dict[str, Any] = {"person": person.position, "kind": person.kind}
    shown |= {f: v for f in PERSON_FIELDS if (v := uow.unseal(person, f)) is not None}
    if person.kind != "youth":
        shown |= {
            "non_offending": person.non_offending,
            "approved_by_youth": person.approved_by_youth,
        }
    return shown


def _threat(uow: UnitOfWork, threat: ThreatSource, today: date) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "threat": threat.position,
        "kind": threat.kind,
        "protective_order": threat.protective_order,
    }
    for f in ("name", "description", "protective_order_details"):
        if (v := uow.unseal(threat, f)) is not None:
            shown[f] = v
    if threat.protective_order_expires_on:
        shown["protective_order_expires_on"] = threat.protective_order_expires_on.isoformat()
        if threat.protective_order and orders.expired(threat.protective_order_expires_on, today):
            shown["protective_order_expired"] = True
    return shown


@dataclass(frozen=True)
class Assignment:
    """Whose case it is now."""

    case: str  # the reference
    caseworker: str  # the handle

    def as_json(self) -> dict[str, str]:
        return {"case": self.case, "caseworker": self.caseworker}


def assign(app: App, actor_handle: str | None, ref: str, handle: str) -> Assignment:
    """Give a case of the actor's agency to one of its caseworkers (or supervisors)."""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Assignment:
        assign_case(uow, actor, case, handle)
        return Assignment(case.reference, handle)

    return on_case(app, actor_handle, ref, "case.assign", work)


def assign_case(uow: UnitOfWork, actor: Actor | None, case: Case, handle: str) -> Case:
    """Give the case to ``handle`` and tell them, in the caller's transaction; assigning it to
    its current caseworker changes nothing and sends nothing."""
    staff = caseworker(uow, case.agency_id, handle)
    if staff is None:
        raise InvalidInput([("HANDLE", "no active caseworker with that handle in the agency")])
    if case.caseworker_id != staff.id:
        case.caseworker_id = staff.id
        case.updated_at = uow.now()
        audit(uow, actor, "case.assign", case.id, caseworker=staff.handle)
        assignment = new_id()
        events.record(uow, case.id, events.CASE_ASSIGNED, assignment, caseworker=staff.handle)
        hooks.case_assigned(uow, case, assignment)
        hooks.reminders_handed_over(uow, case)
    return case


@dataclass(frozen=True)
class Assignee:
    """A caseworker a case is given to: who, by id and handle."""

    id: str
    handle: str


# Built once, as every referral asks it: building the statement cost five times running it; and
# the two columns by Core (loading a Staff row cost three times the query).
_S, _C = Staff.__table__.c, Case.__table__.c
_LEAST_LOADED = (
    select(_S.id, _S.handle)
    .where(
        _S.agency_id == bindparam("agency_id"),
        _S.active.is_(True),
        _S.role == Role.CASEWORKER,
    )
    .order_by(
        select(func.count(_C.id))
        .where(_C.caseworker_id == _S.id, _C.status != CaseStatus.CLOSED)
        .scalar_subquery(),
        _S.handle,
    )
    .limit(1)
)


def least_loaded_caseworker(uow: UnitOfWork, agency_id: str) -> Assignee | None:
    """The agency's active caseworker with the fewest open cases (by handle on a tie)."""
    found = uow.session.execute(_LEAST_LOADED, {"agency_id": agency_id}).first()
    return Assignee(found.id, found.handle) if found is not None else None


def latest_assignment(uow: UnitOfWork, case: Case) -> str | None:
    """The id of the assignment that gave the case its current caseworker (what a "case
    assigned" notice is keyed on): the latest assignment event naming them."""
    handle = uow.session.scalar(select(Staff.handle).where(Staff.id == case.caseworker_id))
    rows = uow.session.execute(
        select(LifecycleEvent.subject_id, LifecycleEvent.payload)
        .where(LifecycleEvent.case_id == case.id, LifecycleEvent.name == events.CASE_ASSIGNED)
        .order_by(LifecycleEvent.occurred_at.desc())
    ).all()
    return next((subject for subject, payload in rows if payload.get("caseworker") == handle), None)


@dataclass(frozen=True)
class AuditRow:
    """One audited action: who, what, when (also in the agency's zone) and how it went; codes,
    handles and counts only."""

    at: datetime
    at_local: str
    actor: str | None
    action: str
    outcome: str
    details: Mapping[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "at_local": self.at_local,
            "actor": self.actor,
            "action": self.action,
            "outcome": self.outcome,
            "details": dict(self.details),
        }


def audit_trail(app: App, actor_handle: str | None, ref: str) -> list[AuditRow]:
    """Who read or changed a case of the supervisor's agency, and when, oldest first."""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> list[AuditRow]:
        rows = uow.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.case_id == case.id)
            .order_by(AuditEvent.at, AuditEvent.seq)
        ).all()
        zone = agency_zone(uow, actor.agency_id)
        return [_audit_row(r, zone) for r in rows]

    return on_case(app, actor_handle, ref, "case.audit", work)


def system_audit(app: App, actor_handle: str | None, limit: int = 500) -> list[AuditRow]:
    """An admin's view of the audit rows that belong to no case: their agency's (staff changes,
    refused commands, sign-ins) and, for the installation's operators alone, the store's own
    trail (``init``, agencies added, copies, key rotations, operators named, unknown actors,
    store-wide operations refused), the newest ``limit`` of them, oldest first. Codes and
    handles only."""

    def work(uow: UnitOfWork) -> list[AuditRow]:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "audit.system")
        ours = AuditEvent.agency_id == actor.agency_id
        rows = uow.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.case_id.is_(None),
                or_(ours, AuditEvent.agency_id.is_(None)) if actor.operator else ours,
            )
            .order_by(AuditEvent.seq.desc())
            .limit(limit)
        ).all()
        audit(uow, actor, "audit.system", count=len(rows))
        zone = agency_zone(uow, actor.agency_id)
        return [_audit_row(r, zone) for r in reversed(rows)]

    return app.run(work)


def _audit_row(row: AuditEvent, zone: ZoneInfo) -> AuditRow:
    at_local = local_time(row.at, zone, seconds=True)
    details = MappingProxyType(dict(row.details))
    actor = escaped(row.actor_handle) if row.actor_handle else None  # also rows stored raw
    return AuditRow(row.at, at_local, actor, row.action, row.outcome, details)
