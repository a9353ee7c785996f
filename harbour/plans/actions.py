"""What staff do to a case's plan, one transaction each: show, decide, add, finalise, diff, and
record emergency steps taken. Every call is agency-scoped and audited through ``on_case``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select

from harbour.access import Actor, agency_zone, audit, may, on_case
from harbour.app import App, UnitOfWork
from harbour.clock import local_time
from harbour.db.models import Assessment, Case, Plan, Staff
from harbour.domain import plan_diff
from harbour.domain.plan_diff import PlanDiff
from harbour.domain.plan_view import PlanSnapshot
from harbour.domain.text import Note, PlausibleDate, Title
from harbour.domain.vocab import ItemState, PlanSection, StepOwner
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.plans import opaque, tracking
from harbour.plans import store as planning
from harbour.plans.snapshot import snapshot
from harbour.validation import parse, parse_key

Version = Annotated[int, Field(ge=1, le=100_000)]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    section: PlanSection
    text: Note
    owner: StepOwner | None = None
    due: PlausibleDate | None = None  # written YYYY-MM-DD: digits alone are no date

    @field_validator("section", mode="before")
    @classmethod
    def _addable(cls, value: object) -> object:
        """Only the sections staff write into (as ``--help`` lists them), in plan order."""
        if isinstance(value, str) and value.strip().lower() in planning.ADDABLE:
            return value.strip().lower()
        raise ValueError(f"add to one of: {', '.join(planning.addable_sections())}")


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    owner: StepOwner | None = None
    due: PlausibleDate | None = None  # written YYYY-MM-DD: digits alone are no date


class YouthCopyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    title: Title | None = None
    hide_hotlines: bool | None = None


class VersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    number: Version


def _version_number(field: str, number: int) -> int:
    """A version number as typed: a bad one is bad input (exit 2), named by its option."""
    try:
        return VersionIn(number=number).number
    except ValidationError:
        raise InvalidInput([(field, "must be a plan version number (1 or more)")]) from None


def _version(uow: UnitOfWork, case: Case, field: str, number: int) -> Plan:
    """Version ``number`` of the case's plan; one it does not have is bad input too."""
    try:
        plan = planning.latest_plan(uow, case, number)
    except NotFound:
        plan = None
    if plan is None:
        newest = planning.latest_plan(uow, case)
        have = f"it has 1 to {newest.version_number}" if newest else "it has no plan yet"
        raise InvalidInput([(field, f"the case has no plan version {number} ({have})")])
    return plan


def show(app: App, actor_handle: str | None, ref: str, version: int | None = None) -> PlanSnapshot:
    if version is not None:
        version = _version_number("--version", version)

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> PlanSnapshot:
        if version is not None:
            return snapshot(uow, _version(uow, case, "--version", version), progress_now=True)
        plan = planning.latest_plan(uow, case)
        if plan is None:
            raise NotFound("no_plan", "the case has no plan yet: submit an assessment first")
        return snapshot(uow, plan, progress_now=True)

    return on_case(app, actor_handle, ref, "case.read", work)


def _expect(uow: UnitOfWork, case: Case, version: int | None) -> None:
    """Refuse a change made from a page of an older version (the console sends the version it
    showed): a newer assessment drafted another, or someone finalised it, since."""
    if version is None:
        return
    plan = planning.latest_plan(uow, case)
    if plan is None or plan.version_number != version or plan.status != "draft":
        now = f"version {plan.version_number} is {plan.status}" if plan else "no plan"
        raise Conflict("plan_changed", f"the plan changed since the page was opened ({now})")


def decide(
    app: App,
    actor_handle: str | None,
    ref: str,
    item: str,
    state: ItemState,
    expect_version: int | None = None,
) -> str:
    """Accept or reject one item of the latest draft; returns the item's key."""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> str:
        _expect(uow, case, expect_version)
        row = planning.decide(uow, case, item, state)
        audit(uow, actor, f"plan.item.{state.value}", case.id, item=row.key)
        return opaque.shown_key(uow, row)

    return on_case(app, actor_handle, ref, "case.plan", work)


