"""A plan version as the rest of Harbour reads it: plain frozen values, identifying text unsealed.

Built by ``harbour.plans.snapshot.snapshot(uow, plan)``; consumed by documents (audience view models
decide what each reader may see) and by diffs. Nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from harbour.domain.vocab import ContactFlag, ItemState, Phase, PlanSection, StepOwner, ThreatKind

AUDIENCES = ("staff", "youth", "family")  # who a plan version is rendered for


@dataclass(frozen=True)
class PlanItemView:
    key: str  # stable across versions: a catalogue or rule code, or a generated id for added items
    section: PlanSection
    staff_text: str  # staff wording (catalogue) or the text staff wrote
    youth_text: str  # plain-language wording for the youth (same as staff_text for added items)
    state: ItemState
    phase: Phase | None = None  # strategies only
    code: str | None = None
    owner: StepOwner | None = None  # steps only
    due_on: date | None = None
    done_at: datetime | None = None  # steps: when recorded done (progress, not the version)
    written: bool = False  # staff wrote the text (identifying), not the catalogue
    number: int = 0  # what `plan show` numbers it and `plan accept N` takes (kept as it is added)
    # contacts: their person may no longer be a contact (``composition.contact_flag``); staff only
    contact_flag: ContactFlag | None = None


@dataclass(frozen=True)
class ThreatView:
    kind: ThreatKind
    name: str | None  # identifying: staff copy only
    protective_order: bool
    protective_order_expires_on: date | None


@dataclass(frozen=True)
class ContactView:
    """A person the youth approved as a contact, or a non-offending family member/caretaker."""

    name: str  # identifying
    relationship: str | None
    phone: str | None
    kind: str  # PersonKind value


@dataclass(frozen=True)
class ResourceView:
    code: str
    name: str
    call: str | None
    text: str | None
    emergency: bool  # 911: always shown, even when hotlines are hidden
    youth_name: str | None = None  # the discreet label on the youth's copy


@dataclass(frozen=True)
class PlanSnapshot:
    case_reference: str
    version_number: int
    status: str  # PlanStatus value
    point: str | None  # AssessmentPoint value
    risk_level: str | None  # effective level (override if any)
    computed_level: str | None
    created_at: datetime
    finalized_at: datetime | None
    next_due_at: datetime | None
    items: tuple[PlanItemView, ...]
    reasons: tuple[tuple[str, str], ...] = ()  # (rule code, staff wording)
    threats: tuple[ThreatView, ...] = ()
    contacts: tuple[ContactView, ...] = ()
    resources: tuple[ResourceView, ...] = ()
    youth_title: str | None = None  # identifying (the youth chose it)
    hide_hotlines: bool = False  # the youth's phone may be monitored
    timezone: str = "America/New_York"
    extra: dict[str, str] = field(default_factory=dict)

    def section(
        self, section: PlanSection, *, include_rejected: bool = False
    ) -> list[PlanItemView]:
        return [
            item
            for item in self.items
            if item.section == section and (include_rejected or item.state != ItemState.REJECTED)
        ]
