"""Risk rules, table-driven; properties of the evaluation; answers validation; bad instrument files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harbour.domain.instrument import Instrument, describe
from harbour.domain.risk import (
    evaluate,
    persons_at_risk,
    situation_of,
    threats_present,
    validate_answers,
)
from harbour.domain.vocab import PersonAtRisk, RiskLevel, Situation, ThreatKind
from harbour.errors import InvalidInput
from harbour.reference import load_instrument
from harbour.settings import Settings

INSTRUMENT = load_instrument(Settings())
QUESTIONS = INSTRUMENT.questions
STRUCTURED = [q for q in QUESTIONS.values() if q.type != "text"]
SAFEST: dict[str, Any] = {q.id: q.answers()[0] for q in STRUCTURED}
L, M, H, IMM = RiskLevel.LOW, RiskLevel.MODERATE, RiskLevel.HIGH, RiskLevel.IMMINENT

# (answers changed from the safest set, level, reason codes highest first)
RULES: list[tuple[dict[str, Any], RiskLevel, list[str]]] = [
    ({}, L, []),
    ({"immediate_danger": "yes"}, IMM, ["immediate_danger"]),
    ({"immediate_danger": True}, IMM, ["immediate_danger"]),
    (
        {"trafficker_contact": "threats"},
        H,
        ["trafficker_threatened", "trafficker_direct_contact", "trafficker_indirect_contact"],
    ),
    (
        {"trafficker_contact": "direct"},
        H,
        ["trafficker_direct_contact", "trafficker_indirect_contact"],
    ),
    ({"trafficker_contact": "indirect"}, M, ["trafficker_indirect_contact"]),
    ({"violence": "yes"}, H, ["violence"]),
    ({"self_harm": "yes"}, H, ["self_harm"]),
    ({"location_known": "yes"}, H, ["location_known", "location_maybe_known"]),
    ({"location_known": "unsure"}, M, ["location_maybe_known"]),
    ({"safe_place": "no"}, H, ["no_safe_place"]),
    ({"trafficker_threat": "yes"}, M, ["trafficker_threat"]),
    ({"network_threat": "yes"}, M, ["network_threat"]),
    ({"network_reach": 3}, L, []),
    ({"family_friend_threat": "yes"}, M, ["complicit_family_friend"]),
    ({"family_at_risk": "yes"}, M, ["family_at_risk"]),
    ({"staff_at_risk": "yes"}, M, ["staff_at_risk"]),
    ({"situation": "considering_leaving"}, L, []),
    ({"situation": "in_situation"}, M, ["in_or_just_left"]),
    ({"situation": "just_left"}, M, ["in_or_just_left"]),
    ({"ran_away": "yes"}, M, ["ran_away"]),
    ({"trusted_adult": "no"}, M, ["no_trusted_adult"]),
    ({"safe_phone": "no"}, M, ["unsafe_phone"]),
    ({"connected": "no"}, L, []),
    # the return screening (optional questions): either exploitation answer raises the level
    ({"return_with_exploiter": "yes"}, H, ["returned_exploited"]),
    ({"return_traded": "yes"}, H, ["returned_exploited"]),
    ({"return_needs_care": "yes"}, L, []),
    # combinations
    (
        {"trafficker_threat": "yes", "family_friend_threat": "yes"},
        H,
        ["several_threat_sources", "trafficker_threat", "complicit_family_friend"],
    ),
    ({"network_threat": "yes", "network_reach": 2}, H, ["network_reach", "network_threat"]),
    ({"network_threat": "yes", "network_reach": 1}, M, ["network_threat"]),
    (
        {"situation": "just_left", "trafficker_contact": "indirect"},
        H,
        ["just_left_and_contacted", "trafficker_indirect_contact", "in_or_just_left"],
    ),
    (
        {"trusted_adult": "no", "safe_phone": "no", "connected": "no"},
        H,
        ["few_protective_factors", "no_trusted_adult", "unsafe_phone"],
    ),
    (
        {"trafficker_contact": "threats", "location_known": "yes", "safe_place": "no"},
        IMM,
        [
            "threatened_found_unsheltered",
            "trafficker_threatened",
            "trafficker_direct_contact",
            "location_known",
            "no_safe_place",
            "trafficker_indirect_contact",
            "location_maybe_known",
        ],
    ),
    ({"immediate_danger": "yes", "violence": "yes"}, IMM, ["immediate_danger", "violence"]),
]


@pytest.mark.parametrize(("changed", "level", "codes"), RULES)
def test_rules(changed: dict[str, Any], level: RiskLevel, codes: list[str]) -> None:
    result = evaluate(INSTRUMENT, SAFEST | changed)
    assert result.level == level
    assert [reason.code for reason in result.reasons] == codes
    texts = {rule.code: rule.text for rule in INSTRUMENT.rules}
    assert all(reason.text == texts[reason.code] for reason in result.reasons)
    assert result.instrument_version == INSTRUMENT.version
    assert bool(result.emergency_protocol) == (level == IMM)


def test_every_rule_is_in_the_table() -> None:
    covered = {code for _, _, codes in RULES for code in codes}
    assert covered == {rule.code for rule in INSTRUMENT.rules}


def test_imminent_carries_the_emergency_protocol() -> None:
    result = evaluate(INSTRUMENT, SAFEST | {"immediate_danger": "yes"})
    assert "emergency.shelter" in result.emergency_protocol
    assert "emergency.law_enforcement" in result.emergency_protocol


def test_threats_persons_and_situation_from_answers() -> None:
    answers = SAFEST | {
        "network_threat": "yes",
        "staff_at_risk": "yes",
        "situation": "just_left",
    }
    structured, _ = validate_answers(INSTRUMENT, answers)
    assert threats_present(INSTRUMENT, structured) == [ThreatKind.NETWORK]
    assert persons_at_risk(INSTRUMENT, structured) == [PersonAtRisk.YOUTH, PersonAtRisk.STAFF]
    assert situation_of(INSTRUMENT, structured) == Situation.JUST_LEFT


def answer_sets() -> st.SearchStrategy[dict[str, Any]]:
    structured = {q.id: st.sampled_from(q.answers()) for q in STRUCTURED}
    texts = {q.id: st.text(min_size=1, max_size=20) for q in QUESTIONS.values() if q.type == "text"}
    return st.fixed_dictionaries(structured, optional=texts)


@settings(max_examples=200, deadline=None)
@given(answer_sets())
def test_any_valid_answer_set_gets_exactly_one_level(answers: dict[str, Any]) -> None:
    try:
        result = evaluate(INSTRUMENT, answers)
    except InvalidInput as refused:  # only free text with control characters may be refused
        assert all(QUESTIONS[f.split(".")[1]].type == "text" for f, _ in refused.problems)
        return
    assert result.level in set(RiskLevel)
    assert (result.level == IMM) == bool(result.emergency_protocol)
    assert result.level == RiskLevel.highest([r.level for r in result.reasons])


@settings(max_examples=200, deadline=None)
@given(answer_sets(), st.sampled_from(STRUCTURED), st.data())
def test_raising_an_answer_never_lowers_the_level(answers, question, data) -> None:
    answers = {k: v for k, v in answers.items() if QUESTIONS[k].type != "text"}
    scale = question.answers()
    rank = scale.index(answers[question.id])
    raised = data.draw(st.sampled_from(scale[rank:]))
    before = evaluate(INSTRUMENT, answers)
    after = evaluate(INSTRUMENT, answers | {question.id: raised})
    assert after.level.rank >= before.level.rank
    if question.id == "immediate_danger" and raised == "yes":
        assert after.level == IMM


def test_validation_names_question_ids_never_values_or_keys() -> None:
    answers = SAFEST | {
        "violence": "SECRETVALUE1",
        "network_reach": 9,
        "situation": "SECRETVALUE2",
        "youth_worries": "ok\x00SECRETVALUE3",
        "SECRETKEY": "x",
    }
    del answers["safe_place"]
    with pytest.raises(InvalidInput) as refused:
        validate_answers(INSTRUMENT, answers)
    fields = dict(refused.value.problems)
    assert set(fields) == {
        "answers.violence",
        "answers.network_reach",
        "answers.situation",
        "answers.youth_worries",
        f"answers (entry {len(answers)})",  # the last: a key typed is not echoed
        "answers.safe_place",
    }
    assert "SECRETVALUE" not in str(refused.value) and "SECRETKEY" not in str(refused.value)
    assert fields["answers.safe_place"] == "is required"
    assert fields["answers.violence"] == "must be yes or no"


def test_validation_splits_structured_and_free_text() -> None:
    answers = SAFEST | {"youth_worries": "  being found  ", "network_reach": "2", "violence": "Yes"}
    structured, free_text = validate_answers(INSTRUMENT, answers)
    assert free_text == {"youth_worries": "being found"}
    assert structured["network_reach"] == 2 and structured["violence"] == "yes"
    assert "youth_worries" not in structured
    for bad in (["a"], "text", None):
        with pytest.raises(InvalidInput, match="answers"):
            validate_answers(INSTRUMENT, bad)
    with pytest.raises(InvalidInput, match="network_reach"):
        validate_answers(INSTRUMENT, SAFEST | {"network_reach": True})


def test_describe_lists_questions_with_types_and_choices() -> None:
    shown = describe(INSTRUMENT)
    questions = [q for g in shown["groups"] for q in g["questions"]]
    danger = next(q for q in questions if q["id"] == "immediate_danger")
    assert danger["type"] == "yes_no"
    concerns = [g["concern"] for g in shown["groups"]]
    assert concerns[:4] == ["who_threatens", "who_is_at_risk", "situation", "protective_factors"]


DATA = Path(__file__).parents[2] / "harbour" / "data" / "instrument.yaml"


@pytest.mark.parametrize(
    ("replace", "by", "problem"),
    [
        ("  - id: immediate_danger\n", "  - id: danger_now\n", "immediate_danger"),
        (
            "{question: violence, at_least",
            "{question: violent, at_least",
            "rules.5.when: asks about violent",
        ),
        (
            "{question: location_known, at_least: unsure}",
            "{question: location_known, at_least: maybe}",
            "at_least",
        ),
        ("        type: scale\n", "        type: slider\n", "type"),
        (
            "  - code: ran_away\n",
            "  - code: violence\n",
            "rules.20.code: violence is used more than once",
        ),
    ],
)
def test_a_bad_instrument_file_is_refused_by_line(
    tmp_path: Path, replace: str, by: str, problem: str
) -> None:
    text = DATA.read_text(encoding="utf-8")
    assert replace in text
    path = tmp_path / "licensed.yaml"
    path.write_text(text.replace(replace, by, 1), encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        load_instrument(Settings(instrument_file=path))
    assert "licensed.yaml:" in str(refused.value) and problem in str(refused.value)


def test_an_agency_instrument_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "licensed.yaml"
    path.write_text(DATA.read_text().replace("harbour-spja-2026.1", "licensed-3.2"))
    instrument: Instrument = load_instrument(Settings(instrument_file=path))
    assert evaluate(instrument, SAFEST).instrument_version == "licensed-3.2"
