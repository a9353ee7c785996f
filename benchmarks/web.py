"""The console's pages with 10,000 cases in the agency: the caseload (first page) and a case page
(with a plan version), each served over HTTP through the whole console (session lookup, security
headers, the thread pool), against the same adapter call and template render done directly in
the same process, in the same run. Median and 95th percentile, on each database."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks.alert import _safest
from benchmarks.common import BACKENDS, Row, settle, temp_store
from benchmarks.intake import _referral
from benchmarks.sweep import seed_cases
from harbour import templating
from harbour.admin.staffing import StaffIn, create_staff
from harbour.app import App, UnitOfWork
from harbour.assessments.submit import submit_assessment
from harbour.auth import sessions
from harbour.cases.intake import refer
from harbour.db.models import Staff
from harbour.domain.refs import short_form
from harbour.web import adapter, cookies, pages
from harbour.web.server import create_app

HANDLE = "bench-sup"


def run(size: int = 10_000) -> list[Row]:
    if size < 1:
        return []
    # At smoke size (python -m benchmarks --smoke) two of each: enough for both figures.
    repeats = 100 if size >= 1000 else 2
    rows = []
    for backend in BACKENDS:
        with temp_store(backend) as app:
            rows += _pages(app, backend, size, repeats)
    return rows


def _pages(app: App, backend: str, size: int, repeats: int) -> list[Row]:
    from starlette.testclient import TestClient

    seed_cases(app, size)
    settle(app)
    ref = _case_with_plan(app)
    token = app.run(
        lambda uow: sessions.start(uow, uow.session.query(Staff).filter_by(handle=HANDLE).one())
    )[0]
    web = TestClient(create_app(app), base_url="http://127.0.0.1")
    web.cookies.set(cookies.name(app.settings, cookies.SESSION), token)
    who = sessions.current(app, token)
    flags = {"due": False, "overdue": False, "escalated": False}
    checks: list[tuple[str, str, Callable[[], Any]]] = [
        (
            "caseload page",
            "/",
            lambda: _render(app, who, "caseload", adapter.caseload(app, HANDLE, page=1, **flags)),
        ),
        (
            "case page",
            f"/cases/{short_form(ref)}",
            lambda: _render(app, who, "case", adapter.case_page(app, HANDLE, short_form(ref))),
        ),
    ]
    rows = []
    for name, path, direct in checks:
        assert web.get(path).status_code == 200
        served: list[float] = []
        bare: list[float] = []
        for _ in range(repeats):  # alternating, so that the machine's load falls on both
            served.append(_timed(partial(web.get, path)))
            bare.append(_timed(direct))
        for label, pick in (("p50", _median), ("p95", _p95)):
            rows.append(
                Row(
                    f"web: {name} {label}, {size:,} cases ({backend})",
                    pick(served) * 1000,
                    pick(bare) * 1000,
                    "ms",
                    "same adapter call and render, direct",
                )
            )
    web.close()
    return rows


def _render(app: App, who: Any, template: str, shown: dict[str, Any]) -> str:
    """What the page handler renders, called directly (``pages.render`` without a request)."""
    off = dict.fromkeys(("due", "overdue", "escalated"), False)
    extra = {"filters": off, "links": {"previous": None, "next": "/?page=2"}}
    by_page: dict[str, dict[str, Any]] = {
        "caseload": extra,
        "case": {"points": pages.ASSESSMENT_POINTS},
    }
    own = by_page.get(template, {})
    context = {"title": "-", **own, **shown}
    values = pages.page_values(who, template, context)
    return templating.render(app.settings.templates_dir, f"web/{template}.html", values)


def _case_with_plan(app: App) -> str:
    """One more case, referred and assessed, so that its page has a plan and a timeline."""

    def coordinator(uow: UnitOfWork) -> None:
        create_staff(uow, StaffIn(handle="bench-coord", agency="bench", role="coordinator"))

    app.run(coordinator)
    case = refer(app, "bench-coord", _referral(0) | {"caseworker": "bench-cw0"}, None)
    submit_assessment(app, "bench-cw0", case.reference, "initial_contact", _safest(app))
    return case.reference


def _timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]
