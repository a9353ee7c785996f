"""What the demo's staff do and look at, through the domain's own services: review a plan with the
youth and finalise it, find the assessments they were reminded of, find alerts to acknowledge."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from harbour.access import Actor, agency_today, audit, on_case
from harbour.app import App, UnitOfWork
from harbour.db.models import (
    Alert,
    Assessment,
    Case,
    OutboxMessage,
    Plan,
    PlanItem,
    ReminderMark,
    Staff,
)
from harbour.demo.cast import Addition
from harbour.domain.steps import ON_THE_PLAN
from harbour.domain.vocab import AssessmentStatus, ItemState, OutboxStatus, PlanSection, StepOwner
from harbour.plans import opaque, tracking
from harbour.plans import store as planning
from harbour.plans.snapshot import plan_items


@dataclass(frozen=True)
class Review:
    version: int
    accepted: int
    rejected: int
    added: int
    steps_done: int = 0


def review_and_finalize(
    app: App, handle: str, ref: str, declines: frozenset[str], additions: Sequence[Addition]
) -> Review:
    """The caseworker goes through the latest draft with the youth: accepts each suggestion the
    youth wants (a step whose date went by with a new one, ``_dated_again``), rejects the
    others, writes in ``additions``, records the staff's own steps due by now as done, and
    finalises the version, every suggestion decided."""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Review:
        plan = planning.draft_of(uow, case)
        steps_done = _staff_steps_done(uow, actor, case, plan)
        accepted = rejected = 0
        for row in plan_items(uow, plan):
            if row.state != ItemState.SUGGESTED:
                continue
            if opaque.shown_code(uow, row) in declines:
                planning.decide(uow, case, row.key, ItemState.REJECTED)
                rejected += 1
            else:
                _dated_again(uow, actor, case, plan, row)
                planning.decide(uow, case, row.key, ItemState.ACCEPTED)
                accepted += 1
            audit(uow, actor, f"plan.item.{row.state}", case.id, item=row.key)
        for item in additions:
            owner = StepOwner(item.owner) if item.owner else None
            added = planning.add_item(uow, case, PlanSection(item.section), item.text, owner=owner)
            audit(uow, actor, "plan.item.add", case.id, item=added.key, section=item.section)
        planning.finalize(uow, actor, case)  # every suggestion was decided above
        audit(uow, actor, "plan.finalize", case.id, version=plan.version_number)
        return Review(plan.version_number, accepted, rejected, len(additions), steps_done)

    return on_case(app, handle, ref, "case.plan", work)


def _dated_again(uow: UnitOfWork, actor: Actor, case: Case, plan: Plan, row: PlanItem) -> None:
    """A step suggested again after its date went by is given a new one before it is accepted,
    as far off as the catalogue gives it when first suggested."""
    if not planning.late_once_accepted(uow, plan, [row]):
        return
    step = uow.reference.catalogue.strategy(opaque.shown_code(uow, row) or "").step
    days = step.due_days if step is not None else None
    due = agency_today(uow, case.agency_id) + timedelta(days=days) if days is not None else None
    planning.edit_step(uow, case, row.key, None, due)
    audit(uow, actor, "plan.item.edit", case.id, item=row.key)


STAFF_OWNERS = frozenset({StepOwner.CASEWORKER, StepOwner.AGENCY})


def _staff_steps_done(uow: UnitOfWork, actor: Actor, case: Case, plan: Plan) -> int:
    """The caseworker's and agency's steps on the plan, due by today, recorded done."""
    today = agency_today(uow, case.agency_id)
    done = tracking.done_keys(uow, case)
    due = [
        key
        for row in plan_items(uow, plan)
        if row.section == PlanSection.STEPS
        and row.state in ON_THE_PLAN
        and opaque.detail(uow, row).owner in STAFF_OWNERS
        and row.due_on is not None
        and row.due_on <= today
        and (key := opaque.shown_key(uow, row)) not in done
    ]
    for key in due:
        _, row, _ = tracking.mark(uow, actor, case, key, True)
        audit(uow, actor, "plan.step.done", case.id, item=row.key)  # as stored: opaque or not
    return len(due)


@dataclass(frozen=True)
class Reminded:
    case_id: str
    point: str
    due_at: datetime


def reminded_assessments(app: App) -> list[Reminded]:
    """Open assessments whose reminder for their current due date has fired, by due date."""

    def work(uow: UnitOfWork) -> list[Reminded]:
        rows = uow.session.execute(
            select(Assessment.case_id, Assessment.point, Assessment.due_at)
            .where(Assessment.status == AssessmentStatus.OPEN)
            .where(
                select(ReminderMark.threshold)
                .where(
                    ReminderMark.assessment_id == Assessment.id,
                    ReminderMark.due_at == Assessment.due_at,
                )
                .exists()
            )
            .order_by(Assessment.due_at, Assessment.case_id)
        ).all()
        return [Reminded(case_id, point, due) for case_id, point, due in rows if due is not None]

    return app.run(work)


@dataclass(frozen=True)
class OpenAlert:
    id: str
    case_id: str
    kind: str
    opened_at: datetime


def unacknowledged(app: App) -> list[OpenAlert]:
    def work(uow: UnitOfWork) -> list[OpenAlert]:
        rows = uow.session.scalars(
            select(Alert)
            .where(Alert.acknowledged_at.is_(None), Alert.case_id.is_not(None))
            .order_by(Alert.opened_at)
        ).all()
        return [OpenAlert(a.id, a.case_id or "", a.kind, a.opened_at) for a in rows]

    return app.run(work)


def case_facts(app: App, case_id: str) -> tuple[str, str | None, str, str | None]:
    """(reference, caseworker handle, status, risk level) of a case."""

    def work(uow: UnitOfWork) -> tuple[str, str | None, str, str | None]:
        case = uow.session.get_one(Case, case_id)
        worker = uow.session.get(Staff, case.caseworker_id) if case.caseworker_id else None
        return case.reference, worker.handle if worker else None, case.status, case.risk_level

    return app.run(work)


def emergency_keys(app: App, case_id: str) -> list[str]:
    """The emergency protocol items of the case's latest plan version, in plan order."""

    def work(uow: UnitOfWork) -> list[str]:
        plan = planning.latest_plan(uow, uow.session.get_one(Case, case_id))
        if plan is None:
            return []
        rows = plan_items(uow, plan)
        return [row.key for row in rows if row.section == PlanSection.EMERGENCY]

    return app.run(work)


def deliverable(app: App) -> bool:
    """Whether the outbox holds a row the relay would send now."""

    def work(uow: UnitOfWork) -> bool:
        due = select(OutboxMessage.id).where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= uow.now(),
        )
        return uow.session.scalar(due.limit(1)) is not None

    return app.run(work)


def thresholds_fired(app: App, at: datetime) -> Counter[str]:
    """The reminder thresholds a sweep at ``at`` sent (due_soon, ..., escalation), by name."""

    def work(uow: UnitOfWork) -> Counter[str]:
        rows = uow.session.scalars(
            select(ReminderMark.threshold).where(
                ReminderMark.fired_at == at, ReminderMark.outcome == "sent"
            )
        )
        return Counter(rows)

    return app.run(work)
