"""Submitting a safety assessment: validate, store, evaluate, compose the next plan version, and
schedule the next assessment, all in one transaction. The same idempotency key stores it once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from harbour import events
from harbour.access import Actor, agency_today, agency_zone, on_case
from harbour.app import App, UnitOfWork
from harbour.cases import milestones, schedule
from harbour.cases import transitions as lifecycle
from harbour.cases.reads import set_at_risk, set_situation
from harbour.cases.reads import situation as situation_now
from harbour.cases.schedule import open_assessment
from harbour.clock import local_time
from harbour.db.models import (
    Alert,
    Assessment,
    AssessmentDraft,
    Case,
    LifecycleEvent,
    Plan,
    ThreatSource,
)
from harbour.domain import orders
from harbour.domain.composition import ProposedItem, compose
from harbour.domain.instrument import Instrument
from harbour.domain.risk import (
    Reason,
    RiskResult,
    evaluate,
    persons_at_risk,
    situation_of,
    threats_present,
    validate_answers,
)
from harbour.domain.vocab import (
    AlertKind,
    AssessmentPoint,
    AssessmentStatus,
    PlanStatus,
    RiskLevel,
    Situation,
)
from harbour.errors import Conflict, InvalidInput
from harbour.notify import alerts, directory, hooks
from harbour.plans.snapshot import stored_reasons
from harbour.plans.store import (
    approved_contacts,
    create_version,
    latest_plan,
    note_next_due,
    plan_for_assessment,
    proposed,
)
from harbour.plans.tracking import done_keys, reopen_old_renewals
from harbour.validation import IdempotencyKey, parse_key

__all__ = ["complete_assessment", "open_assessment", "submit_assessment"]

SITUATION_OF_POINT = {
    AssessmentPoint.CONSIDERING_LEAVING: Situation.CONSIDERING_LEAVING,
    AssessmentPoint.JUST_LEFT: Situation.JUST_LEFT,
}


@dataclass(frozen=True)
class AssessmentOutcome:
    """What an assessment came to: operational values only."""

    assessment_id: str
    case_reference: str
    point: str
    risk_level: str
    computed_level: str
    previous_level: str | None
    reasons: tuple[Reason, ...]
    emergency_protocol: tuple[str, ...]
    plan_version: int | None
    next_due_at: datetime | None
    alert_id: str | None = None  # the imminent-threat alert staff must acknowledge
    emergency_steps: tuple[tuple[str, str], ...] = ()  # (code, staff wording)
    replayed: bool = False
    timezone: str = "UTC"
    superseded_version: int | None = (
        None  # the draft this assessment's version replaced  # the agency's, for showing the due time to people
    )

    def _local(self, moment: datetime | None) -> str | None:
        if moment is None:
            return None
        return local_time(moment, ZoneInfo(self.timezone))

    def as_json(self) -> dict[str, Any]:
        return {
            "assessment": self.assessment_id,
            "case": self.case_reference,
            "point": self.point,
            "risk_level": self.risk_level,
            "computed_level": self.computed_level,
            "previous_level": self.previous_level,
            "reasons": [
                {"code": r.code, "level": r.level.value, "text": r.text} for r in self.reasons
            ],
            "emergency_protocol": list(self.emergency_protocol),
            "emergency_steps": [{"code": c, "text": t} for c, t in self.emergency_steps],
            "alert": self.alert_id,
            "plan_version": self.plan_version,
            "next_due": self.next_due_at.isoformat() if self.next_due_at else None,
            "next_due_local": self._local(self.next_due_at),
            "replayed": self.replayed,
            "superseded_version": self.superseded_version,
        }


def parse_point(point: str) -> AssessmentPoint:
    try:
        return AssessmentPoint(point)
    except ValueError:
        raise InvalidInput([("--point", f"one of: {', '.join(AssessmentPoint)}")]) from None


# The check before the questions, as the case's trail records it: not ``case.assess``, which
# would read as an assessment recorded when none was (a form opened and left, say).
CHECKED = "case.assess.check"


def check_can_assess(app: App, actor_handle: str | None, ref: str, point: str) -> None:
    """Before anyone answers twenty questions: may this actor assess this case at this point?"""
    at = parse_point(point)

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> None:
        lifecycle.check_point(uow, case, at)

    on_case(app, actor_handle, ref, "case.assess", work, recorded_as=CHECKED)


def submit_assessment(
    app: App,
    actor_handle: str | None,
    ref: str,
    point: str,
    answers: object,
    idempotency_key: str | None = None,
) -> AssessmentOutcome:
    """Validate before anything is written, then complete the assessment in one transaction."""
    at = parse_point(point)
    key = parse_key(idempotency_key)
    validate_answers(app.reference.instrument, answers)
    assert isinstance(answers, Mapping)
    # Read before the transaction: an imminent level pages at once, and the routes file (with
    # Apprise's plugins) would otherwise be loaded while it holds the write lock.
    routes_file = directory.read_ahead(app.settings)

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> AssessmentOutcome:
        directory.hand_in(uow, routes_file)
        return complete_assessment(uow, actor, case, at, answers, key)

    try:
        return on_case(app, actor_handle, ref, "case.assess", work)
    except IntegrityError:
        if key is None:  # a concurrent twin with the same key won: answer as its replay
            raise
        return on_case(app, actor_handle, ref, "case.assess", work)


def complete_assessment(
    uow: UnitOfWork,
    actor: Actor | None,
    case: Case,
    point: AssessmentPoint,
    answers: Mapping[str, object],
    key: IdempotencyKey | None,
) -> AssessmentOutcome:
    """Store, evaluate and follow through one assessment of ``case`` (usable by flows)."""
    point = AssessmentPoint(point)
    instrument = uow.reference.instrument
    structured, free_text = validate_answers(instrument, answers)
    digest = _digest(point, structured, free_text)
    replay = _replay(uow, case, key, digest)
    if replay is not None:
        return replay
    lifecycle.check_point(uow, case, point)
    result = evaluate(instrument, structured)
    assessment = _store(uow, actor, case, point, key, structured, free_text, digest, result)
    hooks.overdue_work_done(uow, assessment, actor.handle if actor else "harbour")  # by its doer
    previous_level = case.risk_level
    _update_case(uow, case, point, instrument, structured, result)
    lifecycle.after_assessment(uow, actor, case, point)
    plan = _compose_plan(uow, case, assessment, instrument, structured, result)
    milestones.note(uow, case, assessment, plan)
    schedule.plan_next(uow, case, assessment)
    note_next_due(plan, case)
    payload = {"point": point.value, "level": result.level.value, "previous_level": previous_level}
    events.record(uow, case.id, events.ASSESSMENT_SUBMITTED, assessment.id, **payload)
    events.record(uow, case.id, events.ASSESSMENT_COMPLETED, assessment.id, **payload)
    hooks.assessment_completed(uow, case, assessment, previous_level)
    protocol = result.emergency_protocol
    return outcome_of(uow, case, assessment, previous_level, plan.version_number, protocol)


def _digest(point: str, structured: Mapping[str, object], free_text: Mapping[str, str]) -> str:
    body = json.dumps([point, structured, free_text], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _replay(uow: UnitOfWork, case: Case, key: str | None, digest: str) -> AssessmentOutcome | None:
    if key is None:
        return None
    existing = uow.session.scalar(
        select(Assessment).where(Assessment.case_id == case.id, Assessment.idempotency_key == key)
    )
    if existing is None:
        return None
    if uow.unseal(existing, "answers_digest") != digest:
        raise Conflict("idempotency_key_reused", "that key was used for another assessment")
    plan = plan_for_assessment(uow, existing)
    completed = uow.session.scalar(
        select(LifecycleEvent.payload).where(
            LifecycleEvent.subject_id == existing.id,
            LifecycleEvent.name == events.ASSESSMENT_COMPLETED,
        )
    )
    previous = (completed or {}).get("previous_level")
    protocol = uow.reference.instrument.emergency_protocol
    number = plan.version_number if plan else None
    return outcome_of(uow, case, existing, previous, number, protocol, replayed=True)


def _store(
    uow: UnitOfWork,
    actor: Actor | None,
    case: Case,
    point: AssessmentPoint,
    key: str | None,
    structured: dict[str, object],
    free_text: dict[str, str],
    digest: str,
    result: RiskResult,
) -> Assessment:
    """Complete the case's open assessment for ``point``, or a new one."""
    now = uow.now()
    assessment = next(
        (a for a in schedule.open_assessments(uow, case) if a.point == point), None
    ) or Assessment(case_id=case.id, point=point, opened_at=now)
    assessment.status = AssessmentStatus.COMPLETED
    assessment.completed_at = now
    assessment.submitted_by_id = actor.staff_id if actor else None
    assessment.idempotency_key = key
    assessment.instrument_version = result.instrument_version
    assessment.computed_level = result.level
    uow.session.add(assessment)
    uow.session.flush()
    uow.seal(assessment, "answers", json.dumps(structured, sort_keys=True, default=str))
    reasons = [{"code": r.code, "level": r.level.value, "text": r.text} for r in result.reasons]
    uow.seal(assessment, "reasons", json.dumps(reasons))
    uow.seal(assessment, "free_text", json.dumps(free_text, sort_keys=True) if free_text else None)
    uow.seal(assessment, "answers_digest", digest)
    # Whoever saved a draft of this point: it is answered now (harbour.assessments.drafts).
    uow.session.execute(
        delete(AssessmentDraft).where(
            AssessmentDraft.case_id == case.id, AssessmentDraft.point == point
        )
    )
    return assessment


