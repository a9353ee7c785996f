"""What changed between two plan versions: items added, removed and changed, by section.

Items are matched by their stable key (a catalogue or rule code, or the id of an item staff added).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from harbour.domain.plan_view import PlanItemView, PlanSnapshot
from harbour.domain.vocab import PlanSection

COMPARED = ("state", "staff_text", "youth_text", "owner", "due_on", "done_at")


@dataclass(frozen=True)
class ItemChange:
    before: PlanItemView
    after: PlanItemView
    fields: tuple[str, ...]  # which of COMPARED differ


@dataclass(frozen=True)
class SectionDiff:
    section: PlanSection
    added: tuple[PlanItemView, ...]
    removed: tuple[PlanItemView, ...]
    changed: tuple[ItemChange, ...]


@dataclass(frozen=True)
class PlanDiff:
    case_reference: str
    from_version: int
    to_version: int
    risk_before: str | None
    risk_after: str | None
    sections: tuple[SectionDiff, ...]  # only sections with a change, in plan order
    timezone: str  # the case's agency's, for showing times (emergency steps done)

    @property
    def risk_changed(self) -> bool:
        return self.risk_before != self.risk_after

    @property
    def empty(self) -> bool:
        return not self.sections and not self.risk_changed

    def as_json(self) -> dict[str, Any]:
        return {
            "case": self.case_reference,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "risk_level": {"before": self.risk_before, "after": self.risk_after},
            "sections": [
                {
                    "section": s.section.value,
                    "added": [_item_json(i) for i in s.added],
                    "removed": [_item_json(i) for i in s.removed],
                    "changed": [_change_json(c) for c in s.changed],
                }
                for s in self.sections
            ],
        }


def diff(old: PlanSnapshot, new: PlanSnapshot) -> PlanDiff:
    """The changes from ``old`` to ``new`` (normally an earlier and a later version)."""
    sections = tuple(
        d for section in PlanSection if not _empty(d := _section_diff(old, new, section))
    )
    return PlanDiff(
        old.case_reference,
        old.version_number,
        new.version_number,
        old.risk_level,
        new.risk_level,
        sections,
        new.timezone,
    )


def _section_diff(old: PlanSnapshot, new: PlanSnapshot, section: PlanSection) -> SectionDiff:
    before = {i.key: i for i in old.items if i.section == section}
    after = {i.key: i for i in new.items if i.section == section}
    changed = []
    for key in before.keys() & after.keys():
        fields = tuple(f for f in COMPARED if getattr(before[key], f) != getattr(after[key], f))
        if fields:
            changed.append(ItemChange(before[key], after[key], fields))
    return SectionDiff(
        section,
        added=tuple(i for k, i in after.items() if k not in before),
        removed=tuple(i for k, i in before.items() if k not in after),
        changed=tuple(sorted(changed, key=lambda c: [i.key for i in new.items].index(c.after.key))),
    )


def _empty(d: SectionDiff) -> bool:
    return not (d.added or d.removed or d.changed)


def _item_json(item: PlanItemView) -> dict[str, Any]:
    return {
        "key": item.key,
        "text": item.staff_text,
        "state": item.state.value,
        "owner": item.owner.value if item.owner else None,
        "due_on": item.due_on.isoformat() if item.due_on else None,
    }


def _change_json(change: ItemChange) -> dict[str, Any]:
    return {
        "key": change.after.key,
        "text": change.after.staff_text,
        "fields": list(change.fields),
        "before": {f: _plain(getattr(change.before, f)) for f in change.fields},
        "after": {f: _plain(getattr(change.after, f)) for f in change.fields},
    }


def _plain(value: object) -> object:
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, str):
        return str(value)  # enums to their plain value
    return value.isoformat() if isinstance(value, date | datetime) else str(value)
