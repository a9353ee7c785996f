"""Plan versions: composed from an assessment, decided on by staff, frozen when finalised.

``compose`` (pure, in ``harbour.domain.composition``) proposes the items; this module stores a version,
applies staff decisions to the latest draft. A version is immutable once final; the next assessment
starts a new one. Reading a version back is ``harbour.plans.snapshot``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm.attributes import flag_modified

from harbour import events
from harbour.access import Actor, agency_today
from harbour.app import UnitOfWork
from harbour.cases import milestones
from harbour.db.base import new_id
from harbour.db.models import Assessment, Case, Person, Plan, PlanItem
from harbour.domain.composition import ADDED_PREFIX, ProposedItem
from harbour.domain.steps import ON_THE_PLAN, overdue
from harbour.domain.text import is_digits
from harbour.domain.vocab import (
    ItemState,
    PlanSection,
    PlanStatus,
    StepOwner,
)
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.plans import opaque
from harbour.plans.progress import done_as_of, key_of
from harbour.plans.snapshot import freeze_people, may_be_contact_now, numbered_items, plan_items

MAX_STEP_AHEAD = timedelta(days=5 * 365)  # a step further off than that is a typing slip
ADDABLE = frozenset({PlanSection.RISKS, PlanSection.STRATEGIES, PlanSection.STEPS})


def addable_sections() -> list[str]:
    """The sections staff may add to, in plan order."""
    return [section.value for section in PlanSection if section in ADDABLE]


def latest_plan(uow: UnitOfWork, case: Case, version: int | None = None) -> Plan | None:
    """The case's newest plan version, or version ``version`` (NotFound if it has none such)."""
    query = select(Plan).where(Plan.case_id == case.id)
    if version is not None:
        plan = uow.session.scalar(query.where(Plan.version_number == version))
        if plan is None:
            raise NotFound("plan_version_not_found", f"the case has no plan version {version}")
        return plan
    return uow.session.scalar(query.order_by(Plan.version_number.desc()).limit(1))


def plan_for_assessment(
    uow: UnitOfWork, assessment: Assessment, *, newest: bool = False
) -> Plan | None:
    """The version ``assessment`` composed (a replay's, the lifecycle steps' that render it);
    with ``newest``, the newest drafted from it: an override to imminent that found that version
    final drafts another (``harbour.assessments.overrides``)."""
    order = Plan.version_number.desc() if newest else Plan.version_number
    return uow.session.scalar(
        select(Plan).where(Plan.assessment_id == assessment.id).order_by(order).limit(1)
    )


def proposed(uow: UnitOfWork, plan: Plan | None) -> list[ProposedItem]:
    """A stored version's items as plain values, to carry staff decisions into the next one."""
    if plan is None:
        return []
    return [
        ProposedItem(
            key=opaque.shown_key(uow, row),
            section=PlanSection(row.section),
            state=ItemState(row.state),
            code=(found := opaque.detail(uow, row)).code,
            phase=found.phase,  # type: ignore[arg-type]
            owner=StepOwner(found.owner) if found.owner else None,
            due_on=row.due_on,
            person_id=row.person_id,
            text=uow.unseal(row, "text"),
        )
        for row in plan_items(uow, plan)
    ]


def approved_contacts(uow: UnitOfWork, case: Case) -> list[str]:
    """The case's people who may be the plan's contacts (``composition.may_be_contact``)."""
    people = uow.session.scalars(
        select(Person).where(Person.case_id == case.id).order_by(Person.position)
    )
    return [p.id for p in people if may_be_contact_now(p)]


def create_version(
    uow: UnitOfWork, case: Case, assessment: Assessment, items: Sequence[ProposedItem]
) -> Plan:
    """Store the next plan version for ``assessment`` (once: a second call returns the first)."""
    existing = plan_for_assessment(uow, assessment)
    if existing is not None:
        return existing
    return draft_version(uow, case, assessment, items)