def _update_case(
    uow: UnitOfWork,
    case: Case,
    point: AssessmentPoint,
    instrument: Instrument,
    structured: Mapping[str, object],
    result: RiskResult,
) -> None:
    case.risk_level = result.level
    situation = situation_of(instrument, structured) or SITUATION_OF_POINT.get(point)
    if situation is not None:
        set_situation(uow, case, situation)
    set_at_risk(uow, case, (p.value for p in persons_at_risk(instrument, structured)))
    case.updated_at = uow.now()


def _compose_plan(
    uow: UnitOfWork,
    case: Case,
    assessment: Assessment,
    instrument: Instrument,
    structured: Mapping[str, object],
    result: RiskResult,
) -> Plan:
    items = next_plan_items(uow, case, instrument, structured, result)
    return create_version(uow, case, assessment, items)


def next_plan_items(
    uow: UnitOfWork,
    case: Case,
    instrument: Instrument,
    structured: Mapping[str, object],
    result: RiskResult,
) -> list[ProposedItem]:
    """The items of the case's next plan version for an assessment's answers and result: composed
    from its latest version, with the case's threat sources, contacts and steps done."""
    recorded = uow.session.scalars(
        select(ThreatSource.kind).where(ThreatSource.case_id == case.id)
    ).all()
    threats = set(threats_present(instrument, structured)) | set(recorded)
    today, expiries = agency_today(uow, case.agency_id), order_expiries(uow, case)
    reopen_old_renewals(uow, case, orders.renewal_window(expiries, today))
    return compose(
        result,
        situation_now(uow, case),
        threats,  # type: ignore[arg-type]
        persons_at_risk(instrument, structured),
        proposed(uow, latest_plan(uow, case)),
        uow.reference.catalogue,
        contacts=approved_contacts(uow, case),
        today=today,
        done=done_keys(uow, case),
        order_expiries=expiries,
    )


