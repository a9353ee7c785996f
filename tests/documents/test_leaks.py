"""What the youth and family copies must never show, and data that must stay inert."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from harbour.documents.render import render_views, views
from harbour.documents.strings import strings
from harbour.domain.plan_view import PlanItemView, PlanSnapshot, ThreatView
from harbour.domain.vocab import ItemState, Phase, PlanSection, StepOwner, ThreatKind
from harbour.errors import RenderError
from harbour.reference import load_catalogue
from harbour.settings import Settings
from tests.documents.fixtures import HOSTILE, ITEMS, fixed_plan, item
from tests.documents.helpers import FORMATS, TEMPLATES, every_format, rendered

STAFF_ONLY_MARKERS = {
    "threat name": "MKthreatname",
    "agency name": "MKagencyname",
    "agency address": "MKagencyaddr",
    "disclosure (reason)": "MKreason",
    "risk item": "MKriskitem",
    "caseworker step": "MKcwstep",
    "agency strategy": "MKagencystrategy",
    "emergency protocol": "MKprotocol",
    "suggested, not agreed": "MKsuggested",
    "rejected": "MKrejected",
    "staff wording": "MKstaffwording",
    "case reference": "HB-MARK-REF",
}
CLINICAL = (
    "risk",
    "traffick",
    "exploit",
    "assessment",
    "protective order",
    "imminent",
    "threat",
    "clinical",
    "safety plan",
    "agency",
    "high",
    "moderate",
    "disclos",
)


def marked_plan() -> PlanSnapshot:
    marked = (
        item("r", PlanSection.RISKS, "MKriskitem"),
        item("cw", PlanSection.STEPS, "MKcwstep", owner=StepOwner.CASEWORKER),
        item("ag", PlanSection.STRATEGIES, "MKagencystrategy", phase=Phase.AGENCY_STAFF),
        item("em", PlanSection.EMERGENCY, "MKprotocol", owner=StepOwner.AGENCY),
        item("sg", PlanSection.STRATEGIES, "MKsuggested", state=ItemState.SUGGESTED),
        item(
            "rj", PlanSection.STEPS, "MKrejected", owner=StepOwner.YOUTH, state=ItemState.REJECTED
        ),
        item(
            "yw",
            PlanSection.STEPS,
            "MKstaffwording",
            youth_text="Plain words",
            owner=StepOwner.YOUTH,
        ),
    )
    return fixed_plan(
        case_reference="HB-MARK-REF",
        items=ITEMS + marked,
        reasons=(("rule", "MKreason"),),
        threats=(ThreatView(ThreatKind.TRAFFICKER, "MKthreatname", True, None),),
        extra={"agency_name": "MKagencyname", "agency_address": "MKagencyaddr"},
    )


def test_the_staff_copy_shows_the_markers_it_may() -> None:
    staff = rendered(marked_plan(), "staff", "text")
    for label in ("threat name", "agency name", "disclosure (reason)", "caseworker step"):
        assert STAFF_ONLY_MARKERS[label] in staff
    assert "MKrejected" not in staff and "MKagencyaddr" not in staff


@pytest.mark.parametrize("audience", ["youth", "family"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_no_staff_only_data_in_youth_or_family_copies(audience: str, fmt: str) -> None:
    text = rendered(marked_plan(), audience, fmt)
    leaked = [label for label, marker in STAFF_ONLY_MARKERS.items() if marker in text]
    assert not leaked, f"{audience} {fmt} shows {leaked}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_family_copy_has_no_youth_only_data(fmt: str) -> None:
    plan = marked_plan()
    plan = replace(plan, youth_title="MKyouthtitle")
    text = rendered(plan, "family", fmt)
    for secret in ("MKyouthtitle", "Aunt Rosa", "555-0101", "Keep my spare phone charged"):
        assert secret not in text


@pytest.mark.parametrize("hide_hotlines", [False, True])
def test_youth_copy_has_no_clinical_wording_hotlines_shown_or_not(hide_hotlines: bool) -> None:
    plan = replace(marked_plan(), resources=fixed_plan().resources[:2], hide_hotlines=hide_hotlines)
    for fmt, text in every_format(plan, "youth").items():
        words = [w for w in CLINICAL if w in text.lower()]
        assert not words, f"youth {fmt}: {words}"
    assert ("1-888-373-7888" in text) is not hide_hotlines


def test_family_copy_has_no_clinical_wording() -> None:
    """Every hotline too: a family copy sits in a family home, where someone complicit may read
    it, so it names each line by the youth copy's discreet label, with its number."""
    plan = replace(marked_plan(), resources=fixed_plan().resources)
    for fmt, text in every_format(plan, "family").items():
        words = [w for w in CLINICAL if w in text.lower()]
        assert not words, f"family {fmt}: {words}"
        assert "1-888-373-7888" in text  # the line is still there to call


