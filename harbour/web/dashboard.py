"""The program dashboard (supervisors, admins; ``/dashboard``): ``harbour report``'s figures, with
server-side SVG bar charts (no script, no chart library) beside the same figures as tables."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from harbour import templating
from harbour.auth.sessions import SignedIn
from harbour.web import adapter
from harbour.web.pages import call, harbour, render, staff_page

templating.register("web/dashboard.html", "web/_bar_chart.html")

# A chart's drawing, in its viewBox's units: the labels' column, then the bars, then the values.
WIDTH, LABELS, BARS, ROW, GAP = 400, 125, 230, 26, 8
RISK_FILLS = {
    "low": "#2e7d32",
    "moderate": "#b26a00",
    "high": "#c43e00",
    "imminent": "#a4000f",
    "none": "#767676",
}


def bar_chart(bars: list[tuple[str, int]], fills: dict[str, str] | None = None) -> dict[str, Any]:
    """Horizontal bars for ``(label, value)`` pairs, the longest the chart's full width (a bar of
    a value above zero at least a sliver): each bar's label, value, width, y and fill."""
    top = max((value for _, value in bars), default=0)
    rows = [
        {
            "label": label,
            "value": value,
            "y": index * (ROW + GAP),
            "width": max(round(BARS * value / top), 2) if value and top else 0,
            "fill": (fills or {}).get(label, "#0b4f8a"),
        }
        for index, (label, value) in enumerate(bars)
    ]
    return {
        "rows": rows,
        "width": WIDTH,
        "height": len(rows) * (ROW + GAP),
        "labels": LABELS,
        "row": ROW,
    }


@staff_page
async def dashboard(request: Request, who: SignedIn) -> Response:
    shown = await call(adapter.program_report, harbour(request), who.handle)
    cases, overdue = shown["open_cases"], shown["overdue_assessments"]
    by_risk = [(risk, n) for risk, n in cases["by_risk"].items()]
    by_days = [(days.replace("_", " "), n) for days, n in overdue["by_days_overdue"].items()]
    return render(
        request,
        "dashboard",
        who,
        title="Program dashboard",
        report=shown,
        risk_chart=bar_chart(by_risk, RISK_FILLS),
        overdue_chart=bar_chart(by_days),
    )