def draft_version(
    uow: UnitOfWork, case: Case, assessment: Assessment, items: Sequence[ProposedItem]
) -> Plan:
    """Store ``items`` as the case's next plan version, a draft drafted from ``assessment``;
    a draft still open is superseded."""
    number = uow.session.scalar(
        select(func.max(Plan.version_number)).where(Plan.case_id == case.id)
    )
    rows = opaque.with_padding(uow, items)
    plan = Plan(
        case_id=case.id,
        version_number=(number or 0) + 1,
        assessment_id=assessment.id,
        status=PlanStatus.DRAFT,
        risk_level=assessment.level,
        point=assessment.point,
        created_at=uow.now(),
        next_position=len(rows),
    )
    previous = latest_plan(uow, case)
    if previous is not None and previous.status == PlanStatus.DRAFT:
        previous.status = PlanStatus.SUPERSEDED  # kept readable, never finalised
    if previous is not None:
        plan.hide_hotlines = previous.hide_hotlines
        uow.seal(plan, "youth_title", uow.unseal(previous, "youth_title"))
    uow.session.add(plan)
    uow.session.flush()
    for position, item in enumerate(rows):
        uow.session.add(stored_item(uow, plan, position, item))
    uow.session.flush()
    return plan


def append_items(uow: UnitOfWork, plan: Plan, items: Sequence[ProposedItem]) -> list[PlanItem]:
    """Items that join a version after it was composed (one staff add, the emergency protocol
    an override calls for), in the order given: each takes the version's next number
    (``Plan.next_position``, which only goes up), and is listed with its section."""
    rows = [stored_item(uow, plan, plan.next_position + n, item) for n, item in enumerate(items)]
    plan.next_position += len(rows)
    uow.session.add_all(rows)
    uow.session.flush()
    return rows


def note_next_due(plan: Plan, case: Case) -> None:
    """After the schedule is planned: a draft keeps the next due time as it now stands, so the
    version renders the same later whatever the schedule does; a final version keeps its own."""
    if plan.status == PlanStatus.DRAFT:
        plan.next_due_at = case.next_due_at


def stored_item(uow: UnitOfWork, plan: Plan, position: int, item: ProposedItem) -> PlanItem:
    """``item`` as a row of ``plan``: its wording sealed, and its key and code opaque when it
    says what sealed values were (``harbour.plans.opaque``): its code, phase and owner sealed."""
    key, clear, sealed_detail = opaque.stored(uow, plan, item)
    row = PlanItem(
        plan_id=plan.id,
        key=key,
        section=item.section,
        phase=clear.phase,
        code=clear.code,
        owner=clear.owner,
        person_id=item.person_id,
        due_on=item.due_on,
        state=item.state,
        position=position,
    )
    uow.seal(row, "text", item.text)
    uow.seal(row, "detail", sealed_detail)
    return row


def draft_of(uow: UnitOfWork, case: Case) -> Plan:
    """The latest version, which staff may still change only while it is a draft."""
    plan = latest_plan(uow, case)
    if plan is None:
        raise NotFound("no_plan", "the case has no plan yet: submit an assessment first")
    if plan.status != PlanStatus.DRAFT:
        raise Conflict("plan_final", f"plan version {plan.version_number} is final; assess again")
    return plan


def find_item(uow: UnitOfWork, plan: Plan, ref: str) -> PlanItem:
    """An item by its key (as ``plan show`` lists it), or by its number there."""
    numbered = numbered_items(uow, plan)
    for _, row in numbered:
        if ref in (row.key, opaque.shown_key(uow, row)):  # as stored (opaque), or as composed
            return row
    for number, row in numbered:
        if is_digits(ref) and int(ref) == number:
            return row
    raise InvalidInput([("ITEM", "no such item in the plan (give its key or number)")])


def decide(uow: UnitOfWork, case: Case, ref: str, state: ItemState) -> PlanItem:
    """Accept or reject an item of the draft; the emergency protocol is not optional, and a
    step is not accepted past its due date (``late_once_accepted``)."""
    if state not in (ItemState.ACCEPTED, ItemState.REJECTED):
        raise InvalidInput([("state", "must be accepted or rejected")])
    plan = draft_of(uow, case)
    row = find_item(uow, plan, ref)
    if state == ItemState.REJECTED and _required(uow, row):
        raise Conflict("item_required", "emergency steps and the emergency number stay on a plan")
    if state == ItemState.ACCEPTED and (late := late_once_accepted(uow, plan, [row])):
        raise PastItsDate(late)
    if row.state != ItemState.ADDED:
        row.state = state
    elif state == ItemState.REJECTED:
        uow.session.delete(row)  # staff withdrawing their own item
    _touch(uow, plan)
    return row


