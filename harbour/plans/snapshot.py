"""A stored plan version read back as a ``PlanSnapshot``: wording looked up, identifying text unsealed.

Catalogue items take their wording from the catalogue by code (public text); risks from the
assessment's stored reasons; items staff wrote from their sealed text.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from typing import TypeVar

from sqlalchemy import select

from harbour.access import agency_zone
from harbour.app import UnitOfWork
from harbour.db.models import Agency, Assessment, Case, Person, Plan, PlanItem, ThreatSource
from harbour.domain.catalogue import Catalogue
from harbour.domain.composition import RESOURCE_PREFIX, contact_flag, may_be_contact
from harbour.domain.plan_view import (
    ContactView,
    PlanItemView,
    PlanSnapshot,
    ResourceView,
    ThreatView,
)
from harbour.domain.vocab import (
    ContactFlag,
    ItemState,
    Phase,
    PlanSection,
    PlanStatus,
    StepOwner,
    ThreatKind,
)
from harbour.plans.opaque import detail, is_padding, shown_code, shown_key
from harbour.plans.progress import Done, document_moment, done_as_of, key_of

T = TypeVar("T", Case, Agency)


SECTION_ORDER = {section.value: number for number, section in enumerate(PlanSection)}


def plan_items(uow: UnitOfWork, plan: Plan) -> list[PlanItem]:
    """A version's items in plan order: by section, then as added, so an item staff add later
    to a section is listed with that section, not at the end. The risks section's placeholders
    (``harbour.plans.opaque``) are left out: they are no item."""
    return [row for _, row in numbered_items(uow, plan)]


def numbered_items(uow: UnitOfWork, plan: Plan) -> list[tuple[int, PlanItem]]:
    """``plan_items`` with the numbers ``plan show`` gives them and ``plan accept N`` takes:
    counted in the order the items were added, placeholders left out, so a number stays with its
    item while the draft is worked on: an item added takes the number after the newest the
    version ever had (``Plan.next_position``), and withdrawing one moves no other's."""
    rows = uow.session.scalars(
        select(PlanItem).where(PlanItem.plan_id == plan.id).order_by(PlanItem.position)
    )
    numbered, placeholders = [], 0
    for row in rows:
        if is_padding(uow, row):
            placeholders += 1
        else:
            numbered.append((row.position + 1 - placeholders, row))
    return sorted(numbered, key=lambda pair: SECTION_ORDER.get(pair[1].section, len(SECTION_ORDER)))


def snapshot(uow: UnitOfWork, plan: Plan, *, progress_now: bool = False) -> PlanSnapshot:
    """One plan version, as documents and diffs read it: its frozen content and the progress on
    its steps as of the version's moment (``progress_now``: as it stands now, for ``plan show``).
    An open draft's moment is now: its content is read as it stands, and so is its progress (an
    emergency step recorded while the draft is worked on is done on the copy printed then)."""
    case = _get(uow, Case, plan.case_id)
    agency = _get(uow, Agency, case.agency_id)
    assessment = uow.session.get(Assessment, plan.assessment_id) if plan.assessment_id else None
    catalogue = uow.reference.catalogue
    reasons = tuple((str(r["code"]), str(r["text"])) for r in stored_reasons(uow, assessment))
    numbered = numbered_items(uow, plan)
    rows = [row for _, row in numbered]
    frozen = _frozen_people(uow, plan)
    people = frozen or _live_people(uow, case, rows)
    live = progress_now or plan.status == PlanStatus.DRAFT
    done = done_as_of(uow, case.id, uow.now() if live else document_moment(plan))
    return PlanSnapshot(
        case_reference=case.reference,
        version_number=plan.version_number,
        status=plan.status,
        point=plan.point,
        risk_level=plan.risk_level,
        computed_level=assessment.computed_level if assessment else plan.risk_level,
        created_at=plan.created_at,
        finalized_at=plan.finalized_at,
        next_due_at=plan.next_due_at,  # as when the version was composed, not the case's now
        items=tuple(
            _item(
                uow,
                plan,
                row,
                catalogue,
                dict(reasons),
                done.get(key_of(plan, row)),
                number,
                _flag(uow, row, frozen),
            )
            for number, row in numbered
        ),
        reasons=reasons,
        threats=people.threats,
        contacts=people.contacts,
        resources=_resources(rows, catalogue),
        youth_title=uow.unseal(plan, "youth_title"),
        hide_hotlines=plan.hide_hotlines,
        timezone=agency_zone(uow, case.agency_id).key,
        extra={"agency_name": agency.name},
    )


