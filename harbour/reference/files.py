"""Reading Harbour's versioned YAML data files (policy, catalogue, instrument) into pydantic models.

A built-in file ships in ``harbour/data``; an agency may point a setting at its own. A bad file is
refused with its path, the line of the problem and what is wrong (the data is public wording, but
we still never echo values). Loaded files are cached by path and modification time.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harbour.domain.datacheck import DataProblem
from harbour.domain.text import is_digits
from harbour.errors import InvalidInput
from harbour.shipped import shipped
from harbour.validation import UniqueKeyLoader, problems, read_text

M = TypeVar("M", bound=BaseModel)


def builtin(name: str) -> Path:
    return shipped("harbour", "data") / name


def load_model(model: type[M], path: Path, **context: Hashable) -> M:
    """The file at ``path`` validated as ``model``, its validators given ``context`` (what
    another file says that this one is checked against); cached while the file is unchanged."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise InvalidInput([(str(path), f"cannot be read ({exc.strerror})")]) from None
    given = tuple(sorted(context.items()))
    return _load_cached(model, str(path.resolve()), stamp, given)  # type: ignore[return-value]


@lru_cache(maxsize=32)
def _load_cached(
    model: type[BaseModel], path: str, _stamp: int, context: tuple[tuple[str, Hashable], ...]
) -> BaseModel:
    text = read_text(Path(path), code="bad_data_file")
    data = _parse_yaml(path, text)
    try:
        return model.model_validate(data, context=dict(context))
    except DataProblem as exc:
        where = f"{path}:{_line_of(_compose(text), exc.loc)}"
        raise InvalidInput(
            [(where, f"{'.'.join(exc.loc)}: {exc.message}")], "bad_data_file"
        ) from None
    except ValidationError as exc:
        node = _compose(text)
        refused = [
            (f"{path}:{_line_of(node, _loc_of(field))}", f"{field}: {reason}")
            for field, reason in problems(exc)
        ]
        raise InvalidInput(refused, code="bad_data_file") from None


def _parse_yaml(path: str, text: str) -> Any:
    """The document's data, parsed by libyaml (PyYAML's pure-Python parser is ~20x slower)."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        problem = getattr(exc, "problem", None) or "is not valid YAML"
        raise InvalidInput([(where, f"not valid YAML ({problem})")], code="bad_data_file") from None


def _compose(text: str) -> yaml.Node | None:
    """The node tree, for line numbers: composed only when a file is refused."""
    return yaml.compose(text, Loader=yaml.CSafeLoader)


def _loc_of(field: str) -> list[str]:
    return [] if field == "(document)" else field.split(".")


def _line_of(node: yaml.Node | None, loc: list[str]) -> int:
    """The line of the deepest node of ``loc`` that exists (1-based); 1 for an empty document."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _child(node: yaml.Node, part: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == part:
                return value  # type: ignore[no-any-return]
    if isinstance(node, yaml.SequenceNode) and is_digits(part) and int(part) < len(node.value):
        return node.value[int(part)]  # type: ignore[no-any-return]
    return None