def add(
    app: App,
    actor_handle: str | None,
    ref: str,
    expect_version: int | None = None,
    idempotency_key: str | None = None,
    **fields: object,
) -> str:
    """An item staff wrote with the youth, added to the latest draft; returns its key. Adding
    commutes with other additions, so one that meets a concurrent change of the draft is run
    again rather than refused (a finalize that won still refuses it: the draft is final). Sent
    again with its ``idempotency_key`` (a double submit, a post retried), it is the item it
    added, not another: refused if that one holds other values (``_as_added``). A twin sent at
    the same time finds it too: each add holds the case's row (``load_case``)."""
    data = parse(ItemIn, {k: v for k, v in fields.items() if v is not None}, prefix="--")
    key = parse_key(idempotency_key)

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> str:
        if key is not None and (added := planning.added_with(uow, case, key)) is not None:
            if _as_added(uow, added) != (data.section, data.text, data.owner, data.due):
                raise Conflict("idempotency_key_reused", "that key was used for another item")
            audit(uow, actor, "plan.item.add.replayed", case.id, item=added.key)
            return opaque.shown_key(uow, added)
        _expect(uow, case, expect_version)
        row = planning.add_item(
            uow,
            case,
            data.section,
            data.text,
            owner=data.owner,
            due_on=data.due,
            idempotency_key=key,
        )
        audit(uow, actor, "plan.item.add", case.id, item=row.key, section=data.section.value)
        return opaque.shown_key(uow, row)

    return on_case(app, actor_handle, ref, "case.plan", work, commutes=True)


def _as_added(uow: UnitOfWork, row: Any) -> tuple[Any, ...]:
    """An item as an add would give it (section, wording, owner, due date), to compare a repeat
    with: one that differs in any (other values typed, or the item changed since, as a person's
    repeated add is compared) is another add, refused."""
    owner = opaque.detail(uow, row).owner
    return (row.section, uow.unseal(row, "text"), StepOwner(owner) if owner else None, row.due_on)


@dataclass(frozen=True)
class StepSet:
    """A step as an edit left it: its key, who does it, and by when."""

    key: str
    owner: str | None
    due: date | None


def edit_step(
    app: App,
    actor_handle: str | None,
    ref: str,
    item: str,
    *,
    owner: str | None,
    due: str | None,
    keep_due: bool = False,
    expect_version: int | None = None,
    shown: tuple[str, str] | None = None,
) -> StepSet:
    """Change who does a step of the latest draft (``owner`` None: unchanged) and by when
    (``due`` None: no date; with ``keep_due``, unchanged). ``shown``: the owner and due date
    the console's form showed ("" for none); a change to one that changed since is refused."""
    if keep_due and not owner:
        raise InvalidInput([("--owner", "say what changes: --owner, --due or --no-due")])
    data = parse(StepIn, {k: v for k, v in (("owner", owner), ("due", due)) if v}, prefix="--")

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> StepSet:
        _expect(uow, case, expect_version)
        row = planning.edit_step(
            uow, case, item, data.owner, data.due, keep_due=keep_due, shown=shown
        )
        audit(uow, actor, "plan.item.edit", case.id, item=row.key)
        return StepSet(opaque.shown_key(uow, row), opaque.detail(uow, row).owner, row.due_on)

    return on_case(app, actor_handle, ref, "case.plan", work)


@dataclass(frozen=True)
class Finalized:
    version: int
    accepted: tuple[str, ...]  # undecided suggestions accepted with --accept-rest
    left_out: tuple[str, ...]  # undecided suggestions left out (suggested again next version)


def finalize(
    app: App,
    actor_handle: str | None,
    ref: str,
    choice: planning.Undecided = planning.Undecided(),
    expect_version: int | None = None,
) -> Finalized:
    """Freeze the latest draft, every suggestion decided by staff or by ``choice``."""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Finalized:
        _expect(uow, case, expect_version)
        settled = planning.settle_undecided(uow, planning.draft_of(uow, case), choice)
        plan = planning.finalize(uow, actor, case)
        details = {"accepted": len(settled.accepted), "left_out": len(settled.left_out)}
        audit(uow, actor, "plan.finalize", case.id, version=plan.version_number, **details)
        return Finalized(plan.version_number, settled.accepted, settled.left_out)

    return on_case(app, actor_handle, ref, "case.plan", work)


@dataclass(frozen=True)
class YouthCopy:
    """How the youth's copy of a draft reads: its own title or the neutral one, and hotlines."""

    version: int
    own_title: bool
    hide_hotlines: bool

    def as_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "own_title": self.own_title,
            "hide_hotlines": self.hide_hotlines,
        }


def youth_copy(
    app: App,
    actor_handle: str | None,
    ref: str,
    *,
    title: str | None = None,
    hide_hotlines: bool | None = None,
    expect_version: int | None = None,
) -> YouthCopy:
    """Set how the latest draft's youth copy reads: its title ("" for the neutral default) and
    whether it lists hotlines. Returns the settings now in force."""
    data = parse(
        YouthCopyIn,
        {"title": title or None, "hide_hotlines": hide_hotlines},
    )
    reset = title == ""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> YouthCopy:
        _expect(uow, case, expect_version)
        plan = planning.set_youth_copy(
            uow, case, title="" if reset else data.title, hide_hotlines=data.hide_hotlines
        )
        audit(uow, actor, "plan.youth_copy", case.id, version=plan.version_number)
        own_title = uow.unseal(plan, "youth_title") is not None
        return YouthCopy(plan.version_number, own_title, plan.hide_hotlines)

    return on_case(app, actor_handle, ref, "case.plan", work)


