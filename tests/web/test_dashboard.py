"""The program dashboard over HTTP: supervisors and admins see their agency's figures (a chart drawn
on the server, the same figures as tables), never another agency's; coordinators and caseworkers
are refused and see no link to it; the read is audited. On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from harbour.app import App
from harbour.cases.report import program_report
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent
from tests.cases.test_report import build_store
from tests.support import agency_admin
from tests.web.helpers import (
    PASSWORD,
    client,
    code,
    enrolment_path,
    key_page,
    next_step,
    secret_on,
    sign_in,
    signed_in,
)


def _south_supervisor(app: App, clock: FixedClock) -> TestClient:
    """sup2 signed in, enrolled through a link from the south's own admin."""
    web = client(app)
    path = enrolment_path(app, "sup2", admin=agency_admin(app, "sadm", "south"))
    secret = secret_on(key_page(web, path).text)
    form = {"password": PASSWORD, "password_again": PASSWORD, "code": code(app, secret)}
    assert web.post(path, data=form).status_code == 200
    next_step(clock)
    assert sign_in(app, web, "sup2", secret).status_code == 303
    return web


def _reads(app: App, handle: str, outcome: str) -> int:
    with app.engine.connect() as conn:
        query = select(func.count()).where(
            AuditEvent.action == "program.report",
            AuditEvent.actor_handle == handle,
            AuditEvent.outcome == outcome,
        )
        return conn.scalar(query) or 0


def test_a_supervisor_sees_the_agencys_figures_and_chart(seeded: App, clock: FixedClock) -> None:
    build_store(seeded, clock)
    web, _ = signed_in(seeded, clock, "sup")
    assert 'href="/dashboard"' in web.get("/").text
    page = web.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/dashboard" aria-current="page">Dashboard</a>' in html
    # The chart: an image with its title and a description that says the figures.
    assert html.count('role="img"') == 2
    assert '<title id="risk-chart-title">Open cases by risk level</title>' in html
    desc = re.search(r'<desc id="risk-chart-desc">([^<]*)</desc>', html)
    assert desc and desc.group(1).endswith("not assessed: 1.") and "none" not in desc.group(1)
    assert "<script" not in html.split("</head>")[1]
    # The same figures as text and tables.
    assert "<strong>3</strong> open cases" in html and "<strong>50.0%</strong>" in html
    assert "1 of 2 active cases" in html
    assert "Longest overdue: <strong>40 days</strong>" in html
    assert "<strong>1.6 days</strong> (2 cases counted)" in html
    assert "<strong>20.0 minutes</strong>" in html
    assert "Oldest, since last seen: <strong>5 hours</strong>" in html
    assert "2026-03-12 10:00 EDT" in html
    # South's figures (its missing youth for 50 hours, its 2.5 days) are not here.
    assert "50 hours" not in html and "2.5 days" not in html
    assert _reads(seeded, "sup", "ok") == 1


def test_the_other_agencys_supervisor_sees_only_theirs(seeded: App, clock: FixedClock) -> None:
    build_store(seeded, clock)
    web = _south_supervisor(seeded, clock)
    html = web.get("/dashboard").text
    assert (
        "<strong>1</strong> open cases" in html
        and "<strong>2.5 days</strong> (1 cases counted)" in html
    )
    assert "<strong>50 hours</strong>" in html and "40 days" not in html
    assert program_report(seeded, "sup2").as_json()["open_cases"]["total"] == 1


def test_an_admin_sees_it(seeded: App, clock: FixedClock) -> None:
    web, _ = signed_in(seeded, clock, "adm")
    page = web.get("/dashboard")
    assert page.status_code == 200 and "<strong>0</strong> open cases" in page.text


@pytest.mark.parametrize("handle", ["coord", "cw1"])
def test_coordinators_and_caseworkers_are_refused(
    seeded: App, clock: FixedClock, handle: str
) -> None:
    build_store(seeded, clock)
    web, _ = signed_in(seeded, clock, handle)
    assert 'href="/dashboard"' not in web.get("/").text
    page = web.get("/dashboard")
    assert page.status_code == 403 and "Not permitted." in page.text
    assert "open cases" not in page.text
    assert _reads(seeded, handle, "denied") == 1


def test_signed_out_goes_to_sign_in(seeded: App) -> None:
    page = client(seeded).get("/dashboard")
    assert page.status_code == 303 and page.headers["location"] == "/sign-in?next=/dashboard"
