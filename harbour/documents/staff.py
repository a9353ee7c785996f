"""The staff copy's view model: the whole plan, for agency staff only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from harbour.documents.common import (
    Contact,
    Resource,
    clean,
    contact_line,
    iso,
    local,
    local_day,
    maybe,
    resource_line,
)
from harbour.domain.plan_view import PlanItemView, PlanSnapshot, ThreatView
from harbour.domain.vocab import ItemState, Phase, PlanSection

EXPIRY_WARNING = timedelta(days=30)


class StaffItem(NamedTuple):  # immutable; built per item per copy: half a dataclass's cost
    text: str
    state: str
    owner: str | None
    due: str | None
    done: bool
    done_at: str | None


@dataclass(frozen=True)
class PhaseGroup:
    phase: str  # a Phase value, or "other"
    items: tuple[StaffItem, ...]


@dataclass(frozen=True)
class ThreatLine:
    kind: str
    name: str | None
    protective_order: bool
    expires: str | None
    expiry_flag: str | None  # "expired", "expires_soon" or None, as of the plan's date


@dataclass(frozen=True)
class NoLonger:
    """A contact item whose person may no longer be a contact: named as the item is, with
    what that means for this version's copies (a ``ContactFlag`` value)."""

    name: str
    flag: str


@dataclass(frozen=True)
class StaffView:
    reference: str
    agency: str | None
    version: int
    status: str
    point: str | None
    risk_level: str | None
    computed_level: str | None
    overridden: bool
    created: str
    finalized: str | None
    next_due: str | None
    timezone: str
    youth_title: str | None
    hide_hotlines: bool
    emergency: tuple[StaffItem, ...]
    reasons: tuple[str, ...]
    risks: tuple[StaffItem, ...]
    threats: tuple[ThreatLine, ...]
    strategies: tuple[PhaseGroup, ...]
    steps: tuple[StaffItem, ...]
    contact_items: tuple[StaffItem, ...]
    contacts: tuple[Contact, ...]
    no_longer: tuple[NoLonger, ...]
    resource_items: tuple[StaffItem, ...]
    resources: tuple[Resource, ...]


def staff_view(plan: PlanSnapshot) -> StaffView:
    as_of = local_day(plan.finalized_at or plan.created_at, plan.timezone)
    sections = _by_section(plan)
    return StaffView(
        reference=plan.case_reference,
        agency=maybe(plan.extra.get("agency_name")),
        version=plan.version_number,
        status=plan.status,
        point=plan.point,
        risk_level=plan.risk_level,
        computed_level=plan.computed_level,
        overridden=plan.risk_level != plan.computed_level and plan.computed_level is not None,
        created=local(plan.created_at, plan.timezone) or "",
        finalized=local(plan.finalized_at, plan.timezone),
        next_due=local(plan.next_due_at, plan.timezone),
        timezone=plan.timezone,
        youth_title=maybe(plan.youth_title),
        hide_hotlines=plan.hide_hotlines,
        emergency=_items(plan, sections[PlanSection.EMERGENCY]),
        reasons=tuple(clean(text) for _code, text in plan.reasons),
        risks=_items(plan, _unexplained_risks(plan, sections[PlanSection.RISKS])),
        threats=tuple(_threat(threat, as_of) for threat in plan.threats),
        strategies=_by_phase(plan, sections[PlanSection.STRATEGIES]),
        steps=_items(plan, sections[PlanSection.STEPS]),
        contact_items=_written(plan, sections[PlanSection.CONTACTS]),
        contacts=tuple(contact_line(contact) for contact in plan.contacts),
        no_longer=tuple(
            NoLonger(clean(i.staff_text), str(i.contact_flag))
            for i in sections[PlanSection.CONTACTS]
            if i.contact_flag is not None
        ),
        resource_items=_written(plan, sections[PlanSection.RESOURCES]),
        resources=tuple(resource_line(resource) for resource in plan.resources),
    )


def staff_item(plan: PlanSnapshot, item: PlanItemView) -> StaffItem:
    return StaffItem(
        text=clean(item.staff_text),
        state=str(item.state),
        owner=str(item.owner) if item.owner else None,
        due=iso(item.due_on),
        done=item.done_at is not None,
        done_at=local(item.done_at, plan.timezone),
    )


def _by_section(plan: PlanSnapshot) -> dict[PlanSection, list[PlanItemView]]:
    """The plan's items but the rejected, by section in their order: one pass over the items
    (``plan.section`` for each section would be one pass each)."""
    sections: dict[PlanSection, list[PlanItemView]] = {section: [] for section in PlanSection}
    for item in plan.items:
        if item.state != ItemState.REJECTED:
            sections[item.section].append(item)
    return sections


def _items(plan: PlanSnapshot, items: list[PlanItemView]) -> tuple[StaffItem, ...]:
    return tuple(staff_item(plan, item) for item in items)


def _unexplained_risks(plan: PlanSnapshot, risks: list[PlanItemView]) -> list[PlanItemView]:
    """Risk items other than the assessment's reasons, which the copy already lists."""
    reasons = {code for code, _text in plan.reasons}
    return [i for i in risks if i.code is None or i.code not in reasons]


def _written(plan: PlanSnapshot, items: list[PlanItemView]) -> tuple[StaffItem, ...]:
    """Items staff wrote; the section's people and resources are listed from the plan itself."""
    return tuple(staff_item(plan, i) for i in items if i.state == ItemState.ADDED)


def _by_phase(plan: PlanSnapshot, strategies: list[PlanItemView]) -> tuple[PhaseGroup, ...]:
    """The strategies by phase, in the phases' order, those of none last ("other")."""
    phases: dict[Phase | None, list[StaffItem]] = {phase: [] for phase in (*Phase, None)}
    for item in strategies:
        phases[item.phase].append(staff_item(plan, item))
    groups = [PhaseGroup(str(phase or "other"), tuple(items)) for phase, items in phases.items()]
    return tuple(g for g in groups if g.items)


def _threat(threat: ThreatView, as_of: date) -> ThreatLine:
    expires = threat.protective_order_expires_on
    flag = None
    if threat.protective_order and expires is not None:
        flag = (
            "expired"
            if expires < as_of
            else "expires_soon"
            if expires <= as_of + EXPIRY_WARNING
            else None
        )
    return ThreatLine(
        str(threat.kind), maybe(threat.name), threat.protective_order, iso(expires), flag
    )
