"""Every catalogue strategy, step and emergency step renders in each audience where it belongs."""

from __future__ import annotations

from datetime import date

import pytest
from markupsafe import escape

from harbour.domain.catalogue import Catalogue
from harbour.domain.plan_view import PlanItemView
from harbour.domain.vocab import ItemState, Phase, PlanSection, StepOwner
from harbour.reference import load_catalogue
from harbour.settings import Settings
from harbour.templating import markdown_escape
from tests.documents.fixtures import fixed_plan
from tests.documents.helpers import rendered

ESCAPE = {"html": lambda s: str(escape(s)), "md": markdown_escape, "text": str}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(Settings())


def catalogue_items(catalogue: Catalogue) -> tuple[PlanItemView, ...]:
    accepted = ItemState.ACCEPTED
    return (
        *(
            PlanItemView(
                e.code,
                PlanSection.EMERGENCY,
                e.staff_text,
                e.youth_text,
                accepted,
                code=e.code,
                owner=e.owner,
            )
            for e in catalogue.emergency_protocol.values()
        ),
        *(
            PlanItemView(
                s.code,
                PlanSection.STRATEGIES,
                s.staff_text,
                s.youth_text,
                accepted,
                phase=s.phase,
                code=s.code,
                owner=s.owner,
            )
            for s in catalogue.strategies.values()
        ),
        *(
            PlanItemView(
                f"step:{s.code}",
                PlanSection.STEPS,
                s.step.staff_text,
                s.step.youth_text,
                accepted,
                code=s.code,
                owner=s.owner,
                due_on=date(2026, 3, 9),
            )
            for s in catalogue.strategies.values()
            if s.step
        ),
    )


@pytest.mark.parametrize("fmt", ["html", "text", "md"])
def test_staff_copy_shows_every_item_in_staff_wording(catalogue: Catalogue, fmt: str) -> None:
    items = catalogue_items(catalogue)
    text = rendered(fixed_plan(items=items), "staff", fmt)
    missing = [i.key for i in items if ESCAPE[fmt](i.staff_text) not in text]
    assert not missing


def belongs_to_youth(item: PlanItemView) -> bool:
    if item.owner != StepOwner.YOUTH:
        return False
    return item.section == PlanSection.STEPS or item.phase != Phase.AGENCY_STAFF


@pytest.mark.parametrize("fmt", ["md"])  # the card (html) and phone note (text) hold a few only
def test_youth_copy_shows_the_youths_own_items_in_plain_words(
    catalogue: Catalogue, fmt: str
) -> None:
    items = catalogue_items(catalogue)
    text = rendered(fixed_plan(items=items), "youth", fmt)
    mine = [i for i in items if belongs_to_youth(i)]
    assert mine and not [i.key for i in mine if ESCAPE[fmt](i.youth_text) not in text]
    others = [
        i
        for i in items
        if not belongs_to_youth(i) and i.youth_text not in {m.youth_text for m in mine}
    ]
    assert not [i.key for i in others if ESCAPE[fmt](i.youth_text) in text]
    assert not [
        i.key for i in items if ESCAPE[fmt](i.staff_text) in text and i.staff_text != i.youth_text
    ]


@pytest.mark.parametrize("fmt", ["html", "text", "md"])
def test_family_copy_shows_what_the_family_owns(catalogue: Catalogue, fmt: str) -> None:
    items = catalogue_items(catalogue)
    text = rendered(fixed_plan(items=items), "family", fmt)
    family = [i for i in items if i.owner == StepOwner.FAMILY]
    assert family and not [i.key for i in family if ESCAPE[fmt](i.staff_text) not in text]
    assert not [
        i.key for i in items if i.owner != StepOwner.FAMILY and ESCAPE[fmt](i.staff_text) in text
    ]


def test_youth_card_shows_the_first_of_each_kind(catalogue: Catalogue) -> None:
    items = catalogue_items(catalogue)
    card = rendered(fixed_plan(items=items), "youth", "html")
    first_calm = next(i for i in items if i.phase == Phase.EMOTIONAL_REGULATION)
    assert str(escape(first_calm.youth_text))[:60] in card


def test_family_copy_of_the_real_catalogue_has_no_clinical_wording(catalogue: Catalogue) -> None:
    """The family copy prints the staff wording of what the family owns, and sits in a family
    home where someone complicit may read it: no word says what happened or who is feared."""
    from tests.documents.test_leaks import CLINICAL

    items = catalogue_items(catalogue)
    for fmt in ("html", "text", "md"):
        text = rendered(fixed_plan(items=items), "family", fmt).lower()
        assert not [w for w in CLINICAL if w in text], fmt


def test_a_catalogue_step_given_to_the_family_says_nothing_clinical(catalogue: Catalogue) -> None:
    """Staff may give any step to a family member or caretaker (``plan edit --owner family``):
    the family copy then prints its staff wording, in a family home."""
    from dataclasses import replace

    from tests.documents.test_leaks import CLINICAL

    items = tuple(
        replace(i, owner=StepOwner.FAMILY)
        for i in catalogue_items(catalogue)
        if i.section == PlanSection.STEPS
    )
    for fmt in ("html", "text", "md"):
        text = rendered(fixed_plan(items=items), "family", fmt).lower()
        assert not [w for w in CLINICAL if w in text], fmt
