"""Turning outside input into validated models, with errors that name fields and never values."""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harbour.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

MAX_DOCUMENT_BYTES = 1_000_000
_FIELD = re.compile(r"[A-Za-z0-9_-]{1,64}")


# What makes a repeated request the same one (a referral, an assessment, an add sent twice):
# a caller's token, never a value typed about anyone.
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]


class _KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    key: IdempotencyKey


def parse_key(key: str | None) -> str | None:
    """An idempotency key as given (``--idempotency-key``), refused unless it is one."""
    if key is None:
        return None
    return parse(_KeyIn, {"key": key}, prefix="--idempotency-key").key


def parse(
    model: type[M],
    data: object,
    prefix: str = "",
    *,
    today: date | None = None,
    whose: str = "",
) -> M:
    """Validate ``data``; ``today`` (the App clock's date) is what past dates are checked
    against. ``prefix`` names where the data came from in error messages: ``"--"`` when its
    fields are command-line options (``due_on`` reads ``--due-on``), otherwise an option or a
    file the fields sit under (``--idempotency-key.key``). ``whose`` says what the fields
    describe when only some kinds of it require them: ``"a family member"`` makes a missing
    ``--relationship`` read "is required for a family member"."""
    try:
        return model.model_validate(data, context={"today": today} if today else None)
    except ValidationError as exc:
        raise InvalidInput(problems(exc, prefix, whose)) from None


def problems(exc: ValidationError, prefix: str = "", whose: str = "") -> list[tuple[str, str]]:
    found = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        parts = [_named(part) for part in err["loc"]]
        if err["type"] == "extra_forbidden" and parts:
            parts[-1] = "(unknown field)"  # its name was typed: not echoed
        if prefix == "--" and parts:
            found.append((".".join([option_name(parts[0]), *parts[1:]]), _reason(err, whose)))
            continue
        path = ".".join(parts) or "(document)"
        found.append((f"{prefix}.{path}" if prefix else path, _reason(err, whose)))
    return found


def option_name(field: str) -> str:
    """The command-line option for a model field: ``due_on`` is ``--due-on``."""
    return "--" + field.replace("_", "-")


def _named(part: str | int) -> str:
    """A location part as shown: a field name or an index; anything else came from the input
    (a key typed into a mapping) and is not echoed."""
    text = str(part)
    return text if _FIELD.fullmatch(text) else "(key)"


# pydantic's wording where it names one of Harbour's classes ("a valid dictionary or instance
# of FamilyIn"), or reads as if no field were named ("Field required" beside ``--relationship``:
# ``required``): said of the field the message is beside.
_REWORDED = {
    "model_type": "must be a mapping of fields (name: value)",
    "model_attributes_type": "must be a mapping of fields (name: value)",
    "dict_type": "must be a mapping of fields (name: value)",
}


def _reason(err: Any, whose: str = "") -> str:
    # pydantic's own messages never quote the input for these types; custom ones are ours.
    if err["type"] == "missing":
        return required(whose)
    reworded = _REWORDED.get(err["type"])
    return str(err["msg"]).removeprefix("Value error, ") if reworded is None else reworded


def required(whose: str = "") -> str:
    """Why a field left out is refused: "is required", or with ``whose`` (what the fields
    describe, when only some kinds of it require the field) "is required for a caretaker"."""
    return f"is required for {whose}" if whose else "is required"


def read_text(path: Path, code: str | None = None) -> str:
    """A regular file's text, refused (as ``code``) if unreadable, over 1 MB or not UTF-8."""
    raw = read_bounded(path, code)
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark from a Windows editor is fine
    except UnicodeDecodeError:
        raise InvalidInput([(str(path), "is not UTF-8 text")], code) from None


def load_document(path: Path) -> Any:
    """Read a JSON or YAML file (by extension), refusing oversized or malformed ones by line."""
    text = read_text(path)
    if path.suffix.lower() == ".json":
        return _parse_json(path, text)
    return _parse_yaml(path, text)


def read_bounded(path: Path, code: str | None = None) -> bytes:
    """The bytes of a regular file of at most 1 MB, its size checked before reading and the read
    bounded (a file may grow meanwhile); a FIFO or device is refused without waiting on it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise InvalidInput([(str(path), f"cannot be read ({exc.strerror})")], code) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # before fdopen, which refuses a folder by an OSError
        os.close(fd)
        raise InvalidInput([(str(path), "is not a regular file")], code)
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > MAX_DOCUMENT_BYTES:
            raise InvalidInput([(str(path), "is larger than 1 MB")], code)
        try:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            raise InvalidInput([(str(path), f"cannot be read ({exc.strerror})")], code) from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InvalidInput([(str(path), "is larger than 1 MB")], code)
    return raw


REPEATED_KEY = "repeats a key (each may appear once)"


class _RepeatedKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _RepeatedKey
    return found


class UniqueKeyLoader(yaml.CSafeLoader):
    """libyaml's safe loader, refusing a mapping that repeats a key (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:  # unhashable: the constructor refuses it below
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None, None, REPEATED_KEY, key_node.start_mark
                )
        return super().construct_mapping(node, deep)  # type: ignore[no-untyped-call,no-any-return]


def _parse_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except _RepeatedKey:
        raise InvalidInput([(str(path), f"an object {REPEATED_KEY}")]) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput([(f"{path}:{exc.lineno}", "is not valid JSON")]) from None
    except (ValueError, RecursionError):  # absurd numbers, nesting too deep
        raise InvalidInput([(str(path), "is not JSON Harbour can read")]) from None


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        repeated = getattr(exc, "problem", None) == REPEATED_KEY
        raise InvalidInput([(where, REPEATED_KEY if repeated else "is not valid YAML")]) from None
    except RecursionError:
        raise InvalidInput([(str(path), "is nested too deeply")]) from None
    except (ValueError, TypeError):  # e.g. a date that does not exist
        reason = "holds a value YAML cannot read (a date that does not exist?)"
        raise InvalidInput([(str(path), reason)]) from None
