"""The staff copy's view model: the whole plan, for agency staff only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

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


@dataclass(frozen=True)
class StaffItem:
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
    resource_items: tuple[StaffItem, ...]
    resources: tuple[Resource, ...]


def staff_view(plan: PlanSnapshot) -> StaffView:
    as_of = local_day(plan.finalized_at or plan.created_at, plan.timezone)
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
        emergency=_items(plan, PlanSection.EMERGENCY),
        reasons=tuple(clean(text) for _code, text in plan.reasons),
        risks=tuple(staff_item(plan, i) for i in _unexplained_risks(plan)),
        threats=tuple(_threat(threat, as_of) for threat in plan.threats),
        strategies=_by_phase(plan),
        steps=_items(plan, PlanSection.STEPS),
        contact_items=_written(plan, PlanSection.CONTACTS),
        contacts=tuple(contact_line(contact) for contact in plan.contacts),
        resource_items=_written(plan, PlanSection.RESOURCES),
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


def _items(plan: PlanSnapshot, section: PlanSection) -> tuple[StaffItem, ...]:
    return tuple(staff_item(plan, item) for item in plan.section(section))


def _unexplained_risks(plan: PlanSnapshot) -> list[PlanItemView]:
    """Risk items other than the assessment's reasons, which the copy already lists."""
    reasons = {code for code, _text in plan.reasons}
    return [i for i in plan.section(PlanSection.RISKS) if i.code is None or i.code not in reasons]


def _written(plan: PlanSnapshot, section: PlanSection) -> tuple[StaffItem, ...]:
    """Items staff wrote; the section's people and resources are listed from the plan itself."""
    return tuple(staff_item(plan, i) for i in plan.section(section) if i.state == ItemState.ADDED)


def _by_phase(plan: PlanSnapshot) -> tuple[PhaseGroup, ...]:
    strategies = plan.section(PlanSection.STRATEGIES)
    groups = [
        PhaseGroup(str(phase), tuple(staff_item(plan, i) for i in strategies if i.phase == phase))
        for phase in Phase
    ]
    other = tuple(staff_item(plan, i) for i in strategies if i.phase is None)
    return tuple(g for g in [*groups, PhaseGroup("other", other)] if g.items)


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
