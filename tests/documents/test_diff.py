"""The "what changed" document: items added, removed and changed by section, and the risk level."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from harbour.documents.diff import diff_view
from harbour.documents.render import render_diff
from harbour.domain.plan_diff import diff
from harbour.domain.plan_view import PlanSnapshot
from harbour.domain.vocab import ItemState
from harbour.errors import InvalidInput
from tests.documents.fixtures import HOSTILE, ITEMS, fixed_plan
from tests.documents.helpers import TEMPLATES
from tests.documents.test_golden import check_golden


def versions() -> tuple[PlanSnapshot, PlanSnapshot]:
    old = fixed_plan(version_number=2, risk_level="moderate", items=ITEMS[:-4])
    items = list(ITEMS)
    by_key = {item.key: n for n, item in enumerate(items)}
    police = by_key["emergency.police"]
    items[police] = replace(items[police], done_at=datetime(2026, 3, 3, 12, tzinfo=UTC))
    bag = by_key["cl.bag"]
    items[bag] = replace(items[bag], state=ItemState.ACCEPTED)
    school = by_key["step.school"]
    items[school] = replace(items[school], due_on=date(2026, 3, 12))
    del items[by_key["added:r1"]]
    return old, fixed_plan(items=tuple(items))


def rendered_diff(old: PlanSnapshot, new: PlanSnapshot, fmt: str) -> str:
    return render_diff(diff_view(diff(old, new), new.timezone), fmt, templates_dir=TEMPLATES)


@pytest.mark.parametrize(("fmt", "ext"), [("text", "txt"), ("html", "html"), ("md", "md")])
def test_diff_matches_golden_file(fmt: str, ext: str) -> None:
    check_golden(f"diff.{ext}", rendered_diff(*versions(), fmt))


def test_diff_names_each_kind_of_change_by_section() -> None:
    text = rendered_diff(*versions(), "text")
    assert "Risk level: Moderate -> High" in text
    assert "- Removed: Trafficker has attempted contact in the last 30 days" in text
    assert "Decision: suggested -> accepted" in text
    assert "Due: 2026-03-16 -> 2026-03-12" in text
    assert "Done at: none -> 2026-03-03 07:00" in text  # EST: summer time starts 8 March
    assert "+ Added: Coach Lee" in text
    assert text.index("EMERGENCY PROTOCOL") < text.index("RISKS") < text.index("STRATEGIES")


def test_no_changes_says_so() -> None:
    plan = fixed_plan()
    text = rendered_diff(plan, plan, "text")
    assert "No changes." in text and "High (unchanged)" in text


def test_hostile_wording_is_inert_in_the_diff() -> None:
    old, new = versions()
    new = replace(new, items=tuple(replace(i, staff_text=HOSTILE) for i in new.items))
    html = rendered_diff(old, new, "html")
    assert "<script" not in html and html.count("</style>") == 1 and "\u202e" not in html


def test_unknown_diff_format_is_refused() -> None:
    with pytest.raises(InvalidInput, match="--format"):
        rendered_diff(*versions(), "pdf")
