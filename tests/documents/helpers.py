"""Rendering shortcuts for the document tests."""

from __future__ import annotations

from harbour.documents.render import render_plan
from harbour.domain.plan_view import PlanSnapshot
from harbour.shipped import shipped_templates

TEMPLATES = shipped_templates()
FORMATS = ("html", "text", "md")
EXTENSIONS = {"html": "html", "text": "txt", "md": "md"}


def rendered(plan: PlanSnapshot, audience: str, fmt: str, lang: str = "en") -> str:
    return render_plan(plan, audience, fmt, templates_dir=TEMPLATES, lang=lang)


def every_format(plan: PlanSnapshot, audience: str) -> dict[str, str]:
    return {fmt: rendered(plan, audience, fmt) for fmt in FORMATS}
