"""Answers checked against the instrument, and the transparent rules that turn them into a level.

The level is the highest level raised by any rule whose condition holds (low when none), and the
result lists those rules as reasons. Conditions only ask whether an answer is at least so risky,
so raising a threat answer can never lower the level. ``immediate_danger: yes`` is always imminent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError

from harbour.domain.instrument import Condition, Instrument, Question, answer_ranks, yes_no_word
from harbour.domain.text import Note, is_digits
from harbour.domain.vocab import PersonAtRisk, RiskLevel, Situation, ThreatKind
from harbour.errors import InvalidInput
from harbour.validation import problems

MAX_ANSWERS = 200
_NOTE: TypeAdapter[str] = TypeAdapter(Note)


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    level: RiskLevel = RiskLevel.MODERATE


@dataclass(frozen=True)
class RiskResult:
    level: RiskLevel
    reasons: tuple[Reason, ...]
    emergency_protocol: tuple[str, ...]  # step codes, when imminent
    instrument_version: str = ""


def evaluate(instrument: Instrument, answers: Mapping[str, object]) -> RiskResult:
    """Apply the instrument's rules to answers (validated here if they are not already)."""
    structured, _ = validate_answers(instrument, answers)
    ranks = answer_ranks(instrument, structured)
    fired = [rule for rule in instrument.rules if _holds(instrument, rule.when, ranks)]
    level = RiskLevel.highest([RiskLevel(rule.level) for rule in fired])
    reasons = sorted(
        (Reason(rule.code, rule.text, RiskLevel(rule.level)) for rule in fired),
        key=lambda reason: -reason.level.rank,
    )
    protocol = tuple(instrument.emergency_protocol) if level == RiskLevel.IMMINENT else ()
    return RiskResult(level, tuple(reasons), protocol, instrument.version)


def _holds(instrument: Instrument, condition: Condition, ranks: Mapping[str, int]) -> bool:
    if condition.all:
        return all(_holds(instrument, c, ranks) for c in condition.all)
    if condition.any:
        return any(_holds(instrument, c, ranks) for c in condition.any)
    if condition.of and condition.count is not None:
        return sum(_holds(instrument, c, ranks) for c in condition.of) >= condition.count
    assert condition.question is not None
    question = instrument.questions[condition.question]
    given = ranks.get(condition.question)
    return given is not None and given >= question.rank(condition.at_least)


def validate_answers(
    instrument: Instrument, answers: object, *, partial: bool = False
) -> tuple[dict[str, object], dict[str, str]]:
    """(structured answers, free-text answers), or InvalidInput naming question ids, never values.
    ``partial`` (a draft): the answers given are checked, the required ones may still be missing."""
    if not isinstance(answers, Mapping):
        raise InvalidInput([("answers", "must map question ids to answers")])
    if len(answers) > MAX_ANSWERS:
        raise InvalidInput([("answers", f"more than {MAX_ANSWERS} answers")])
    questions = instrument.questions
    refused = [  # by position: what was typed as a question id is not echoed
        (f"answers (entry {number})", f"is not a question of instrument {instrument.version}")
        for number, qid in enumerate(answers, 1)
        if qid not in questions
    ]
    structured: dict[str, object] = {}
    free_text: dict[str, str] = {}
    for question in questions.values():
        value = answers.get(question.id)
        if value is None:
            if question.is_required and not partial:
                refused.append((_field(question.id), "is required"))
            continue
        problem = _check(question, value)
        if problem is not None:
            refused.append((_field(question.id), problem))
        elif question.type == "text":
            free_text[question.id] = _NOTE.validate_python(value)
        else:
            structured[question.id] = _normalise(question, value)
    if refused:
        raise InvalidInput(refused)
    return structured, free_text


def _field(qid: str) -> str:
    return f"answers.{qid}"  # the instrument's own question ids only


def _check(question: Question, value: object) -> str | None:
    if question.type == "text":
        try:
            _NOTE.validate_python(value)
        except ValidationError as exc:
            return problems(exc)[0][1]
        return None
    if _normalise(question, value) not in question.answers():
        return _expected(question)
    return None


def _normalise(question: Question, value: object) -> object:
    """The canonical form of an answer (yes/no words, whole numbers); None when it has none."""
    if question.type in ("yes_no", "choice"):
        word = yes_no_word(value)
        if not isinstance(word, str):
            return None
        return word.strip().lower() if question.type == "yes_no" else word
    if isinstance(value, str) and is_digits(value.strip()):
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _expected(question: Question) -> str:
    if question.type == "yes_no":
        return "must be yes or no"
    if question.type == "choice":
        return "must be one of: " + ", ".join(c.value for c in question.choices)
    return f"must be a whole number from {question.min} to {question.max}"


def threats_present(instrument: Instrument, structured: Mapping[str, object]) -> list[ThreatKind]:
    """Threat sources the answers say are present (their question answered on the risky side)."""
    ranks = answer_ranks(instrument, structured)
    found = {q.marks_threat for q in instrument.questions.values() if ranks.get(q.id, 0) > 0}
    return [kind for kind in ThreatKind if kind in found]


def persons_at_risk(instrument: Instrument, structured: Mapping[str, object]) -> list[PersonAtRisk]:
    """The youth always; family and staff when the answers say so."""
    ranks = answer_ranks(instrument, structured)
    found = {q.marks_person for q in instrument.questions.values() if ranks.get(q.id, 0) > 0}
    return [p for p in PersonAtRisk if p == PersonAtRisk.YOUTH or p in found]


def situation_of(instrument: Instrument, structured: Mapping[str, object]) -> Situation | None:
    for question in instrument.questions.values():
        if question.marks_situation and structured.get(question.id) is not None:
            return Situation(str(structured[question.id]))
    return None
