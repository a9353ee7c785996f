"""Render a plan for one audience in one format, or a diff between two versions.

Pure functions of a PlanSnapshot (or a DiffView): no clock, no database, so the same plan gives
the same bytes every time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harbour.documents.family import FamilyView, family_view
from harbour.documents.staff import StaffView, staff_view
from harbour.documents.strings import BASE, strings
from harbour.documents.youth import YouthView, wallet_card, youth_view
from harbour.domain.plan_view import AUDIENCES, PlanSnapshot
from harbour.errors import InvalidInput, RenderError
from harbour.templating import register, render

FORMATS = {"html": "html", "text": "txt", "md": "md"}
DIFF_FORMATS = ("text", "html", "md")
PARTIALS = ("plans/_page.html", "plans/_base.css", "plans/_handed_over.css")
# The one view model each audience's templates are given: a view built for another audience is
# refused before any template sees it (the youth's card is a YouthView too, cut to fit).
VIEW_TYPES: dict[str, type] = {"staff": StaffView, "youth": YouthView, "family": FamilyView}


def template_name(kind: str, fmt: str) -> str:
    return f"plans/{kind}.{FORMATS[fmt]}"


register(
    *PARTIALS,
    *(template_name(kind, fmt) for kind in (*AUDIENCES, "diff") for fmt in FORMATS),
)


def render_plan(
    plan: PlanSnapshot, audience: str, fmt: str, *, templates_dir: Path, lang: str = BASE
) -> str:
    """The plan as ``audience`` may see it, in ``fmt`` (html, text or md)."""
    return render_copies(plan, audience, (fmt,), templates_dir=templates_dir, lang=lang)[fmt]


def render_copies(
    plan: PlanSnapshot,
    audience: str,
    formats: tuple[str, ...],
    *,
    templates_dir: Path,
    lang: str = BASE,
) -> dict[str, str]:
    """The plan as ``audience`` may see it, in each of ``formats``: the view is built once."""
    check(audience, AUDIENCES, "--audience")
    for fmt in formats:
        check(fmt, tuple(FORMATS), "--format")
    return render_views(
        views(plan, audience, formats), audience, templates_dir=templates_dir, lang=lang
    )


def render_views(
    prepared: Mapping[str, Any], audience: str, *, templates_dir: Path, lang: str = BASE
) -> dict[str, str]:
    """Each format's view (from ``views``) rendered with ``audience``'s template for it.

    The rendering step alone, apart from building the views (what the benchmark sets against
    bare Jinja). A view of another audience's type is refused, never rendered.
    """
    check(audience, AUDIENCES, "--audience")
    expected = VIEW_TYPES[audience]
    for fmt, view in prepared.items():
        check(fmt, tuple(FORMATS), "--format")
        if type(view) is not expected:
            raise RenderError("wrong_view", f"{audience} copy given a {type(view).__name__}")
    words = strings(lang)
    return {
        fmt: _render(templates_dir, template_name(audience, fmt), view, words)
        for fmt, view in prepared.items()
    }


def render_diff(diff: Any, fmt: str, *, templates_dir: Path, lang: str = BASE) -> str:
    """A DiffView (``harbour.documents.diff``) for a planning meeting: staff only."""
    check(fmt, DIFF_FORMATS, "--format")
    return _render(templates_dir, template_name("diff", fmt), diff, strings(lang))


def views(plan: PlanSnapshot, audience: str, formats: tuple[str, ...]) -> dict[str, Any]:
    """What each format's template is given for ``audience``, each view built once."""
    if audience == "staff":
        return dict.fromkeys(formats, staff_view(plan))
    if audience == "family":
        return dict.fromkeys(formats, family_view(plan))
    full = youth_view(plan)
    # The card (HTML) and the phone note (text) are cut to fit; Markdown is the full copy.
    card = wallet_card(full) if {"html", "text"} & set(formats) else None
    return {fmt: card if fmt in ("html", "text") else full for fmt in formats}


def _render(templates_dir: Path, name: str, view: Any, words: Mapping[str, Any]) -> str:
    text = render(templates_dir, name, {"v": view, "t": words})
    # One newline at the end: most templates end with exactly one, so most texts are kept as
    # they are rather than copied twice.
    if text.endswith("\n") and not text.endswith("\n\n"):
        return text
    return text.rstrip("\n") + "\n"


def check(value: str, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise InvalidInput([(field, f"one of {', '.join(allowed)}")])