def _required(uow: UnitOfWork, row: PlanItem) -> bool:
    if row.section == PlanSection.EMERGENCY:
        return True
    if row.section != PlanSection.RESOURCES or row.code is None:
        return False
    resource = uow.reference.catalogue.resource(row.code)
    return resource is not None and resource.emergency


def add_item(
    uow: UnitOfWork,
    case: Case,
    section: PlanSection,
    text: str,
    *,
    owner: StepOwner | None = None,
    due_on: date | None = None,
    idempotency_key: str | None = None,
) -> PlanItem:
    """An item staff write with the youth; its wording is sealed. A step needs an owner, and its
    due date (if any) may not be in the past in the agency's zone; only a step has either.
    ``idempotency_key``: the add's, kept on the item (``added_with`` finds it)."""
    if section not in ADDABLE:
        raise InvalidInput([("--section", f"add to one of: {', '.join(addable_sections())}")])
    plan = draft_of(uow, case)
    if section == PlanSection.STEPS:
        _check_step(uow, case, owner, due_on)
    else:
        _check_not_step(owner, due_on)
    item = ProposedItem(
        f"{ADDED_PREFIX}{new_id()[:12]}",
        section,
        ItemState.ADDED,
        owner=owner,
        due_on=due_on,
        text=text,
    )
    [row] = append_items(uow, plan, [item])
    row.idempotency_key = idempotency_key
    _touch(uow, plan)
    uow.session.flush()
    return row


def added_with(uow: UnitOfWork, case: Case, key: str) -> PlanItem | None:
    """The item an add with idempotency key ``key`` added to the case's plan, if any."""
    return uow.session.scalars(
        select(PlanItem)
        .join(Plan, Plan.id == PlanItem.plan_id)
        .where(Plan.case_id == case.id, PlanItem.idempotency_key == key)
        .order_by(Plan.version_number.desc())
        .limit(1)
    ).first()


def edit_step(
    uow: UnitOfWork,
    case: Case,
    ref: str,
    owner: StepOwner | None,
    due_on: date | None,
    *,
    keep_due: bool = False,
    shown: tuple[str, str] | None = None,
) -> PlanItem:
    """Who does a step of the draft (None: the owner it has), and by when (None: no date, or
    the date it has with ``keep_due``); what changes is checked as a new step is. ``shown``:
    the owner and due date a form showed ("" for none), which what changes must still have."""
    plan = draft_of(uow, case)
    row = find_item(uow, plan, ref)
    if row.section != PlanSection.STEPS:
        raise InvalidInput([("ITEM", "only steps have an owner and a due date")])
    if row.state == ItemState.REJECTED:
        raise InvalidInput([("ITEM", "a rejected step is not on the plan")])
    kept = opaque.detail(uow, row).owner
    if shown is not None:
        _as_shown(row, kept, shown, owner=owner is not None, due=not keep_due)
    owner = owner or (StepOwner(kept) if kept else None)
    _check_step(uow, case, owner, None if keep_due else due_on)
    opaque.set_owner(uow, row, owner)
    if not keep_due:
        row.due_on = due_on
    _touch(uow, plan)
    return row


def _as_shown(
    row: PlanItem, owner_now: str | None, shown: tuple[str, str], *, owner: bool, due: bool
) -> None:
    """Refuse to change a step's owner (or due date) that someone changed since the form was
    shown (another tab, a colleague): theirs is not undone unseen. The form, shown again with
    the step as it is now, saves what was typed when sent again."""
    problems = []
    if owner and (owner_now or "") != shown[0]:
        problems.append(("--owner", f"changed to {owner_now or 'none'}"))
    due_now = row.due_on.isoformat() if row.due_on else ""
    if due and due_now != shown[1]:
        problems.append(("--due", f"changed to {due_now or 'no date'}"))
    if problems:
        since = " since the page was opened (by someone else, or in another tab): save again to "
        raise InvalidInput([(name, f"{now}{since}replace it") for name, now in problems])