def order_expiries(uow: UnitOfWork, case: Case) -> list[date]:
    """The expiry dates of the protective orders of the case's threat sources."""
    found = uow.session.scalars(
        select(ThreatSource.protective_order_expires_on).where(
            ThreatSource.case_id == case.id,
            ThreatSource.protective_order.is_(True),
            ThreatSource.protective_order_expires_on.is_not(None),
        )
    )
    return [day for day in found if day is not None]


def outcome_of(
    uow: UnitOfWork,
    case: Case,
    assessment: Assessment,
    previous_level: str | None,
    plan_version: int | None,
    protocol: Sequence[str],
    replayed: bool = False,
) -> AssessmentOutcome:
    reasons = reasons_of(uow, assessment)
    level = RiskLevel(assessment.level or RiskLevel.LOW)
    zone = agency_zone(uow, case.agency_id)
    protocol = tuple(protocol) if level == RiskLevel.IMMINENT else ()
    wording = uow.reference.catalogue.emergency_protocol if protocol else {}
    alert_id = uow.session.scalar(
        select(Alert.id).where(
            Alert.kind == AlertKind.IMMINENT_THREAT,
            Alert.source_id == alerts.imminent_source(uow, assessment),
        )
    )
    return AssessmentOutcome(
        assessment_id=assessment.id,
        case_reference=case.reference,
        point=assessment.point,
        risk_level=level.value,
        computed_level=str(assessment.computed_level),
        previous_level=previous_level,
        reasons=reasons,
        emergency_protocol=protocol,
        plan_version=plan_version,
        next_due_at=case.next_due_at,
        alert_id=alert_id,
        emergency_steps=tuple(
            (code, wording[code].staff_text if code in wording else code) for code in protocol
        ),
        timezone=zone.key,
        replayed=replayed,
        superseded_version=_superseded_before(uow, case, plan_version),
    )


def reasons_of(uow: UnitOfWork, assessment: Assessment) -> tuple[Reason, ...]:
    """The rules that raised the assessment's computed level, as stored."""
    return tuple(
        Reason(str(r["code"]), str(r["text"]), RiskLevel(r["level"]))
        for r in stored_reasons(uow, assessment)
    )


def _superseded_before(uow: UnitOfWork, case: Case, plan_version: int | None) -> int | None:
    """The draft version just before ``plan_version`` if that version superseded it."""
    if not plan_version or plan_version < 2:
        return None
    before = latest_plan(uow, case, plan_version - 1)
    return before.version_number if before and before.status == PlanStatus.SUPERSEDED else None
