"""The one Jinja2 environment for all of Harbour: documents, notifications, anything rendered.

Rules it enforces, so no caller has to remember them:

- templates load only from ``settings.templates_dir`` and only by a name some module registered
  (``register("plans/staff.html")``); includes and extends are checked the same way;
- ``.html``/``.htm``/``.xml`` templates autoescape; ``.txt`` and ``.md`` do not (use ``|md`` in
  Markdown on anything that came from data);
- a missing variable fails the render (``StrictUndefined``), and so does a ``None`` printed with
  ``{{ }}``: optional values must be handled with ``{% if %}`` in the template, never printed blank;
- bidirectional override characters in the output are shown as visible codes, not obeyed;
- ``from_string`` is refused: data is never a template.

Whitespace: ``trim_blocks`` and ``lstrip_blocks`` are on and the trailing newline is kept, so
``{% %}`` lines vanish from text output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from harbour.errors import RenderError

if TYPE_CHECKING:
    from jinja2 import Environment

ALLOWED: set[str] = set()

# LRE RLE PDF LRO RLO, LRI RLI FSI PDI: they reorder what a reader sees (CVE-2021-42574 style).
_BIDI_CHARS = "".join(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))
_BIDI_CONTROLS = re.compile(f"[{_BIDI_CHARS}]")
_MD_INLINE = re.compile(r"([\\`*_\[\]#!|<>~&])")
_MD_LINE_START = re.compile(r"^(\s*)([-+=]|\d+(?=[.)]))")


def register(*names: str) -> None:
    """Allow these template names (relative to the templates folder, with ``/``)."""
    for name in names:
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"template name must be relative: {name}")
        ALLOWED.add(name)


def refuse_none(value: Any) -> Any:
    """The ``finalize`` hook, called on every printed value: refuse ``None``. (Bidi overrides
    are shown as codes in the whole rendered text at once, by ``render``: one search of the
    output rather than one per printed value.)"""
    if value is None:
        raise RenderError("none_value", "a template printed a missing value")
    return value


def neutralize(value: Any) -> Any:
    """Refuse ``None``, show bidi overrides as ``[U+202E]``: what the output gets, for a value
    a filter transforms further (``|md`` escapes it afterwards)."""
    if value is None:
        raise RenderError("none_value", "a template printed a missing value")
    plain = type(value) is str or (isinstance(value, str) and not isinstance(value, Markup))
    # Printed values rarely hold one: look (no callback, no copy) before substituting.
    if plain and _has_bidi(value):
        return _BIDI_CONTROLS.sub(_bidi_code, value)
    return value


def _has_bidi(text: str) -> bool:
    """Whether ``text`` holds a bidi control: none in ASCII text (one check of the whole
    string); otherwise nine substring tests, each a fast scan (and none at all in text of
    Latin-1 letters only, which cannot hold one) where the regex's character class tests every
    character in Python's regex engine, tens of times slower on a document with one accent."""
    return not text.isascii() and any(char in text for char in _BIDI_CHARS)


def _bidi_code(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group()):04X}]"


def markdown_escape(value: Any) -> str:
    """Escape Markdown and inline-HTML syntax so data renders as the literal text it is."""
    text = " ".join(str(neutralize(value)).splitlines())
    text = _MD_INLINE.sub(r"\\\1", text)
    return _MD_LINE_START.sub(_escape_line_start, text)


def _escape_line_start(match: re.Match[str]) -> str:
    marker = match.group(2)
    return match.group(1) + (marker + "\\" if marker[0].isdigit() else "\\" + marker)


@lru_cache(maxsize=8)
def environment(templates_dir: Path) -> Environment:
    from harbour.jinja_environment import build  # Jinja is imported only when rendering

    return build(templates_dir, ALLOWED, refuse_none, markdown_escape)


def render(templates_dir: Path, name: str, context: Mapping[str, Any]) -> str:
    """Render a registered template with ``context``; any failure is a RenderError."""
    if name not in ALLOWED:
        raise RenderError("template_not_allowed", name)
    # The same Path object each time: its hash is cached, a new Path's is computed (~50 us).
    folder = templates_dir if isinstance(templates_dir, Path) else Path(templates_dir)
    template_env = environment(folder)
    from jinja2 import TemplateError  # already loaded by environment()

    try:
        text = template_env.get_template(name).render(**context)
    except RenderError:
        raise
    except TemplateError as exc:
        raise RenderError(detail=f"{name}: {type(exc).__name__}") from None
    # Printed values rarely hold a bidi override: look in the whole text before substituting.
    if _has_bidi(text):
        return _BIDI_CONTROLS.sub(_bidi_code, text)
    return text
