"""A supervisor's override of a computed risk level: both levels are kept, with the reason sealed,
and the case follows the new level (schedule, draft plan, notifications) as after an assessment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from harbour import events
from harbour.access import Actor, agency_today, on_case
from harbour.app import App, UnitOfWork
from harbour.assessments.submit import AssessmentOutcome, outcome_of
from harbour.cases import schedule
from harbour.db.base import new_id
from harbour.db.models import Assessment, Case, Plan
from harbour.domain.composition import emergency_items
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
from harbour.plans.store import append_items, note_next_due, plan_for_assessment
from harbour.validation import parse


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

    def as_json(self) -> dict[str, Any]:
        return self.outcome.as_json() | {
            "override": {
                "from": self.from_level,
                "to": self.to_level,
                "computed": self.outcome.computed_level,
                "by": self.by,
                "reason_length": self.reason_length,
            }
        }


def override_level(
    app: App, actor_handle: str | None, ref: str, level: str, reason: str
) -> Overridden:
    """A supervisor sets the level of the case's latest assessment, with a reason."""
    data = parse(OverrideIn, {"level": level, "reason": reason}, prefix="--")

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Overridden:
        outcome = override(uow, actor, case, data.level, data.reason)
        previous = outcome.previous_level
        return Overridden(previous, outcome.risk_level, actor.handle, len(data.reason), outcome)

    return on_case(app, actor_handle, ref, "case.override", work)


def override(
    uow: UnitOfWork, actor: Actor, case: Case, level: RiskLevel, reason: str
) -> AssessmentOutcome:
    """Keep the computed level, set the effective one, and follow through as an assessment would."""
    assessment = latest_completed(uow, case)
    previous = assessment.level
    assessment.override_level = level
    assessment.override_by_id = actor.staff_id
    assessment.overridden_at = uow.now()
    uow.seal(assessment, "override_reason", reason)
    case.risk_level = level
    case.updated_at = uow.now()
    plan = plan_for_assessment(uow, assessment)
    if plan is not None and plan.status == PlanStatus.DRAFT:
        plan.risk_level = level
        if level == RiskLevel.IMMINENT:
            _add_emergency_steps(uow, plan)
    if case.status != CaseStatus.DISCHARGED:
        schedule.plan_next(uow, case, assessment)
    if plan is not None:
        note_next_due(plan, case)
    payload = {"level": level.value, "computed_level": assessment.computed_level}
    events.record(
        uow, case.id, events.RISK_OVERRIDDEN, new_id(), previous_level=previous, **payload
    )
    hooks.assessment_completed(uow, case, assessment, previous)
    protocol = uow.reference.instrument.emergency_protocol
    number = plan.version_number if plan else None
    return outcome_of(uow, case, assessment, previous, number, protocol)


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


def _add_emergency_steps(uow: UnitOfWork, plan: Plan) -> None:
    """Raised to imminent by hand: the draft gains the emergency protocol it lacked."""
    have = {row.key for row in plan_items(uow, plan)}
    case = uow.session.get(Case, plan.case_id)
    assert case is not None
    today = agency_today(uow, case.agency_id)
    missing = [c for c in uow.reference.instrument.emergency_protocol if c not in have]
    append_items(uow, plan, emergency_items(missing, uow.reference.catalogue, today))