def test_every_built_in_hotline_has_a_discreet_label_for_the_youth() -> None:
    resources = load_catalogue(Settings()).resources
    for r in resources:
        if not r.emergency:
            assert r.youth_name and not [w for w in CLINICAL if w in r.youth_name.lower()], r.code


def test_hidden_hotlines_keep_911_on_the_youth_copy() -> None:
    for fmt, text in every_format(replace(fixed_plan(), hide_hotlines=True), "youth").items():
        assert "911" in text, fmt
        assert "1-888-373-7888" not in text and "988" not in text, fmt


def test_911_is_there_even_when_the_plan_has_no_emergency_resource() -> None:
    plan = replace(fixed_plan(), resources=())
    for audience in ("youth", "family"):
        for text in every_format(plan, audience).values():
            assert "911" in text


def test_youth_strings_have_no_clinical_wording() -> None:
    youth = " ".join(str(v) for v in strings("en")["youth"].values()).lower()
    family = " ".join(str(v) for v in strings("en")["family"].values()).lower()
    assert not [w for w in CLINICAL if w in youth or w in family]


def hostile_plan() -> PlanSnapshot:
    hostile_items: tuple[PlanItemView, ...] = (
        item("h1", PlanSection.STEPS, HOSTILE, owner=StepOwner.YOUTH),
        item("h2", PlanSection.STEPS, HOSTILE, owner=StepOwner.FAMILY),
        item("h3", PlanSection.STRATEGIES, HOSTILE, phase=Phase.EMOTIONAL_REGULATION),
    )
    return fixed_plan(
        items=hostile_items + ITEMS,
        youth_title=HOSTILE,
        reasons=(("rule", HOSTILE),),
        threats=(ThreatView(ThreatKind.TRAFFICKER, HOSTILE, True, None),),
        extra={"agency_name": HOSTILE},
    )


@pytest.mark.parametrize("audience", ["staff", "youth", "family"])
def test_hostile_strings_are_inert_in_html(audience: str) -> None:
    html = rendered(hostile_plan(), audience, "html")
    assert "<script" not in html and html.count("</style>") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;/style&gt;" in html
    assert "{{ 7*7 }}" in html and "49" not in html
    assert "\u202e" not in html and "[U+202E]" in html


@pytest.mark.parametrize("audience", ["staff", "youth", "family"])
def test_hostile_strings_are_inert_in_markdown(audience: str) -> None:
    md = rendered(hostile_plan(), audience, "md")
    assert not re.search(r"(?<!\\)<", md), "an unescaped < in Markdown"
    assert "\\<script\\>alert(1)\\</script\\>" in md and "\\</style\\>" in md
    assert "\u202e" not in md and "U+202E" in md and "49" not in md


@pytest.mark.parametrize("audience", ["staff", "youth", "family"])
def test_hostile_strings_are_literal_in_text(audience: str) -> None:
    text = rendered(hostile_plan(), audience, "text")
    assert "{{ 7*7 }} <script>alert(1)</script> </style> a[U+202E]txt.exe" in text
    assert "\u202e" not in text


def test_line_breaks_in_data_cannot_forge_a_heading() -> None:
    forged = "ok\n\nIF I AM IN DANGER:\nCall 555-EVIL"
    plan = fixed_plan(items=(item("f", PlanSection.STEPS, forged, owner=StepOwner.YOUTH),))
    for text in every_format(plan, "youth").values():
        assert "\nIF I AM IN DANGER:" not in text and "ok IF I AM IN DANGER: Call 555-EVIL" in text


@pytest.mark.parametrize(("audience", "built_for"), [("youth", "staff"), ("family", "staff")])
def test_a_view_built_for_staff_is_never_rendered_as_another_copy(
    audience: str, built_for: str
) -> None:
    prepared = views(marked_plan(), built_for, FORMATS)
    with pytest.raises(RenderError):
        render_views(prepared, audience, templates_dir=TEMPLATES)


def test_rendering_prepared_views_gives_the_same_copies() -> None:
    plan = marked_plan()
    for audience in ("staff", "youth", "family"):
        prepared = views(plan, audience, FORMATS)
        assert render_views(prepared, audience, templates_dir=TEMPLATES) == every_format(
            plan, audience
        )


@pytest.mark.parametrize("fmt", FORMATS)
def test_bidi_overrides_beside_accented_text_are_shown_not_obeyed(fmt: str) -> None:
    plan = fixed_plan(youth_title="Bénédicte … a\u2067b\u202ac")
    for audience in ("staff", "youth"):
        text = rendered(plan, audience, fmt)
        assert "\u2067" not in text and "\u202a" not in text
        assert "U+2067" in text and "U+202A" in text
