"""The only values a notification may carry (guide/confidentiality.md, rule 6).

A context is checked when it is enqueued, so nothing else can reach the outbox table or a template:
a fixed set of keys, and values that are short codes (letters, digits, ``_ : / . -``) or integers.
Names, places and free text cannot pass the character check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

KEYS = frozenset(
    {
        "case_ref",
        "due_date",
        "alert_id",
        "path",
        "tier",
        "count",
        "more",
        "items",
        "failed_kind",
        "outbox_id",
        "event",  # a lifecycle event's name (harbour.case.referred), whose steps keep failing
        "error",  # an error code (a Harbour code or an exception's class name), never its text
        "staff",  # a staff handle: who started a cover
        "handle",  # a staff handle (whose visit is overdue): operational, never a name
        "enrolment",  # an enrolment's id: the relay puts its link in (harbour.notify.links)
    }
)
ITEM_KEYS = frozenset({"case_ref", "kind", "due_date", "path", "alert_id", "tier"})
MAX_ITEMS = 50
_CODE = re.compile(r"[A-Za-z0-9_:/.\-]{0,120}")
_KEY_NAME = re.compile(r"[a-z_]{1,30}")


class ContextError(ValueError):
    """A programming error: something outside the allowlist was handed to a notification."""


def clean_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``context`` if every key and value is allowed; otherwise ContextError."""
    cleaned: dict[str, Any] = {}
    for key, value in context.items():
        _check_key(key, KEYS)
        cleaned[key] = _clean_items(value) if key == "items" else _clean_scalar(value)
    return cleaned


def _clean_items(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise ContextError(f"items: a list of at most {MAX_ITEMS}")
    items = []
    for item in value:
        if not isinstance(item, Mapping):
            raise ContextError("items: each item is a mapping")
        for key in item:
            _check_key(key, ITEM_KEYS)
        items.append({key: _clean_scalar(v) for key, v in item.items()})
    return items


def _clean_scalar(value: Any) -> str | int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and _CODE.fullmatch(value):
        return value
    raise ContextError("a value is not a short code or a number")


def _check_key(key: object, allowed: frozenset[str]) -> None:
    if key not in allowed:
        shown = key if isinstance(key, str) and _KEY_NAME.fullmatch(key) else "(unprintable)"
        raise ContextError(f"key not allowed in a notification: {shown}")
