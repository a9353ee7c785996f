"""Form posts turned into the documents the services take (the same shapes as the CLI's files),
and the services' refusals turned back into messages beside the fields they name.

What was typed goes only back into the form it came from: never into a URL, a log line or an
error page. Field names are the services' own paths (``youth.name``, ``family.0.phone``), so a
refusal's field is the input it belongs beside.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from harbour.cases.duplicates import LikelyDuplicate
from harbour.domain.text import is_digits
from harbour.errors import Conflict, InvalidInput

MAX_FIELDS = 400  # a form with more fields than any of ours is not one of ours
ON = "on"


class TooManyFields(InvalidInput):
    def __init__(self) -> None:
        super().__init__([("(form)", f"more than {MAX_FIELDS} fields")])


def values(form: FormData) -> dict[str, str]:
    """The form's text fields, the last value of each (files are not taken)."""
    if len(form) > MAX_FIELDS:
        raise TooManyFields()
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


def listed(form: FormData, name: str) -> list[str]:
    """Every value of a repeated field (checkboxes of one group)."""
    return [v for v in form.getlist(name) if isinstance(v, str)]


def text(typed: Mapping[str, str], name: str) -> str | None:
    """A text field as the services take it: absent when left empty."""
    value = typed.get(name, "").strip()
    return value or None


def checked(typed: Mapping[str, str], name: str) -> bool:
    return typed.get(name) == ON


def rows(
    typed: Mapping[str, str], prefix: str, texts: Iterable[str], flags: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """The filled rows of a repeated group (``prefix.N.field``), renumbered from 0 in order;
    a row with none of its text fields filled is an empty slot and left out."""
    texts, flags = tuple(texts), tuple(flags)
    numbers = sorted(
        {
            int(parts[1])
            for name in typed
            if (parts := name.split(".")) and len(parts) == 3 and parts[0] == prefix
            if is_digits(parts[1]) and len(parts[1]) < 4
        }
    )
    found = []
    for number in numbers:
        row: dict[str, Any] = {
            name: value
            for name in texts
            if (value := text(typed, f"{prefix}.{number}.{name}")) is not None
        }
        if not row:
            continue
        row.update({name: checked(typed, f"{prefix}.{number}.{name}") for name in flags})
        found.append((number, row))
    return [row for _, row in found]


def renumbered(
    typed: Mapping[str, str], prefix: str, texts: Iterable[str], flags: Iterable[str] = ()
) -> dict[str, str]:
    """The typed values of a repeated group, its filled rows renumbered from 0 as the service
    saw them, so a refusal's ``family.1.phone`` is beside the second filled row."""
    texts, flags = tuple(texts), tuple(flags)
    shown: dict[str, str] = {}
    for number, row in enumerate(rows(typed, prefix, texts, flags)):
        for name, value in row.items():
            if isinstance(value, bool):
                if value:
                    shown[f"{prefix}.{number}.{name}"] = ON
            else:
                shown[f"{prefix}.{number}.{name}"] = value
    return shown


@dataclass(frozen=True)
class Refusal:
    """A service's refusal as a form shows it: messages by field, and the rest at the top."""

    by_field: dict[str, str] = field(default_factory=dict)
    general: list[tuple[str, str]] = field(default_factory=list)
    code: str | None = None  # the service's error code, where the page offers a way on

    def __bool__(self) -> bool:
        return bool(self.by_field or self.general)


# What a service says to do in the terms of the command line or the referral's file (an option,
# a file's key), and in the forms' (their box, the field it is beside): ``intake.check_order``
# of a protective order's date or details without the order, ``steps.not_recordable``.
_ORDER_WORDS = (
    (
        re.compile(r"say (--protective-order|threats\.\d+\.protective_order: true) too$"),
        "tick “There is a protective order” too",
    ),
    (re.compile(r"empty it too \(--clear [a-z-]+\)$"), "empty it too"),
    # ``steps.not_recordable``: an older version's step is recorded on the latest one.
    (re.compile(r"\(no --version\)$"), "(under “Versions”, the last one)"),
    # A free-text reason the command line takes from a file or stdin: the form has its box.
    (re.compile(r" \(@FILE or -\)$"), ""),
)
# pydantic's refusal of a choice's value, naming the values ("Input should be 'low', 'moderate',
# 'high' or 'imminent'"): the form offers them, so it says to choose one.
_NOT_OFFERED = re.compile(r"Input should be '[^']*'(?:(?:, | or )'[^']*')*")
CHOOSE = "choose one of the options offered"


def refusal(
    exc: InvalidInput, known: re.Pattern[str], aliases: Mapping[str, str] | None = None
) -> Refusal:
    """Place each problem beside its field when the form has it (``known`` matches the form's
    field names; ``aliases`` maps a service's name, e.g. ``--due``, to the form's); the others
    go in the summary. A reason that says what to do in the command line's terms says it in
    the form's (``_ORDER_WORDS``), the command line's own words staying as they are; one that
    lists a choice's values says to choose one of those the form offers."""
    by_field: dict[str, str] = {}
    general = []
    for name, reason in exc.problems:
        for said, words in _ORDER_WORDS:
            reason = said.sub(words, reason)
        if _NOT_OFFERED.fullmatch(reason):
            reason = CHOOSE
        target = (aliases or {}).get(name, name)
        if known.fullmatch(target):
            by_field[target] = f"{by_field[target]}; {reason}" if target in by_field else reason
        else:
            general.append((name, reason))
    return Refusal(by_field, general)


REUSED = "this form was already submitted with other values: open it again to start afresh"
SPENT = "this form was sent before, and what it did is over now: open it again to start afresh"

# The refusals whose text says what to do on the command line (a command, a flag), as the
# console says them, by the refusal's code: what to do on the page that shows them.
SAID = {
    "cover_covering": "you cover the case already: end that cover first (“End my cover now”, "
    "on the case's page)",
    "visit_open": "you have a visit not checked in: press “I'm back” first",
    # Discharging or closing a case (the lifecycle page): where on the case's pages to do it.
    "discharge_plan_not_final": "finalize the plan version of the discharge assessment first "
    "(“Plan workbench”, on the case's page, then “Finalize”)",
    "youth_missing": "the youth is recorded missing: record their return first (“Record the "
    "return”, on the case's “Missing youth” page)",
    "return_screening_open": "the youth is back from being missing and not yet screened: "
    "complete the return screening first (on the case's page, “Assess at”: “just left”, then "
    "“Open the assessment”)",
    # A referral of a youth the agency has a case of: the box the refer page shows with it.
    "likely_duplicate": "the agency has a case with the same youth name and date of birth: "
    "{cases}; nothing was written (to refer anyway, tick “This is a different youth: refer "
    "anyway” below, then “Record the referral”)",
}


def conflict(exc: Conflict) -> Refusal:
    """A refusal because the case moved on (or the form was sent before with other values),
    shown above the form that keeps what was typed."""
    if exc.code == "idempotency_key_reused":
        return Refusal(general=[("form", REUSED)])
    if exc.code == "idempotency_key_spent":  # a cover or visit ended, an assessment superseded
        return Refusal(general=[("form", SPENT)])
    said = SAID.get(exc.code) or exc.detail or exc.code
    if isinstance(exc, LikelyDuplicate):  # the cases it resembles, each status as pages say it
        alike = (f"{e.reference} ({e.status.replace('_', ' ')})" for e in exc.existing)
        said = said.format(cases=", ".join(alike))
    return Refusal(general=[("not done", said)], code=exc.code)
