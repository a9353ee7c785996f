"""Plan documents: plans rendered per second for each audience (html, text and Markdown in turn),
against a trivial template rendered through the same Jinja environment in the same run.

The plan carries every catalogue strategy and emergency step, accepted, so each copy is as full
as the catalogue allows.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from benchmarks.common import Row
from harbour.documents.render import render_plan
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
from harbour.templating import register, render

FORMATS = ("html", "text", "md")
TRIVIAL = "bench/trivial.txt"


def run(size: int = 2000) -> list[Row]:
    settings = Settings()
    plan = full_plan(load_catalogue(settings))
    register(TRIVIAL)
    folder = settings.templates_dir
    baseline = size / _timed(lambda: render(folder, TRIVIAL, {"v": "x"}), size)
    rows = []
    for audience in ("staff", "youth", "family"):
        per_second = size / _timed(lambda a=audience: _all_formats(plan, a, settings), size) * 3
        rows.append(
            Row(
                f"render {audience} copy (html, text, md)",
                per_second,
                baseline,
                "documents/s",
                "trivial template renders/s",
            )
        )
    return rows


def _all_formats(plan: PlanSnapshot, audience: str, settings: Settings) -> None:
    for fmt in FORMATS:
        render_plan(plan, audience, fmt, templates_dir=settings.templates_dir)


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
