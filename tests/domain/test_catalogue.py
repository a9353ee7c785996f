"""The catalogue: every item of every list in the seed is reachable, with its code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harbour.domain.catalogue import Catalogue, hotlines_named
from harbour.domain.vocab import PersonAtRisk, Phase, StepOwner
from harbour.errors import InvalidInput, NotFound
from harbour.reference import load_catalogue
from harbour.settings import Settings

SEED = Path(__file__).with_name("seed_fast_facts.txt")  # a copy of shared/seed, verbatim
DATA = Path(__file__).parents[2] / "harbour" / "data"

# Each list's header in the seed, and where its items are found in the catalogue.
LISTS = {
    "An assessment of safety should be conducted": "assessment_points",
    "A successful safety plan will": "plan_parts",
    "Threats against safety may be posed by": "threat_sources",
    "Safety for the following persons may be threatened": "persons_at_risk",
    "When brainstorming safety strategies with a survivor contemplating": Phase.CONTEMPLATING_LEAVING,
    "When brainstorming safety strategies with a survivor after": Phase.AFTER_LEAVING,
    "When safety planning for an agency or staff member": Phase.AGENCY_STAFF,
}
SIZES = {"assessment_points": 3, "plan_parts": 3, "threat_sources": 3, "persons_at_risk": 3}
SIZES |= {Phase.CONTEMPLATING_LEAVING: 6, Phase.AFTER_LEAVING: 6, Phase.AGENCY_STAFF: 8}


def seed_lists() -> dict[str | Phase, list[str]]:
    """The seed's bulleted lists, by header: paragraphs after a header ending in 'N:'."""
    text = SEED.read_text(encoding="utf-8")
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    paragraphs = [part for p in paragraphs for part in re.split(r"(?<=\.) (?=When )", p)]
    found: dict[str | Phase, list[str]] = {}
    current: str | Phase | None = None
    for paragraph in filter(None, paragraphs):
        header = next((name for start, name in LISTS.items() if paragraph.startswith(start)), None)
        if header is not None:
            current = header
            found[current] = []
        elif current is not None and re.search(r"\d:$", paragraph) is None:
            if paragraph.startswith("Just as no two"):
                current = None
            else:
                found[current].append(_item(paragraph))
    return found


def _item(paragraph: str) -> str:
    return re.sub(r"(;( and| or)?|\.)$", "", paragraph).strip()


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(Settings())


def test_the_seed_parses_into_its_seven_lists() -> None:
    assert {name: len(items) for name, items in seed_lists().items()} == SIZES


@pytest.mark.parametrize("name", list(LISTS.values()))
def test_every_seed_item_is_in_the_catalogue_with_its_code(catalogue: Catalogue, name) -> None:
    if isinstance(name, Phase):
        entries = {s.seed_item: s.code for s in catalogue.by_phase(name)}
    else:
        entries = {e.seed_item: e.code for e in catalogue.seed_lists[name]}
    for item in seed_lists()[name]:
        assert item in entries, f"seed item missing from the catalogue: {item}"
        assert entries[item]


def test_emotional_regulation_offers_grounding(catalogue: Catalogue) -> None:
    calm = catalogue.by_phase(Phase.EMOTIONAL_REGULATION)
    wording = " ".join(s.staff_text for s in calm)
    assert "5-4-3-2-1" in wording and "Box breathing" in wording and "Grounding object" in wording
    assert all("grounding exercises" in s.seed_item for s in calm)


def test_strategies_are_complete_and_youth_wording_is_discreet(catalogue: Catalogue) -> None:
    for strategy in catalogue.strategies.values():
        assert strategy.staff_text and strategy.youth_text and strategy.threats
        assert "traffick" not in strategy.youth_text.lower(), strategy.code
    agency = catalogue.by_phase(Phase.AGENCY_STAFF)
    assert all(s.persons == [PersonAtRisk.STAFF] for s in agency)
    assert {s.owner for s in catalogue.strategies.values()} == set(StepOwner)
    assert catalogue.strategy("leave.call_911").phase == Phase.CONTEMPLATING_LEAVING
    with pytest.raises(NotFound):
        catalogue.strategy("nope")


def test_youth_wording_naming_a_hotline_has_one_naming_none(catalogue: Catalogue) -> None:
    # The youth's copy for a phone that may be monitored names no hotline, in its wording too.
    emergency = [n for r in catalogue.resources if r.emergency for n in (r.call, r.text) if n]
    numbers = {n for r in catalogue.resources if not r.emergency for n in (r.call, r.text) if n}
    assert all(hotlines_named(number, emergency) for number in numbers)  # the rule finds each

    def names_one(text: str) -> bool:
        return bool(hotlines_named(text, emergency))

    for s in catalogue.strategies.values():
        assert not names_one(s.youth_wording(hide_hotlines=True)), s.code
        assert not (s.step and names_one(s.step.youth_text)), s.code
    assert not [e.code for e in catalogue.emergency_protocol.values() if names_one(e.youth_text)]
    assert "988" in catalogue.strategy("calm.safe_person").youth_wording(hide_hotlines=False)
    assert names_one("call or text 988") and not names_one("call 911; name 5 things you see")


AGENCY_LINE = "call the youth line on 1-800-555-0199 any time"
SAFE_PERSON = 'youth_text_without_hotlines: "When it gets hard, reach out to someone safe."'


