"""The string catalogue: every word a document prints that is not plan data, per language.

``strings/en.yaml`` is complete; another language file holds the same keys translated, and any key
it lacks falls back to English, so a partial translation still renders a whole document.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from harbour.errors import InvalidInput

FOLDER = Path(__file__).parent / "strings"
BASE = "en"


def languages() -> list[str]:
    return sorted(path.stem for path in FOLDER.glob("*.yaml"))


@lru_cache(maxsize=8)
def strings(lang: str = BASE) -> Mapping[str, Any]:
    """The catalogue for ``lang`` over English, read-only."""
    if lang not in languages():
        raise InvalidInput([("--lang", f"one of {', '.join(languages())}")])
    merged = _merge(_load(BASE), _load(lang)) if lang != BASE else _load(BASE)
    return _freeze(merged)


def _load(lang: str) -> dict[str, Any]:
    text = (FOLDER / f"{lang}.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=yaml.CSafeLoader) or {}
    if not isinstance(data, dict):
        raise InvalidInput([(f"strings/{lang}.yaml", "must be a mapping")])
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merge(base[key], value)
        elif key in base:
            merged[key] = value
    return merged


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    return value
