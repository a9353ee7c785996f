"""Working through a plan's steps: mark one done (or undo a mistake), and find the steps past their
due date. The records themselves, and how they are read, are ``harbour.plans.progress``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from harbour.access import Actor, agency_today, agency_zone, may, resolve_actor
from harbour.app import App, UnitOfWork
from harbour.db.models import Case, Plan, PlanItem, StepProgress
from harbour.domain.composition import renewal_keys
from harbour.domain.steps import carried, not_recordable, overdue
from harbour.domain.vocab import PlanSection, PlanStatus
from harbour.errors import InvalidInput, NotFound
from harbour.plans import opaque
from harbour.plans.progress import done_as_of, key_of
from harbour.plans.snapshot import plan_items
from harbour.plans.store import find_item, latest_plan


@dataclass(frozen=True)
class OverdueStep:
    key: str
    due_on: date

    def as_json(self) -> dict[str, str]:
        return {"key": self.key, "due_on": self.due_on.isoformat()}


def done_keys(uow: UnitOfWork, case: Case) -> frozenset[str]:
    """The case's steps done now (keys of the steps section as composition gives them;
    composing the next version)."""
    done = (k for k in done_as_of(uow, case.id, uow.now()) if carried(k))
    return opaque.clear_keys(uow, case.id, done)


def reopen_old_renewals(uow: UnitOfWork, case: Case, opened: date | None) -> None:
    """A renewal step done before ``opened`` (``orders.renewal_window``: the day the renewal
    of the order running out now was called for) renewed an earlier expiry: it is recorded
    not done (by no one), so the renewal of the order running out now is tracked to done
    afresh. Earlier versions' documents, read as of their moment, still show it done."""
    if opened is None:
        return
    zone = agency_zone(uow, case.agency_id)
    renewals = renewal_keys(uow.reference.catalogue)
    for key, done in done_as_of(uow, case.id, uow.now()).items():
        if not carried(key) or done.at.astimezone(zone).date() >= opened:
            continue
        if opaque.clear_keys(uow, case.id, [key]) & renewals:
            _record(uow, case, key, False, None)


def _record(uow: UnitOfWork, case: Case, key: str, done: bool, by_id: str | None) -> None:
    last = uow.session.scalar(
        select(func.max(StepProgress.seq)).where(StepProgress.case_id == case.id)
    )
    record = StepProgress(case_id=case.id, seq=(last or 0) + 1, key=key, done=done)
    record.at, record.by_id = uow.now(), by_id
    uow.session.add(record)
    uow.session.flush()


def mark(
    uow: UnitOfWork,
    actor: Actor | None,
    case: Case,
    ref: str,
    done: bool,
    version: Plan | None = None,
) -> tuple[Plan, PlanItem, bool]:
    """Record a step done (or, ``done=False``, not done after all: an undo of a mistake), and
    the version it was found in: ``version``, else the latest, else for an emergency step's key
    the newest version holding it (see ``step_of``); and whether that version is the latest.
    Also on a final version: progress is not part of the version; but on an earlier version
    only for an emergency step (``not_recordable``). Marking twice records once."""
    plan, row = step_of(uow, case, ref, version)
    newest = latest_plan(uow, case)
    latest = newest is not None and newest.id == plan.id
    why = not_recordable(row.section, row.state, latest=latest)
    if why is not None:
        raise InvalidInput([("ITEM", why)])
    key = key_of(plan, row)
    if (key in done_as_of(uow, case.id, uow.now())) != done:
        _record(uow, case, key, done, actor.staff_id if actor else None)
    return plan, row, latest


def step_of(uow: UnitOfWork, case: Case, ref: str, version: Plan | None) -> tuple[Plan, PlanItem]:
    """The item ``ref`` (a key, or a number as ``plan show`` gives it) of ``version``, else of
    the latest version. An emergency step's progress is kept per version, and a later assessment
    drafts a version without the protocol, so an emergency step's key the latest version lacks
    is looked up in the newest version that holds it: the actions taken stay recordable."""
    plan = version or latest_plan(uow, case)
    if plan is None:
        raise NotFound("no_plan", "the case has no plan yet")
    try:
        return plan, find_item(uow, plan, ref)
    except InvalidInput:
        holder = None if version else protocol_version(uow, case, ref)
        if holder is None:
            raise
        return holder, find_item(uow, holder, ref)


def protocol_version(uow: UnitOfWork, case: Case, code: str | None = None) -> Plan | None:
    """The case's newest version holding the emergency protocol (its step ``code``, if given)."""
    query = (
        select(Plan)
        .join(PlanItem, PlanItem.plan_id == Plan.id)
        .where(Plan.case_id == case.id, PlanItem.section == PlanSection.EMERGENCY)
        .order_by(Plan.version_number.desc())
        .limit(1)
    )
    return uow.session.scalar(query if code is None else query.where(PlanItem.key == code))


def overdue_steps(uow: UnitOfWork, case: Case) -> list[OverdueStep]:
    """Steps of the case's latest version on the plan, not done, due before today (the agency's
    day): a step carried into later versions keeps its due date, so it can be late."""
    plan = latest_plan(uow, case)
    if plan is None or plan.status == PlanStatus.SUPERSEDED:
        return []
    today = agency_today(uow, case.agency_id)
    done = done_as_of(uow, case.id, uow.now())
    return [
        OverdueStep(opaque.shown_key(uow, row), row.due_on)
        for row in plan_items(uow, plan)
        if row.due_on is not None
        and overdue(
            row.section,
            row.state,
            row.due_on,
            today,
            key_of(plan, row) in done,
        )
    ]


@dataclass(frozen=True)
class OverdueByCase:
    """Overdue steps by case reference (cases with none are absent): (reference, the steps,
    how many). An actor who may not read a case's plan (a coordinator once the case has its
    caseworker) gets the count only: which steps is plan content."""

    steps: tuple[tuple[str, tuple[OverdueStep, ...], int], ...]

    def of(self, reference: str) -> tuple[OverdueStep, ...]:
        return next((late for ref, late, _ in self.steps if ref == reference), ())

    def count(self, reference: str) -> int:
        return next((n for ref, _, n in self.steps if ref == reference), 0)


def overdue_of(app: App, actor_handle: str | None, references: Sequence[str]) -> OverdueByCase:
    """Overdue steps of the cases ``references`` of the actor's agency (for caseloads and
    ``case show``, which have checked and audited the read); their number only where the actor
    may not read the plan."""

    def work(uow: UnitOfWork) -> OverdueByCase:
        if not references:
            return OverdueByCase(())
        actor = resolve_actor(uow, actor_handle)
        cases = uow.session.scalars(
            select(Case).where(Case.reference.in_(references), Case.agency_id == actor.agency_id)
        )
        found = (
            (case.reference, tuple(overdue_steps(uow, case)), may(uow, actor, case, "case.read"))
            for case in cases
        )
        return OverdueByCase(
            tuple((ref, late if shown else (), len(late)) for ref, late, shown in found if late)
        )

    return app.run(work)