@pytest.mark.parametrize(
    ("replace", "by", "problem"),
    [
        (
            f"    {SAFE_PERSON}\n",
            "",
            "strategies.{safe_person}.youth_text: calm.safe_person: names a number to call or "
            "text, which a youth copy without hotlines would show: give "
            "youth_text_without_hotlines too",
        ),
        (
            SAFE_PERSON,
            f'youth_text_without_hotlines: "Reach out to someone safe, or {AGENCY_LINE}."',
            "strategies.{safe_person}.youth_text_without_hotlines: calm.safe_person: "
            "names a number to call or text",
        ),
        (
            'youth_text: "Get your bag ready."',
            f'youth_text: "Get your bag ready, and {AGENCY_LINE}."',
            "strategies.3.step.youth_text: leave.go_bag: names a number to call or text, and "
            "this wording is on every youth copy",
        ),
        (
            'youth_text: "Staff will help you get to a safe place to stay today."',
            f'youth_text: "Staff will help you get somewhere safe today; {AGENCY_LINE}."',
            "emergency_protocol.1.youth_text: emergency.shelter: names a number",
        ),
    ],
)
def test_an_agency_catalogue_naming_a_hotline_a_hidden_copy_would_show_is_refused(
    tmp_path: Path, catalogue: Catalogue, replace: str, by: str, problem: str
) -> None:
    """The built-in catalogue's rule, checked at load: an agency's youth wording that names a
    number to call or text (988, a phone number) where a youth copy with the hotlines hidden
    would show it is refused, naming the entry, its field and its line."""
    text = (DATA / "strategies.yaml").read_text(encoding="utf-8")
    assert text.count(replace) == 1
    path = tmp_path / "ours.yaml"
    path.write_text(text.replace(replace, by), encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        load_catalogue(Settings(catalogue_file=path))
    safe_person = list(catalogue.strategies).index("calm.safe_person")
    message = str(refused.value)
    assert problem.format(safe_person=safe_person) in message, message
    lines = path.read_text(encoding="utf-8").splitlines()
    if by:
        assert f"ours.yaml:{1 + next(i for i, t in enumerate(lines) if by in t)}: " in message


def test_the_resources_emergency_number_is_the_one_a_hidden_copy_may_name(
    tmp_path: Path,
) -> None:
    """The resources file says which number stays on every copy: against one whose emergency
    number is another, the catalogue's own "call 911" names a hotline."""
    text = (DATA / "resources.yaml").read_text(encoding="utf-8")
    path = tmp_path / "resources.yaml"
    path.write_text(text.replace('call: "911"', 'call: "112"', 1), encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        load_catalogue(Settings(resources_file=path))
    assert "strategies.0.youth_text: leave.call_911: names a number" in str(refused.value)


def test_every_hotline_of_a_resources_file_has_a_discreet_label_for_the_youth(
    tmp_path: Path,
) -> None:
    """The youth's copy lists a hotline by its youth_name ("Help line (any time)"): that copy may
    be found by the people posing the threat. An agency's file that leaves it out is refused,
    rather than print "National Human Trafficking Hotline" on the youth's copy."""
    text = (DATA / "resources.yaml").read_text(encoding="utf-8")
    label = '    youth_name: "Help line (any time)"\n'
    assert label in text
    path = tmp_path / "resources.yaml"
    path.write_text(text.replace(label, "", 1), encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        load_catalogue(Settings(resources_file=path))
    assert "resources.1.youth_name: nht_hotline: " in str(refused.value)


def test_emergency_protocol_names_shelter_and_law_enforcement(catalogue: Catalogue) -> None:
    assert {"emergency.shelter", "emergency.law_enforcement"} <= set(catalogue.emergency_protocol)


def test_resources_per_the_domain_guide(catalogue: Catalogue) -> None:
    numbers = {r.code: (r.call, r.text) for r in catalogue.resources}
    assert numbers == {
        "emergency": ("911", None),
        "nht_hotline": ("1-888-373-7888", "233733"),
        "nys_dv_hotline": ("1-800-942-6906", None),
        "nys_child_abuse_hotline": ("1-800-342-3720", None),
        "lifeline_988": ("988", "988"),
        "runaway_safeline": ("1-800-786-2929", None),
    }
    assert [r.code for r in catalogue.resources if r.emergency] == ["emergency"]
    assert all(r.source.startswith("https://") and r.verified_on for r in catalogue.resources)
    hotline = catalogue.resource("nht_hotline")
    assert hotline is not None and "Resource Center" not in hotline.name


@pytest.mark.parametrize(
    ("replace", "by", "problem"),
    [
        (
            "code: leave.go_bag",
            "code: leave.escape_route",
            "strategies.3.code: leave.escape_route is used more than once",
        ),
        ("phase: emotional_regulation", "phase: calmness", "phase"),
        (
            "{code: staff, seed_item",
            "{code: volunteers, seed_item",
            "volunteers is not a code Harbour knows",
        ),
        ("    owner: family\n", "    owner: cousin\n", "owner"),
    ],
)
def test_a_bad_catalogue_file_is_refused_by_line(
    tmp_path: Path, replace: str, by: str, problem: str
) -> None:
    text = (DATA / "strategies.yaml").read_text(encoding="utf-8")
    assert replace in text
    bad = text.replace(replace, by, 1)
    path = tmp_path / "mine.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        load_catalogue(Settings(catalogue_file=path))
    message = str(refused.value)
    assert re.search(r"mine\.yaml:\d+", message) and problem in message


def test_a_bad_resource_line_is_named(tmp_path: Path) -> None:
    text = (DATA / "resources.yaml").read_text(encoding="utf-8")
    path = tmp_path / "res.yaml"
    path.write_text(text.replace("verified_on: 2026-03-01", "verified_on: lately", 1))
    with pytest.raises(InvalidInput) as refused:
        load_catalogue(Settings(resources_file=path))
    line = 1 + text.splitlines().index("    verified_on: 2026-03-01")
    assert f"res.yaml:{line}: resources.0.verified_on" in str(refused.value)
