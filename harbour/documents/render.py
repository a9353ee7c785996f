"""Render a plan for one audience in one format, or a diff between two versions.

Pure functions of a PlanSnapshot (or a DiffView): no clock, no database, so the same plan gives
the same bytes every time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harbour.documents.family import family_view
from harbour.documents.staff import staff_view
from harbour.documents.strings import BASE, strings
from harbour.documents.youth import wallet_card, youth_view
from harbour.domain.plan_view import AUDIENCES, PlanSnapshot
from harbour.errors import InvalidInput
from harbour.templating import register, render

FORMATS = {"html": "html", "text": "txt", "md": "md"}
DIFF_FORMATS = ("text", "html", "md")
PARTIALS = ("plans/_page.html", "plans/_base.css")


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
    prepared = views(plan, audience, formats)
    return {
        fmt: _render(templates_dir, template_name(audience, fmt), prepared[fmt], lang)
        for fmt in formats
    }


def render_diff(diff: Any, fmt: str, *, templates_dir: Path, lang: str = BASE) -> str:
    """A DiffView (``harbour.documents.diff``) for a planning meeting: staff only."""
    check(fmt, DIFF_FORMATS, "--format")
    return _render(templates_dir, template_name("diff", fmt), diff, lang)


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


def _render(templates_dir: Path, name: str, view: Any, lang: str) -> str:
    text = render(templates_dir, name, {"v": view, "t": strings(lang)})
    return text.rstrip("\n") + "\n"


def check(value: str, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise InvalidInput([(field, f"one of {', '.join(allowed)}")])