@dataclass(frozen=True)
class LateStep:
    """A step that accepting now would put on the plan overdue at once: due before today."""

    key: str
    due_on: date
    today: date

    def late(self) -> str:
        """What makes it late, as every entry point says it."""
        return f"was due {self.due_on.isoformat()}, before today ({self.today.isoformat()})"

    def why(self) -> str:
        """In the command line's words."""
        return (
            f"{self.late()}: give it a new due date, or none, first "
            f"(plan edit {self.key} --due YYYY-MM-DD, or --no-due)"
        )


class PastItsDate(InvalidInput):
    """Accepting refused over a step it would put on the plan overdue at once (``late``), the
    facts each entry point words in its own terms. Its problems are the command line's words
    (the step's key, ``plan edit``'s flags)."""

    def __init__(self, late: Sequence[LateStep]) -> None:
        self.late = tuple(late)
        super().__init__([(step.key, step.why()) for step in self.late])


def late_once_accepted(uow: UnitOfWork, plan: Plan, rows: Sequence[PlanItem]) -> list[LateStep]:
    """Each step of ``rows`` that accepting now would put on the plan overdue at once. A step
    keeps its due date from version to version, so one agreed for a situation that has passed
    comes back, suggested again, with a date that may have gone by: staff give it a new one, or
    none, as for a step they add, rather than accept it late."""
    if not rows:
        return []
    case = uow.session.get_one(Case, plan.case_id)
    today = agency_today(uow, case.agency_id)
    done = done_as_of(uow, case.id, uow.now())
    return [
        LateStep(opaque.shown_key(uow, row), row.due_on, today)
        for row in rows
        if row.state not in ON_THE_PLAN
        and row.due_on is not None
        and overdue(row.section, ItemState.ACCEPTED, row.due_on, today, key_of(plan, row) in done)
    ]


def _check_step(uow: UnitOfWork, case: Case, owner: StepOwner | None, due_on: date | None) -> None:
    problems = []
    if owner is None:
        owners = ", ".join(o.value for o in StepOwner)
        problems.append(("--owner", f"a step needs an owner: one of {owners}"))
    today = agency_today(uow, case.agency_id)
    latest = today + MAX_STEP_AHEAD
    if due_on is not None and not today <= due_on <= latest:
        problems.append(("--due", f"must be from today ({today.isoformat()}) to {latest}"))
    if problems:
        raise InvalidInput(problems)


def _check_not_step(owner: StepOwner | None, due_on: date | None) -> None:
    """A risk or a strategy has neither owner nor due date: refused rather than dropped unseen."""
    given = (("--owner", "an owner", owner), ("--due", "a due date", due_on))
    problems = [(field, f"only steps have {what}") for field, what, value in given if value]
    if problems:
        raise InvalidInput(problems)


@dataclass(frozen=True)
class Undecided:
    """What staff chose for the suggestions nobody decided on when they finalise: accept the
    rest, leave named ones (or the rest) out, or neither (then finalising is refused)."""

    accept_rest: bool = False
    leave_out: tuple[str, ...] = ()
    leave_out_rest: bool = False


@dataclass(frozen=True)
class Settled:
    accepted: tuple[str, ...]
    left_out: tuple[str, ...]


def finalize(
    uow: UnitOfWork, actor: Actor | None, case: Case, choice: Undecided = Undecided()
) -> Plan:
    """Freeze the latest draft once every suggestion is decided (see ``settle_undecided``)."""
    plan = draft_of(uow, case)
    settle_undecided(uow, plan, choice)
    plan.status = PlanStatus.FINAL
    plan.finalized_at = uow.now()
    plan.finalized_by_id = actor.staff_id if actor else None
    milestones.note(uow, case, uow.session.get_one(Assessment, plan.assessment_id), plan)
    freeze_people(uow, plan)
    events.record(uow, case.id, events.PLAN_FINALIZED, plan.id, version=plan.version_number)
    uow.session.flush()
    return plan


