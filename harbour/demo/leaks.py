"""The demo's self-check: no delivered message carries anything identifying a fictional youth.

Every identifying value the story handed Harbour (names, dates of birth, phones, addresses, notes,
threat names and descriptions, family and contacts, the youth's own words, items staff wrote) is
looked for in every message as received, ignoring case and spacing; so are the distinctive words
of names (a first name alone is a leak too). The fiction's names are invented words, so that no
generated name (Prefect names its runs like ``umber-roadrunner``) can pass for one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from harbour.demo.cast import Youth
from harbour.demo.inbox import Delivered

# Referral fields that hold codes or yes/no, not identifying text.
NOT_IDENTIFYING = frozenset(
    {"kind", "situation", "persons_at_risk", "relationship", "caretaker", "non_offending"}
)
WORDY = frozenset({"name", "preferred_name"})  # each word of a name is checked on its own too
# Words too common to say anything about a youth on their own (the labels are the story's own
# names for the cases, used in the demo's output; the full names are checked).
COMMON = frozenset(
    {"demo", "youth", "fictional", "trafficker", "caretaker", "contact", "senior", "network"}
    | {"cousin", "alpha", "bravo", "charlie", "delta", "echo"}
)
MIN_WORD = 5


@dataclass(frozen=True)
class Leak:
    message: int  # the message's number in the output folder
    youth: str
    field: str  # which kind of value: never the value itself


def identifying(youth: Youth) -> list[tuple[str, str]]:
    """(field, value) pairs to look for."""
    found = list(_walk(youth.referral, "referral"))
    for _, profile in youth.profiles:
        found += [
            (f"answers.{k}", v) for k, v in profile.items() if isinstance(v, str) and " " in v
        ]
    found += [("plan.item", item.text) for item in youth.additions]
    dated = [(f, v) for f, v in found if f.endswith("date_of_birth")]
    for field, value in dated:
        born = date.fromisoformat(value)
        found += [
            (field, born.strftime(pattern)) for pattern in ("%m/%d/%Y", "%d/%m/%Y", "%B %-d, %Y")
        ]
    words = [
        (f"{field}.word", word)
        for field, value in found
        if field.rsplit(".", 1)[-1] in WORDY
        for word in re.findall(r"[A-Za-z][A-Za-z'-]+", value)
        if len(word) >= MIN_WORD and word.lower() not in COMMON
    ]
    return list(dict.fromkeys(found + words))


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key not in NOT_IDENTIFYING:
                yield from _walk(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner, path)
    elif isinstance(value, str):
        yield path, value


def find_leaks(messages: Iterable[Delivered], cast: Iterable[Youth]) -> list[Leak]:
    needles = [
        (youth.label, field, _normal(value))
        for youth in cast
        for field, value in identifying(youth)
    ]
    leaks = []
    for message in messages:
        text = _normal(message.searchable)
        leaks += [
            Leak(message.number, label, field)
            for label, field, needle in needles
            if _contains(text, needle)
        ]
    return leaks


def find_in_files(folder: Path, cast: Iterable[Youth]) -> list[tuple[str, str, str]]:
    """(file, youth, field) for every identifying value found in any file under ``folder``:
    for Prefect's home (its database, logs and storage), which must hold opaque ids only."""
    needles = [
        (youth.label, field, _normal(value))
        for youth in cast
        for field, value in identifying(youth)
    ]
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", errors="ignore").lower()
        found += [
            (str(path.relative_to(folder)), label, field)
            for label, field, needle in needles
            if _contains(text, needle)
        ]
    return found


def needle_count(cast: Iterable[Youth]) -> int:
    return sum(len(identifying(youth)) for youth in cast)


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _contains(text: str, needle: str) -> bool:
    if " " in needle or not needle.isalpha():
        return needle in text
    return re.search(rf"\b{re.escape(needle)}\b", text) is not None