@dataclass(frozen=True)
class Marked:
    """A step recorded done (or not): its key, and the version it was recorded on."""

    key: str
    version: int
    latest: bool  # whether that version is the case's latest

    def as_json(self, done: bool) -> dict[str, object]:
        return {"item": self.key, "done": done, "version": self.version}


def mark_done(
    app: App,
    actor_handle: str | None,
    ref: str,
    item: str,
    *,
    done: bool = True,
    version: int | None = None,
) -> Marked:
    """Record that a step (any step, emergency steps too) was done, or with ``done=False`` that
    it was not after all (undoing a mistake): a step of version ``version``, else of the latest
    version, else an emergency step of the newest version holding it (``tracking.step_of``)."""
    if version is not None:
        version = _version_number("--version", version)

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Marked:
        chosen = _version(uow, case, "--version", version) if version is not None else None
        plan, row, latest = tracking.mark(uow, actor, case, item, done, chosen)
        audit(uow, actor, "plan.step.done" if done else "plan.step.undone", case.id, item=row.key)
        return Marked(opaque.shown_key(uow, row), plan.version_number, latest)

    return on_case(app, actor_handle, ref, "case.plan", work)


def emergency_protocol(app: App, actor_handle: str | None, ref: str) -> PlanSnapshot | None:
    """The newest version holding the emergency protocol, its steps' progress as it stands now;
    None if no version holds it, or for an actor who may read the case's summary alone."""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> PlanSnapshot | None:
        plan = tracking.protocol_version(uow, case) if may(uow, actor, case, "case.read") else None
        return snapshot(uow, plan, progress_now=True) if plan else None

    return on_case(app, actor_handle, ref, "case.read", work, otherwise="case.summary")


def diff(app: App, actor_handle: str | None, ref: str, v1: int, v2: int) -> PlanDiff:
    v1, v2 = _version_number("V1", v1), _version_number("V2", v2)

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> PlanDiff:
        old = _version(uow, case, "V1", v1)
        new = _version(uow, case, "V2", v2)
        return plan_diff.diff(snapshot(uow, old), snapshot(uow, new))

    return on_case(app, actor_handle, ref, "case.read", work)


@dataclass(frozen=True)
class VersionLine:
    """One plan version in ``plan versions``: finalised when and by whom, else drafted when and
    by whom (the staff who submitted its assessment, or overrode it to imminent)."""

    number: int
    point: str | None
    status: str
    risk_level: str | None
    at: datetime
    at_local: str
    by: str | None  # staff handle

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "at": self.at.isoformat()}


def versions(app: App, actor_handle: str | None, ref: str) -> list[VersionLine]:
    """Every version of the case's plan, oldest first."""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> list[VersionLine]:
        zone = agency_zone(uow, case.agency_id)
        plans = uow.session.scalars(
            select(Plan).where(Plan.case_id == case.id).order_by(Plan.version_number)
        ).all()
        return [_version_line(uow, plan, zone) for plan in plans]

    return on_case(app, actor_handle, ref, "case.read", work)


def _version_line(uow: UnitOfWork, plan: Plan, zone: ZoneInfo) -> VersionLine:
    assessment = uow.session.get(Assessment, plan.assessment_id) if plan.assessment_id else None
    if plan.finalized_at is not None:
        at, by_id = plan.finalized_at, plan.finalized_by_id
    else:
        at, by_id = plan.created_at, _drafted_by(uow, plan, assessment)
    staff = uow.session.get(Staff, by_id) if by_id else None
    return VersionLine(
        plan.version_number,
        plan.point,
        plan.status,
        plan.risk_level,
        at,
        local_time(at, zone),
        staff.handle if staff else None,
    )


def _drafted_by(uow: UnitOfWork, plan: Plan, assessment: Assessment | None) -> str | None:
    """Who drafted a version: whoever submitted its assessment, or, for a later version of the
    same assessment, the supervisor whose override to imminent drafted it."""
    if assessment is None:
        return None
    first = uow.session.scalar(
        select(func.min(Plan.version_number)).where(Plan.assessment_id == assessment.id)
    )
    return assessment.submitted_by_id if plan.version_number == first else assessment.override_by_id
