"""The view model of "what changed" between two plan versions, for a planning meeting (staff).

Built from ``harbour.domain.plan_diff.PlanDiff``: items added, removed and changed by section, in staff
wording, and the change in risk level.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from harbour.documents.common import clean, local

if TYPE_CHECKING:
    from harbour.domain.plan_diff import ItemChange, PlanDiff, SectionDiff
    from harbour.domain.plan_view import PlanItemView

LABELLED = frozenset({"state", "owner"})  # values the template translates through the catalogue


@dataclass(frozen=True)
class FieldChange:
    field: str  # staff_text, youth_text, state, owner, due_on, done_at
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ChangedItem:
    text: str
    fields: tuple[FieldChange, ...]


@dataclass(frozen=True)
class DiffSection:
    section: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[ChangedItem, ...]


@dataclass(frozen=True)
class DiffView:
    reference: str
    old_version: int
    new_version: int
    risk_before: str | None
    risk_after: str | None
    risk_changed: bool
    sections: tuple[DiffSection, ...]


def diff_view(diff: PlanDiff, timezone: str) -> DiffView:
    return DiffView(
        reference=diff.case_reference,
        old_version=diff.from_version,
        new_version=diff.to_version,
        risk_before=diff.risk_before,
        risk_after=diff.risk_after,
        risk_changed=diff.risk_changed,
        sections=tuple(_section(s, timezone) for s in diff.sections),
    )


def _section(section: SectionDiff, timezone: str) -> DiffSection:
    return DiffSection(
        section=str(section.section),
        added=tuple(_text(item) for item in section.added),
        removed=tuple(_text(item) for item in section.removed),
        changed=tuple(_changed(change, timezone) for change in section.changed),
    )


def _text(item: PlanItemView) -> str:
    return clean(item.staff_text)


def _changed(change: ItemChange, timezone: str) -> ChangedItem:
    fields = tuple(
        FieldChange(
            name,
            _value(getattr(change.before, name), timezone),
            _value(getattr(change.after, name), timezone),
        )
        for name in change.fields
    )
    return ChangedItem(_text(change.after), fields)


def _value(value: object, timezone: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return local(value, timezone)
    if isinstance(value, date):
        return value.isoformat()
    return clean(str(value))
