"""The youth copy's view model: discreet by default, and only what the youth agreed to.

Never here: the agency, threat sources, risk level or reasons, staff wording, the staff's
emergency protocol, other owners' steps, suggestions the youth did not accept. Everything is the
catalogue's plain-language ``youth_text``. Anything handed to the youth may be read by the
trafficker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

from harbour.documents.common import (
    Contact,
    Edition,
    Resource,
    agreed,
    clean,
    contact_line,
    edition,
    emergency_resource,
    iso,
    maybe,
    resource_line,
)
from harbour.domain.plan_view import PlanItemView, PlanSnapshot
from harbour.domain.vocab import PersonKind, Phase, PlanSection, StepOwner

# Agency and staff strategies protect staff; they are the agency's to carry out, not the youth's.
IDEA_PHASES = frozenset({Phase.CONTEMPLATING_LEAVING, Phase.AFTER_LEAVING, None})
CARD_LIMITS = {"emergency": 2, "steps": 3, "ideas": 3, "contacts": 4, "calm": 2, "resources": 6}
CARD_TEXT = 140  # characters of a card entry: three lines; every catalogue text fits
CARD_TITLE = 40


class Step(NamedTuple):
    """One entry of a copy: immutable like the views, and built for every agreed item of every
    copy rendered, where a tuple's construction costs half a frozen dataclass's. ``done``: a
    step recorded done as of the version (it reads done, not "by" a date gone by)."""

    text: str
    due: str | None
    done: bool = False


def entries(items: Iterable[PlanItemView], *, staff_wording: bool = False) -> tuple[Step, ...]:
    """A copy's entries of ``items``: those still to do first (a card cut to fit keeps them),
    then those done, each in plan order."""
    listed = [
        Step(
            clean(item.staff_text if staff_wording else item.youth_text),
            iso(item.due_on),
            item.done_at is not None,
        )
        for item in items
    ]
    return tuple(sorted(listed, key=lambda step: step.done))


@dataclass(frozen=True)
class YouthView:
    title: str | None  # the youth's own title; None prints the neutral default
    edition: Edition
    emergency_number: str
    emergency: tuple[Step, ...]
    steps: tuple[Step, ...]
    ideas: tuple[Step, ...]
    contacts: tuple[Contact, ...]
    calm: tuple[Step, ...]
    resources: tuple[Resource, ...]
    more: bool = False  # the wallet card left something out


def youth_view(plan: PlanSnapshot) -> YouthView:
    shelves: dict[str, list[PlanItemView]] = {"emergency": [], "steps": [], "ideas": [], "calm": []}
    for item in agreed(plan.items):  # one pass: each item goes on one shelf, or none
        shelf = _shelf(item)
        if shelf is not None:
            shelves[shelf].append(item)
    return YouthView(
        title=maybe(plan.youth_title),
        edition=edition(plan),
        emergency_number=emergency_resource(plan).call or "911",
        emergency=entries(shelves["emergency"]),
        steps=entries(shelves["steps"]),
        ideas=entries(shelves["ideas"]),
        contacts=tuple(contact_line(c) for c in plan.contacts if c.kind != PersonKind.YOUTH),
        calm=entries(shelves["calm"]),
        resources=tuple(
            resource_line(r, discreet=True)
            for r in plan.resources
            if not r.emergency and not plan.hide_hotlines
        ),
    )


def wallet_card(view: YouthView) -> YouthView:
    """The same view cut to what fits one printed page, with ``more`` set if anything was cut."""
    cut = {name: getattr(view, name)[:limit] for name, limit in CARD_LIMITS.items()}
    cut = {name: tuple(_short(entry) for entry in entries) for name, entries in cut.items()}
    more = any(len(cut[name]) < len(getattr(view, name)) for name in CARD_LIMITS)
    title = _clip(view.title, CARD_TITLE) if view.title else None
    return replace(view, **cut, title=title, more=more or view.more)


_OWN_SHELVES = {PlanSection.EMERGENCY: "emergency", PlanSection.STEPS: "steps"}


def _shelf(item: PlanItemView) -> str | None:
    """Where an agreed item goes on the youth's copy: the youth's own emergency steps and steps,
    and the strategies the youth carries out (staff-added ones have no owner) as ideas or as
    ways to calm down; None for anything else."""
    if item.section in _OWN_SHELVES:
        return _OWN_SHELVES[item.section] if item.owner == StepOwner.YOUTH else None
    if item.section != PlanSection.STRATEGIES or item.owner not in (StepOwner.YOUTH, None):
        return None
    if item.phase in IDEA_PHASES:
        return "ideas"
    return "calm" if item.phase == Phase.EMOTIONAL_REGULATION else None


def _short(entry: object) -> object:
    """A card entry: a step's text clipped to fit; the entry itself (immutable, so shared with
    the full copy) when nothing needs clipping, as for every catalogue text."""
    if isinstance(entry, Step) and len(entry.text) > CARD_TEXT:
        return entry._replace(text=_clip(entry.text, CARD_TEXT))
    return entry


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
