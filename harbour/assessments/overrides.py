"""A supervisor's override of a computed risk level: both levels are kept, with the reason sealed,
and the case follows the new level (schedule, draft plan, notifications) as after an assessment.
Raised to imminent, the plan holds the emergency protocol whatever the state of its version, so
each step taken can be recorded (``_with_protocol``). Sent again with its idempotency key (a
double click), an override is the one it recorded, answered alike (``_replay``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from harbour import events
from harbour.access import Actor, agency_today, audit, on_case
from harbour.app import App, UnitOfWork
from harbour.assessments.submit import (
    AssessmentOutcome,
    next_plan_items,
    outcome_of,
    reasons_of,
)
from harbour.cases import milestones, schedule
from harbour.cases import transitions as lifecycle
from harbour.db import used_keys
from harbour.db.base import new_id
from harbour.db.models import Assessment, Case, LifecycleEvent, Plan
from harbour.domain.composition import emergency_items
from harbour.domain.risk import RiskResult
from harbour.domain.text import Note
from harbour.domain.vocab import (
    AssessmentStatus,
    CaseStatus,
    PlanStatus,
    RiskLevel,
)
from harbour.errors import Conflict
from harbour.notify import hooks
from harbour.plans.snapshot import plan_items
from harbour.plans.store import (
    append_items,
    draft_version,
    note_next_due,
    plan_for_assessment,
)
from harbour.validation import parse, parse_key

OVERRIDE = "case.override"  # the action its keys are kept for, scoped to the case


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    level: RiskLevel
    reason: Note


@dataclass(frozen=True)
class Overridden:
    """What an override did: the level from and to, by whom, the reason's length only (the
    reason itself is sealed; ``case show`` shows it), and the case as it now stands."""

    from_level: str | None
    to_level: str
    by: str
    reason_length: int
    outcome: AssessmentOutcome
    protocol_on: ProtocolOn | None = None  # at imminent: the version holding the protocol

    def as_json(self) -> dict[str, Any]:
        return self.outcome.as_json() | {
            "override": {
                "from": self.from_level,
                "to": self.to_level,
                "computed": self.outcome.computed_level,
                "by": self.by,
                "reason_length": self.reason_length,
                "emergency_protocol_on": self.protocol_on.as_json() if self.protocol_on else None,
            }
        }


def override_level(
    app: App,
    actor_handle: str | None,
    ref: str,
    level: str,
    reason: str,
    idempotency_key: str | None = None,
) -> Overridden:
    """A supervisor sets the level of the case's latest assessment, with a reason. Sent again
    with its ``idempotency_key`` (a double click, a post retried), it is the override it
    recorded, not another (``_replay``)."""
    data = parse(OverrideIn, {"level": level, "reason": reason}, prefix="--")
    key = parse_key(idempotency_key)

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Overridden:
        followed = _replay(uow, actor, case, key, data) or override(
            uow, actor, case, data.level, data.reason, key
        )
        outcome = followed.outcome
        return Overridden(
            outcome.previous_level,
            outcome.risk_level,
            actor.handle,
            len(data.reason),
            outcome,
            followed.protocol_on,
        )

    return on_case(app, actor_handle, ref, "case.override", work)


@dataclass(frozen=True)
class ProtocolOn:
    """Where an override to imminent left the emergency protocol: the plan version that holds
    it, and how: ``held`` already, ``added`` to that draft, or a version ``drafted`` for it
    (the assessment's own was final without it)."""

    version: int
    how: str

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "how": self.how}


@dataclass(frozen=True)
class Followed:
    """What an override came to: the case as after an assessment, and where the emergency
    protocol is when the level is imminent."""

    outcome: AssessmentOutcome
    protocol_on: ProtocolOn | None


def override(
    uow: UnitOfWork,
    actor: Actor,
    case: Case,
    level: RiskLevel,
    reason: str,
    key: str | None = None,
) -> Followed:
    """Keep the computed level, set the effective one, and follow through as an assessment would."""
    assessment = latest_completed(uow, case)
    previous = assessment.level
    assessment.override_level = level
    assessment.override_by_id = actor.staff_id
    assessment.overridden_at = uow.now()
    used_keys.record(uow.session, uow.now(), OVERRIDE, case.id, key, assessment.id)
    uow.seal(assessment, "override_reason", reason)
    case.risk_level = level
    case.updated_at = uow.now()
    plan = plan_for_assessment(uow, assessment, newest=True)
    if plan is not None and plan.status == PlanStatus.DRAFT:
        plan.risk_level = level
    protocol_on = None
    if level == RiskLevel.IMMINENT:
        plan, protocol_on = _with_protocol(uow, case, assessment, plan)
    # As after the assessment at this level: after discharge the follow-ups stay as they are
    # (one more after the last at high), and an imminent threat is assessed again at once.
    schedule.plan_next(uow, case, assessment)
    if case.status == CaseStatus.DISCHARGED:
        # Its thorough assessment withdrawn, a last follow-up's case closes as it would have at
        # this level (nothing else would: the sweep skips a case with its follow-ups done).
        lifecycle.close_if_follow_ups_done(uow, case)
    if plan is not None:
        note_next_due(plan, case)
    payload = {"level": level.value, "computed_level": assessment.computed_level}
    events.record(
        uow, case.id, events.RISK_OVERRIDDEN, new_id(), previous_level=previous, **payload
    )
    hooks.assessment_completed(uow, case, assessment, previous)
    protocol = uow.reference.instrument.emergency_protocol
    number = plan.version_number if plan else None
    outcome = outcome_of(uow, case, assessment, previous, number, protocol)
    return Followed(outcome, protocol_on)


