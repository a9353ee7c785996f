"""The assessment instrument as data: questions by concern, answer types, and the rules' conditions.

Built-in: ``harbour/data/instrument.yaml``; an agency may load its own (``HARBOUR_INSTRUMENT_FILE``).
Answers are validated here; evaluation is in ``harbour.domain.risk``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from harbour.domain.catalogue import Code, Wording
from harbour.domain.datacheck import DataProblem, no_repeats
from harbour.domain.vocab import PersonAtRisk, RiskLevel, Situation, ThreatKind

QuestionId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
AnswerType = Literal["yes_no", "choice", "scale", "text"]
Concern = Literal["who_threatens", "who_is_at_risk", "situation", "protective_factors", "notes"]
IMMEDIATE_DANGER = "immediate_danger"


def yes_no_word(value: object) -> object:
    """YAML (1.1) reads yes and no as booleans; Harbour's answers are the words."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


YesNo = Annotated[Literal["yes", "no"], BeforeValidator(yes_no_word)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Data):
    value: Annotated[str, BeforeValidator(yes_no_word), Field(min_length=1, max_length=40)]
    text: Wording


class Question(_Data):
    id: QuestionId
    type: AnswerType
    text: Wording
    choices: list[Choice] = Field(default_factory=list, max_length=20)  # safest first
    min: int | None = None
    max: int | None = None
    risky: YesNo = "yes"
    higher_is_riskier: bool = True
    required: bool | None = None  # default: structured answers required, text optional
    marks_threat: ThreatKind | None = None
    marks_person: PersonAtRisk | None = None
    marks_situation: bool = False

    @model_validator(mode="after")
    def _shape(self) -> Question:
        if self.type == "choice" and len(self.choices) < 2:
            raise ValueError("a choice question needs at least two choices")
        if self.type == "scale" and (self.min is None or self.max is None or self.min >= self.max):
            raise ValueError("a scale question needs min < max")
        if self.marks_situation and {c.value for c in self.choices} != set(Situation):
            raise ValueError(f"the situation question's choices must be: {', '.join(Situation)}")
        return self

    @property
    def is_required(self) -> bool:
        return self.required if self.required is not None else self.type != "text"

    def rank(self, answer: object) -> int:
        """How risky a valid structured answer is: 0 for the safest."""
        if self.type == "yes_no":
            return int(answer == self.risky)
        if self.type == "choice":
            return [c.value for c in self.choices].index(str(answer))
        assert self.min is not None and self.max is not None and isinstance(answer, int)
        return answer - self.min if self.higher_is_riskier else self.max - answer

    def answers(self) -> list[object]:
        """Every valid structured answer, safest first."""
        if self.type == "yes_no":
            return ["no", "yes"] if self.risky == "yes" else ["yes", "no"]
        if self.type == "choice":
            return [c.value for c in self.choices]
        if self.type == "scale":
            assert self.min is not None and self.max is not None
            values: list[object] = list(range(self.min, self.max + 1))
            return values if self.higher_is_riskier else values[::-1]
        return []


class Group(_Data):
    id: QuestionId
    concern: Concern
    title: Wording
    questions: list[Question] = Field(min_length=1, max_length=60)


class Condition(_Data):
    """One of: {question, at_least}; {all: [...]}; {any: [...]}; {count: N, of: [...]}."""

    question: QuestionId | None = None
    at_least: Annotated[str | int, BeforeValidator(yes_no_word)] | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    count: int | None = Field(None, ge=1)
    of: list[Condition] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [
            self.question is not None and self.at_least is not None,
            bool(self.all),
            bool(self.any),
            self.count is not None and bool(self.of),
        ]
        if sum(forms) != 1:
            raise ValueError("a condition is {question, at_least}, all, any, or {count, of}")
        return self

    def leaves(self) -> list[Condition]:
        children = self.all or self.any or self.of
        return [leaf for c in children for leaf in c.leaves()] if children else [self]


class Rule(_Data):
    code: Code
    level: Literal[RiskLevel.MODERATE, RiskLevel.HIGH, RiskLevel.IMMINENT]
    when: Condition
    text: Wording


class Instrument(_Data):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    title: Wording
    groups: list[Group] = Field(min_length=1)
    emergency_protocol: list[Code] = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)

    @property
    def questions(self) -> dict[str, Question]:
        return {q.id: q for g in self.groups for q in g.questions}

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        question_ids = [
            (("groups", g, "questions", q, "id"), question.id)
            for g, group in enumerate(self.groups)
            for q, question in enumerate(group.questions)
        ]
        no_repeats(question_ids)
        no_repeats([(("rules", r, "code"), rule.code) for r, rule in enumerate(self.rules)])
        questions = self.questions
        danger = questions.get(IMMEDIATE_DANGER)
        if danger is None or danger.type != "yes_no" or danger.risky != "yes":
            raise DataProblem(("groups",), f"a yes/no question {IMMEDIATE_DANGER} is required")
        if not any(r.level == RiskLevel.IMMINENT and _asks_danger(r) for r in self.rules):
            raise DataProblem(("rules",), f"a rule must make {IMMEDIATE_DANGER}: yes imminent")
        for index, rule in enumerate(self.rules):
            for leaf in rule.when.leaves():
                _check_leaf(("rules", index, "when"), leaf, questions)
        return self


def _asks_danger(rule: Rule) -> bool:
    return rule.when.question == IMMEDIATE_DANGER and rule.when.at_least == "yes"


def _check_leaf(
    loc: tuple[str | int, ...], leaf: Condition, questions: dict[str, Question]
) -> None:
    question = questions.get(leaf.question or "")
    if question is None or question.type == "text":
        raise DataProblem(loc, f"asks about {leaf.question}: not a structured question")
    if leaf.at_least not in question.answers():
        raise DataProblem(loc, f"at_least is not an answer of {question.id}")


def describe(instrument: Instrument) -> dict[str, Any]:
    """The questions as plain data, for ``harbour instrument show``."""
    return {
        "version": instrument.version,
        "title": instrument.title,
        "groups": [
            {
                "id": group.id,
                "concern": group.concern,
                "title": group.title,
                "questions": [_question(q) for q in group.questions],
            }
            for group in instrument.groups
        ],
    }


def _question(question: Question) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": question.id,
        "text": question.text,
        "type": question.type,
        "required": question.is_required,
    }
    if question.type == "choice":
        shown["choices"] = [{"value": c.value, "text": c.text} for c in question.choices]
    if question.type == "scale":
        shown |= {"min": question.min, "max": question.max}
    return shown


def answer_ranks(instrument: Instrument, answers: Mapping[str, object]) -> dict[str, int]:
    """The risk rank of each structured answer given (already validated)."""
    questions = instrument.questions
    return {
        qid: questions[qid].rank(value)
        for qid, value in answers.items()
        if qid in questions and questions[qid].type != "text" and value is not None
    }