def _get(uow: UnitOfWork, model: type[T], row_id: str) -> T:
    row = uow.session.get(model, row_id)
    assert row is not None, "plans belong to a case of an agency"
    return row


def stored_reasons(uow: UnitOfWork, assessment: Assessment | None) -> list[dict[str, str]]:
    """The rules that raised the assessment's level, unsealed: [{code, level, text}]."""
    found = uow.unseal(assessment, "reasons") if assessment is not None else None
    return [r for r in json.loads(found) if isinstance(r, dict)] if found else []


def _item(
    uow: UnitOfWork,
    plan: Plan,
    row: PlanItem,
    catalogue: Catalogue,
    reasons: dict[str, str],
    done: Done | None,
    number: int,
    flag: ContactFlag | None,
) -> PlanItemView:
    staff, youth = _wording(uow, row, catalogue, reasons, hide_hotlines=plan.hide_hotlines)
    found = detail(uow, row)
    return PlanItemView(
        key=shown_key(uow, row),
        section=PlanSection(row.section),
        staff_text=staff,
        youth_text=youth,
        state=ItemState(row.state),
        phase=Phase(found.phase) if found.phase and row.section == PlanSection.STRATEGIES else None,
        code=found.code,
        owner=StepOwner(found.owner) if found.owner else None,
        due_on=row.due_on,
        done_at=done.at if done else None,
        written=row.text_sealed is not None,
        number=number,
        contact_flag=flag,
    )


def _flag(uow: UnitOfWork, row: PlanItem, frozen: People | None) -> ContactFlag | None:
    """``composition.contact_flag`` of a contact item (not rejected) whose person, as they
    stand now, may no longer be a contact: asked now even of a final version, whose copies list
    the contacts it was finalised with (``frozen``), so that staff are told it still lists them.
    A draft's copies are made as it stands: they list no such person."""
    if row.section != PlanSection.CONTACTS or row.state == ItemState.REJECTED:
        return None
    person = uow.session.get(Person, row.person_id) if row.person_id else None
    if person is None:
        return None
    return contact_flag(
        person.kind,
        approved_by_youth=person.approved_by_youth,
        non_offending=person.non_offending,
        listed=frozen is not None and person.id in frozen.listed,
    )


def _wording(
    uow: UnitOfWork,
    row: PlanItem,
    catalogue: Catalogue,
    reasons: dict[str, str],
    *,
    hide_hotlines: bool,
) -> tuple[str, str]:
    """(staff wording, youth wording); the code itself if the catalogue no longer has it. The
    youth wording of a version whose youth copy leaves the hotlines out names none."""
    written = uow.unseal(row, "text")
    if written is not None:
        return written, written
    code = shown_code(uow, row) or row.key
    section = PlanSection(row.section)
    if section == PlanSection.RISKS:
        text = reasons.get(code, code)
        return text, text
    if section == PlanSection.EMERGENCY and code in catalogue.emergency_protocol:
        step = catalogue.emergency_protocol[code]
        return step.staff_text, step.youth_text
    if section == PlanSection.CONTACTS:
        return _contact_name(uow, row), _contact_name(uow, row)
    if section == PlanSection.RESOURCES:
        resource = catalogue.resource(code)
        return (resource.name, resource.name) if resource else (code, code)
    strategy = catalogue.strategies.get(code)
    if strategy is None:
        return code, code
    if section == PlanSection.STEPS and strategy.step is not None:
        return strategy.step.staff_text, strategy.step.youth_text
    return strategy.staff_text, strategy.youth_wording(hide_hotlines=hide_hotlines)


def _contact_name(uow: UnitOfWork, row: PlanItem) -> str:
    person = uow.session.get(Person, row.person_id) if row.person_id else None
    return (uow.unseal(person, "name") if person else None) or "contact"


