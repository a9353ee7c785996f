"""Plan documents: plans rendered per second for each audience (html, text and Markdown in turn),
against the same templates rendered by a bare Jinja environment (the same folder, autoescape,
whitespace and ``md`` filter; no allowlist, finalize or strict undefined) with the same context
prepared beforehand, in the same run.

The plan carries every catalogue strategy and emergency step, accepted, so each copy is as full
as the catalogue allows.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import Row
from harbour.documents import render as documents
from harbour.documents.render import render_copies
from harbour.documents.strings import strings
from harbour.domain.catalogue import Catalogue
from harbour.domain.plan_view import (
    ContactView,
    PlanItemView,
    PlanSnapshot,
    ResourceView,
    ThreatView,
)
from harbour.domain.vocab import ItemState, PlanSection, ThreatKind
from harbour.reference import load_catalogue
from harbour.settings import Settings
from harbour.templating import markdown_escape

FORMATS = ("html", "text", "md")


def run(size: int = 2000) -> list[Row]:
    settings = Settings()
    plan = full_plan(load_catalogue(settings))
    bare = _bare_environment(settings.templates_dir)
    rows = []
    for audience in ("staff", "youth", "family"):
        prepared = [
            (bare.get_template(documents.template_name(audience, fmt)), {"v": v, "t": strings()})
            for fmt, v in documents.views(plan, audience, FORMATS).items()
        ]
        harbour = bare_time = 0.0
        for _ in range(2):  # alternating, so that a change in the machine's load falls on both
            harbour += _timed(lambda a=audience: _all_formats(plan, a, settings), size // 2)
            bare_time += _timed(lambda p=prepared: _bare_formats(p), size // 2)
        rows.append(
            Row(
                f"render {audience} copy (html, text, md)",
                size // 2 * 2 * 3 / harbour,
                size // 2 * 2 * 3 / bare_time,
                "documents/s",
                "same templates rendered bare, context prepared",
            )
        )
    return rows


def _bare_environment(folder: Path) -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml"), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["md"] = markdown_escape
    return env


def _bare_formats(prepared: list[tuple[Any, dict[str, Any]]]) -> None:
    for template, context in prepared:
        template.render(**context)


def _all_formats(plan: PlanSnapshot, audience: str, settings: Settings) -> None:
    render_copies(plan, audience, FORMATS, templates_dir=settings.templates_dir)


def _timed(work, size: int) -> float:  # type: ignore[no-untyped-def]
    work()  # warm the template cache: the figure is steady-state rendering
    started = time.perf_counter()
    for _ in range(size):
        work()
    return time.perf_counter() - started


def full_plan(catalogue: Catalogue) -> PlanSnapshot:
    items = (
        [
            PlanItemView(
                s.code,
                PlanSection.STRATEGIES,
                s.staff_text,
                s.youth_text,
                ItemState.ACCEPTED,
                phase=s.phase,
                code=s.code,
                owner=s.owner,
            )
            for s in catalogue.strategies.values()
        ]
        + [
            PlanItemView(
                e.code,
                PlanSection.EMERGENCY,
                e.staff_text,
                e.youth_text,
                ItemState.ACCEPTED,
                code=e.code,
                owner=e.owner,
            )
            for e in catalogue.emergency_protocol.values()
        ]
        + [
            PlanItemView(
                f"{s.code}.step",
                PlanSection.STEPS,
                s.step.staff_text,
                s.step.youth_text,
                ItemState.ACCEPTED,
                owner=s.owner,
                due_on=date(2026, 3, 9),
            )
            for s in catalogue.strategies.values()
            if s.step
        ]
    )
    return PlanSnapshot(
        case_reference="HB-BENCH-0001",
        version_number=2,
        status="final",
        point="planning_meeting",
        risk_level="high",
        computed_level="high",
        created_at=datetime(2026, 3, 2, 14, tzinfo=UTC),
        finalized_at=None,
        next_due_at=datetime(2026, 3, 9, 14, tzinfo=UTC),
        items=tuple(items),
        reasons=(("threat_contact", "Recent contact"),),
        threats=(ThreatView(ThreatKind.TRAFFICKER, "Bench Threat", True, date(2026, 6, 1)),),
        contacts=(ContactView("Bench Contact", "aunt", "555-0100", "family_member"),),
        resources=tuple(
            ResourceView(r.code, r.name, r.call, r.text, r.emergency) for r in catalogue.resources
        ),
    )