def _replay(
    uow: UnitOfWork, actor: Actor, case: Case, key: str | None, data: OverrideIn
) -> Followed | None:
    """The override an earlier one with ``key`` recorded, as it answered (audited as a replay),
    if there is one; refused if it was another's, to another level or for another reason. Spent
    (``harbour.db.used_keys``) once another override of the case came after it, or its
    assessment is no longer the latest: sent again, it would set back a level a later override
    set, or override an assessment nobody saw. A twin sent at the same time finds it too: each
    holds the case's row (``load_case``)."""
    found = used_keys.replayed(
        uow.session,
        OVERRIDE,
        case.id,
        key,
        lambda assessment_id: assessment_id == latest_completed(uow, case).id,
        "that key's override was overridden since, or its assessment superseded",
    )
    if found is None:
        return None
    assessment = uow.session.get_one(Assessment, found)
    reason = uow.unseal(assessment, "override_reason")
    held = (assessment.override_by_id, assessment.override_level, reason)
    if held != (actor.staff_id, data.level, data.reason):
        raise Conflict("idempotency_key_reused", "that key was used for another override")
    audit(uow, actor, "case.override.replayed", case.id, level=data.level.value)
    return _as_recorded(uow, case, assessment)


def _as_recorded(uow: UnitOfWork, case: Case, assessment: Assessment) -> Followed:
    """What an override recorded answers again: the level it set, from the level its event
    kept, and at imminent the version that holds the protocol now."""
    plan = plan_for_assessment(uow, assessment, newest=True)
    number = plan.version_number if plan else None
    imminent = assessment.override_level == RiskLevel.IMMINENT
    recorded = uow.session.scalar(
        select(LifecycleEvent.payload)
        .where(LifecycleEvent.case_id == case.id, LifecycleEvent.name == events.RISK_OVERRIDDEN)
        .order_by(LifecycleEvent.occurred_at.desc())
        .limit(1)
    )
    previous = (recorded or {}).get("previous_level")
    protocol = uow.reference.instrument.emergency_protocol
    outcome = outcome_of(uow, case, assessment, previous, number, protocol, replayed=True)
    held = ProtocolOn(number, "held") if imminent and number is not None else None
    return Followed(outcome, held)


def latest_completed(uow: UnitOfWork, case: Case) -> Assessment:
    found = uow.session.scalar(
        select(Assessment)
        .where(Assessment.case_id == case.id, Assessment.status == AssessmentStatus.COMPLETED)
        .order_by(Assessment.completed_at.desc(), Assessment.id.desc())
        .limit(1)
    )
    if found is None:
        raise Conflict("not_assessed", "the case has no completed assessment to override")
    return found


def _with_protocol(
    uow: UnitOfWork, case: Case, assessment: Assessment, plan: Plan | None
) -> tuple[Plan, ProtocolOn]:
    """Raised to imminent by hand: the assessment's version holds the emergency protocol, so
    each step taken can be recorded. A draft gains the steps it lacks; a final version never
    changes, so the next version is drafted with them, as an assessment at imminent drafts it."""
    if plan is not None and plan.status == PlanStatus.DRAFT:
        added = _add_emergency_steps(uow, case, plan)
        return plan, ProtocolOn(plan.version_number, "added" if added else "held")
    if plan is not None and not _missing_steps(uow, plan):
        return plan, ProtocolOn(plan.version_number, "held")
    drafted = _draft_with_protocol(uow, case, assessment)
    return drafted, ProtocolOn(drafted.version_number, "drafted")


def _missing_steps(uow: UnitOfWork, plan: Plan) -> list[str]:
    """The emergency protocol's steps the version does not hold."""
    have = {row.key for row in plan_items(uow, plan)}
    return [c for c in uow.reference.instrument.emergency_protocol if c not in have]


def _add_emergency_steps(uow: UnitOfWork, case: Case, plan: Plan) -> bool:
    """The draft gains the emergency protocol's steps it lacked; whether it lacked any."""
    missing = _missing_steps(uow, plan)
    today = agency_today(uow, case.agency_id)
    append_items(uow, plan, emergency_items(missing, uow.reference.catalogue, today))
    return bool(missing)


def _draft_with_protocol(uow: UnitOfWork, case: Case, assessment: Assessment) -> Plan:
    """The case's next version, composed from the assessment's answers at the level
    overridden: the emergency protocol first, staff decisions and steps done carried over."""
    instrument = uow.reference.instrument
    answers = json.loads(uow.unseal(assessment, "answers") or "{}")
    result = RiskResult(
        RiskLevel.IMMINENT,
        reasons_of(uow, assessment),
        tuple(instrument.emergency_protocol),
        assessment.instrument_version or instrument.version,
    )
    items = next_plan_items(uow, case, instrument, answers, result)
    plan = draft_version(uow, case, assessment, items)
    milestones.note(uow, case, assessment, plan)  # the latest plan is a draft again
    return plan