def undecided_keys(uow: UnitOfWork, plan: Plan) -> list[str]:
    return [
        opaque.shown_key(uow, row)
        for row in plan_items(uow, plan)
        if row.state == ItemState.SUGGESTED
    ]


def settle_undecided(uow: UnitOfWork, plan: Plan, choice: Undecided) -> Settled:
    """Apply staff's choice to the draft's undecided suggestions; nothing is dropped silently.
    A suggestion left out is not a staff rejection, so the next version suggests it again. The
    emergency protocol and the emergency number cannot be left out. Refused (``Unsettled``) when
    an item named to leave out cannot be, when some stay undecided, or when a step the rest
    accepts has gone past its due date (``late_once_accepted``)."""
    if choice.accept_rest and choice.leave_out_rest:
        raise InvalidInput([("--accept-rest", "choose either --accept-rest or --leave-out-rest")])
    rows = {opaque.shown_key(uow, row): row for row in plan_items(uow, plan)}
    named = {
        opaque.shown_key(uow, row): row
        for row in (find_item(uow, plan, ref) for ref in choice.leave_out)
    }
    kept = [
        (key, "the emergency protocol cannot be left out")
        for key, row in named.items()
        if _required(uow, row)
    ]
    kept += [
        (key, f"already {row.state}; only undecided items can be left out")
        for key, row in named.items()
        if row.state != ItemState.SUGGESTED and not _required(uow, row)
    ]
    if kept:
        raise Unsettled(kept=kept)
    left = set(named)
    rest = [k for k, row in rows.items() if row.state == ItemState.SUGGESTED and k not in left]
    if rest and not (choice.accept_rest or choice.leave_out_rest):
        raise Unsettled(undecided=rest)
    accepted = rest if choice.accept_rest else []
    if late := late_once_accepted(uow, plan, [rows[key] for key in accepted]):
        raise Unsettled(late=late)
    left_out = sorted(left) + ([] if choice.accept_rest else rest)
    for key in accepted:
        rows[key].state = ItemState.ACCEPTED
    for key in left_out:
        uow.session.delete(rows[key])
    uow.session.flush()
    return Settled(tuple(accepted), tuple(left_out))


class Unsettled(InvalidInput):
    """Finalising refused over the draft's undecided suggestions, with the facts each entry
    point words in its own terms: ``kept``, the items named to leave out that cannot be, each
    with why (in no command's terms); ``undecided``, the keys nobody decided on that the choice
    settled neither way; or ``late``, the steps accepting the rest would put on the plan overdue
    at once. Its problems are the command line's words (its flags, the items' keys)."""

    def __init__(
        self,
        undecided: Sequence[str] = (),
        late: Sequence[LateStep] = (),
        kept: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.undecided = tuple(undecided)
        self.late = tuple(late)
        self.kept = tuple(kept)
        problems = [("--leave-out", f"{key}: {why}") for key, why in self.kept]
        problems += [(key, "undecided") for key in self.undecided]
        problems += [("choice", UNDECIDED_HELP)] if self.undecided else []
        problems += [
            (step.key, f"{step.why()}, or leave it out (--leave-out {step.key})")
            for step in self.late
        ]
        super().__init__(problems, code="undecided_items" if self.undecided else None)


UNDECIDED_HELP = (
    "decide them (plan accept/reject), or finalize with --accept-rest, "
    "--leave-out KEY... or --leave-out-rest"
)


def set_youth_copy(
    uow: UnitOfWork, case: Case, *, title: str | None, hide_hotlines: bool | None
) -> Plan:
    """The youth's own title for their copy ("" for the neutral default) and whether it lists
    hotlines (not when the youth's phone may be monitored); carried into later versions."""
    plan = draft_of(uow, case)
    if title is not None:
        uow.seal(plan, "youth_title", title or None)
    if hide_hotlines is not None:
        plan.hide_hotlines = hide_hotlines
    _touch(uow, plan)
    return plan


def _touch(uow: UnitOfWork, plan: Plan) -> None:
    """Bump the plan's version column: a concurrent finalize and edit cannot both commit."""
    flag_modified(plan, "status")
    uow.session.flush()
