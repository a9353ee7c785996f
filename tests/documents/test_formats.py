"""Format rules: self-contained HTML with a print stylesheet, a short phone-note text, and a string
catalogue that covers every word Harbour's vocabularies can put on a page."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest
import yaml

from harbour.documents.strings import FOLDER, languages, strings
from harbour.domain.vocab import (
    AssessmentPoint,
    ContactFlag,
    ItemState,
    PersonKind,
    Phase,
    PlanSection,
    PlanStatus,
    RiskLevel,
    StepOwner,
    ThreatKind,
)
from tests.documents.fixtures import crowded_plan, fixed_plan, item
from tests.documents.helpers import rendered

EXTERNAL = re.compile(r"https?:|//|\bsrc=|\bhref=|url\(|@import", re.IGNORECASE)


@pytest.mark.parametrize("audience", ["staff", "youth", "family"])
def test_html_is_self_contained_with_a_print_stylesheet(audience: str) -> None:
    html = rendered(fixed_plan(), audience, "html")
    assert not EXTERNAL.findall(html.replace("default-src 'none'", ""))
    assert "@media print" in html and "Content-Security-Policy" in html


def test_youth_text_fits_a_phone_note() -> None:
    text = rendered(fixed_plan(), "youth", "text")
    assert len(text) < 1000
    assert text.startswith("My plan\nVersion 3, 2026-03-02\n\nIf I am in danger:\nCall 911 now.")


def test_youth_text_of_a_crowded_plan_is_cut_to_a_phone_note_and_says_so() -> None:
    text = rendered(crowded_plan(), "youth", "text")
    assert len(text) < 2500 and text.rstrip().endswith("More in my full plan.")
    assert "Call 911 now." in text and len(rendered(crowded_plan(), "youth", "md")) > 2 * len(text)


def test_the_wallet_card_keeps_the_steps_still_to_do_before_those_done() -> None:
    """Four steps of the youth's, the first two done: the card's three hold the two to do."""
    done = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    mine = tuple(
        item(
            f"s{n}",
            PlanSection.STEPS,
            f"Step {n}",
            owner=StepOwner.YOUTH,
            due_on=date(2026, 3, 9),
            done_at=done if n < 2 else None,
        )
        for n in range(4)
    )
    text = rendered(fixed_plan(items=mine), "youth", "text")
    assert "- Step 2 (by 2026-03-09)\n- Step 3 (by 2026-03-09)\n- Step 0 (done)\n" in text
    assert "Step 1" not in text and "More in my full plan." in text


@pytest.mark.parametrize("audience", ["youth", "family"])
@pytest.mark.parametrize("fmt", ["html", "text", "md"])
def test_a_handed_over_copy_says_which_version_it_is_and_of_when(audience: str, fmt: str) -> None:
    """A card or a family's copy kept for weeks: whoever reads it (or the caseworker shown it)
    can tell it from a newer one. The day is the agency's: 01:30 UTC is the evening before in
    New York."""
    late = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)
    final = rendered(fixed_plan(finalized_at=late), audience, fmt)
    assert "Version 3, 2026-03-02" in final
    draft = rendered(fixed_plan(status="draft", finalized_at=None), audience, fmt)
    assert "Version 3, 2026-03-02" in draft  # composed that day (14:00 UTC)


def test_youth_title_is_the_youths_own_or_neutral() -> None:
    assert rendered(fixed_plan(youth_title="Saturday list"), "youth", "text").startswith(
        "Saturday list\n"
    )
    assert "<title>My plan</title>" in rendered(fixed_plan(), "youth", "html")


VOCABULARIES: dict[str, Any] = {
    "section": PlanSection,
    "phase": Phase,
    "owner": StepOwner,
    "state": ItemState,
    "risk": RiskLevel,
    "point": AssessmentPoint,
    "threat": ThreatKind,
    "person": PersonKind,
    "status": PlanStatus,
}


@pytest.mark.parametrize("lang", languages())
def test_every_vocabulary_word_has_a_label(lang: str) -> None:
    labels = strings(lang)["labels"]
    for name, vocabulary in VOCABULARIES.items():
        assert {v.value for v in vocabulary} <= set(labels[name]), name


def _keys(data: Mapping[str, Any], prefix: str = "") -> set[str]:
    found = set()
    for key, value in data.items():
        found |= _keys(value, f"{prefix}{key}.") if isinstance(value, Mapping) else {prefix + key}
    return found


@pytest.mark.parametrize("lang", [lang for lang in languages() if lang != "en"])
def test_translations_only_use_english_keys(lang: str) -> None:
    english = _keys(yaml.safe_load((FOLDER / "en.yaml").read_text()))
    assert _keys(yaml.safe_load((FOLDER / f"{lang}.yaml").read_text())) <= english


def test_placeholders_survive_translation() -> None:
    for lang in languages():
        for audience in ("youth", "family"):
            assert "{number}" in strings(lang)[audience]["call_now"]
            edition = strings(lang)[audience]["edition"]
            assert "{version}" in edition and "{date}" in edition


@pytest.mark.parametrize("flag", list(ContactFlag))
def test_the_staff_copy_marks_a_contact_no_longer_approved(flag: ContactFlag) -> None:
    """Named as the item is, said what the copies do with them; the youth's and family's
    copies are made from the plan's contacts, which the flag does not change."""
    from dataclasses import replace

    from tests.documents.fixtures import ITEMS, fixed_plan
    from tests.documents.helpers import every_format, rendered

    items = tuple(
        replace(i, contact_flag=flag) if i.staff_text == "Aunt Rosa" else i for i in ITEMS
    )
    plan = fixed_plan(items=items)
    said = strings()["staff"][str(flag)]
    for fmt, copy in every_format(plan, "staff").items():
        copy = re.sub(r"<[^>]+>", "", copy).replace("&#39;", "'")
        assert re.search(rf"Aunt Rosa\W+{re.escape(said)}", copy), fmt
        assert "Coach Lee" in copy and copy.count(said) == 1, fmt
    for audience in ("youth", "family"):
        assert rendered(plan, audience, "text") == rendered(fixed_plan(), audience, "text")