@dataclass(frozen=True)
class People:
    threats: tuple[ThreatView, ...]
    contacts: tuple[ContactView, ...]
    listed: frozenset[str] = frozenset()  # the people ``contacts`` are


def freeze_people(uow: UnitOfWork, plan: Plan) -> None:
    """Keep a finalised version's threat sources and contacts as they are now: later edits of
    the case's people change the next version, never this one."""
    people = _live_people(uow, _get(uow, Case, plan.case_id), plan_items(uow, plan))
    data = {
        "threats": [
            {**asdict(t), "protective_order_expires_on": _iso(t.protective_order_expires_on)}
            for t in people.threats
        ],
        "contacts": [asdict(c) for c in people.contacts],
        "contact_people": sorted(people.listed),
    }
    uow.seal(plan, "people", json.dumps(data, sort_keys=True))


def _frozen_people(uow: UnitOfWork, plan: Plan) -> People | None:
    raw = uow.unseal(plan, "people")
    if raw is None:
        return None
    data = json.loads(raw)
    threats = tuple(
        ThreatView(
            kind=ThreatKind(t["kind"]),
            name=t["name"],
            protective_order=t["protective_order"],
            protective_order_expires_on=(
                date.fromisoformat(t["protective_order_expires_on"])
                if t["protective_order_expires_on"]
                else None
            ),
        )
        for t in data["threats"]
    )
    listed = frozenset(data.get("contact_people", ()))
    return People(threats, tuple(ContactView(**c) for c in data["contacts"]), listed)


def _live_people(uow: UnitOfWork, case: Case, rows: list[PlanItem]) -> People:
    contacts = _contacts(uow, rows)
    return People(
        _threats(uow, case),
        tuple(view for _, view in contacts),
        frozenset(person for person, _ in contacts),
    )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _threats(uow: UnitOfWork, case: Case) -> tuple[ThreatView, ...]:
    rows = uow.session.scalars(
        select(ThreatSource).where(ThreatSource.case_id == case.id).order_by(ThreatSource.position)
    )
    return tuple(
        ThreatView(
            kind=ThreatKind(t.kind),
            name=uow.unseal(t, "name"),
            protective_order=t.protective_order,
            protective_order_expires_on=t.protective_order_expires_on,
        )
        for t in rows
    )


def _contacts(uow: UnitOfWork, rows: list[PlanItem]) -> list[tuple[str, ContactView]]:
    """The people of the version's contact items (not rejected) who may be contacts now, each
    with the id of their person."""
    chosen = [
        r.person_id
        for r in rows
        if r.section == PlanSection.CONTACTS and r.state != ItemState.REJECTED and r.person_id
    ]
    people = [uow.session.get(Person, pid) for pid in chosen]
    return [
        (
            p.id,
            ContactView(
                name=uow.unseal(p, "name") or "",
                relationship=uow.unseal(p, "relationship"),
                phone=uow.unseal(p, "phone"),
                kind=p.kind,
            ),
        )
        for p in people
        if p is not None and may_be_contact_now(p)
    ]


def may_be_contact_now(person: Person) -> bool:
    """``composition.may_be_contact`` of the person as they stand now."""
    return may_be_contact(
        person.kind, approved_by_youth=person.approved_by_youth, non_offending=person.non_offending
    )


def _resources(rows: list[PlanItem], catalogue: Catalogue) -> tuple[ResourceView, ...]:
    codes = [
        r.code or r.key.removeprefix(RESOURCE_PREFIX)
        for r in rows
        if r.section == PlanSection.RESOURCES and r.state != ItemState.REJECTED
    ]
    found = [catalogue.resource(code) for code in codes]
    return tuple(
        ResourceView(r.code, r.name, r.call, r.text, r.emergency, youth_name=r.youth_name)
        for r in found
        if r is not None
    )


def as_json(view: PlanSnapshot) -> dict[str, object]:
    """The snapshot as JSON-ready data, for ``plan show --json``."""
    from dataclasses import asdict

    return json.loads(json.dumps(asdict(view), default=str))  # type: ignore[no-any-return]
