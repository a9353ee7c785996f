"""Helpers every view model uses: clean text, dates as the plan's own zone shows them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from harbour.domain.plan_view import ContactView, PlanItemView, PlanSnapshot, ResourceView
from harbour.domain.vocab import ItemState

AGREED = frozenset({ItemState.ACCEPTED, ItemState.ADDED})  # what the youth and family agreed to
EMERGENCY_FALLBACK = ResourceView("emergency", "Emergency", "911", None, True)
_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")  # whitespace and every control character (Cc)


def clean(text: str) -> str:
    """One line of text: control characters and line breaks become single spaces."""
    if text.isprintable() and "  " not in text:  # nothing to replace: no line break, no
        return text.strip()  # control character, no other space than single ASCII ones
    return _SPACE.sub(" ", text).strip()


def maybe(text: str | None) -> str | None:
    cleaned = clean(text) if text else ""
    return cleaned or None


def iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def local(moment: datetime | None, zone: str) -> str | None:
    """``2026-03-02 09:00`` in the plan's zone (aware UTC in, no seconds out)."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") if moment else None


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


@dataclass(frozen=True)
class Edition:
    """Which version a copy handed over is, and of when (finalised, else composed, as the
    plan's zone has the day): a copy kept for weeks can be told from a newer one."""

    version: int
    day: str


def edition(plan: PlanSnapshot) -> Edition:
    day = local_day(plan.finalized_at or plan.created_at, plan.timezone)
    return Edition(plan.version_number, day.isoformat())


def agreed(items: Iterable[PlanItemView]) -> list[PlanItemView]:
    return [item for item in items if item.state in AGREED]


def emergency_resource(snapshot: PlanSnapshot) -> ResourceView:
    """911 is always on every copy: the plan's emergency resource, or the built-in one."""
    return next((r for r in snapshot.resources if r.emergency), EMERGENCY_FALLBACK)


@dataclass(frozen=True)
class Contact:
    name: str
    relationship: str | None
    phone: str | None
    kind: str  # a PersonKind value


@dataclass(frozen=True)
class Resource:
    name: str
    call: str | None
    text: str | None
    emergency: bool


def contact_line(contact: ContactView) -> Contact:
    return Contact(
        clean(contact.name), maybe(contact.relationship), maybe(contact.phone), contact.kind
    )


def resource_line(resource: ResourceView, *, discreet: bool = False) -> Resource:
    """A resource as a document lists it; ``discreet`` (the youth's copy) uses its neutral label."""
    name = (resource.youth_name if discreet else None) or resource.name
    return Resource(clean(name), maybe(resource.call), maybe(resource.text), resource.emergency)
