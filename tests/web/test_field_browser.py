"""The field-safety stories in a real browser on a phone-sized screen: a caseworker starts a
visit, asks for 30 more minutes and checks in with the big buttons; records a youth missing, a
step done and the return. Each page passes axe-core and fits 390 px."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Visit
from harbour.domain.refs import short_form
from tests.conftest import START
from tests.notify.helpers import new_case
from tests.web.browsing import BROWSER, PHONE, checked, enrol_and_sign_in, follow

pytestmark = BROWSER
ZONE = ZoneInfo("America/New_York")  # the seeded agencies' time


def test_a_visit_and_a_missing_episode_from_a_phone(
    console: tuple[App, str], clock: FixedClock, tmp_path: Path, browser: Any
) -> None:
    app, base = console
    case = short_form(new_case(app).reference)
    problems: dict[str, list[str]] = {}
    page = browser.new_page(viewport=PHONE)
    enrol_and_sign_in(page, app, clock, base, "cw1")
    follow(page, "nav >> text=Visits")
    checked(page, "visit-start", problems)
    page.fill("#f-where", "MKBROWSERVISIT a flat on Quay Street")
    page.fill("#f-back_at", "16:30")
    page.check("#f-escort")
    follow(page, "text=Start the visit")
    assert page.url == f"{base}/visits"
    checked(page, "visit-out", problems)
    visit = app.run(lambda uow: uow.session.scalars(select(Visit)).one())
    assert visit.escort and visit.back_at is None

    follow(page, "text=30 more minutes")
    again = app.run(lambda uow: uow.session.get_one(Visit, visit.id))
    assert again.expected_back_at == visit.expected_back_at + timedelta(minutes=30)
    follow(page, "text=I'm back")
    assert app.run(lambda uow: uow.session.get_one(Visit, visit.id)).back_at is not None
    assert page.locator("text=Start the visit").count() == 1

    page.goto(f"{base}/cases/{case}")
    follow(page, "text=Missing youth: record, steps, return")
    checked(page, "missing-record", problems)
    page.fill("#f-since", (START - timedelta(hours=2)).astimezone(ZONE).strftime("%Y-%m-%d %H:%M"))
    follow(page, "text=Record missing")
    assert "Law-enforcement report" in page.content()
    checked(page, "missing-open", problems)
    page.select_option("#f-step", "law_enforcement")
    page.fill("#f-report_number", "MKBROWSERNUMBER")
    follow(page, "text=Record the step done")
    assert "report number recorded" in page.content()
    assert "MKBROWSERNUMBER" not in page.content()
    page.fill("#f-at", clock.now().astimezone(ZONE).strftime("%Y-%m-%d %H:%M"))
    follow(page, "text=Record the return")
    assert page.url == f"{base}/cases/{case}"
    assert problems == {}


def test_a_supervisor_records_a_colleague_back_from_the_alert_on_a_phone(
    console: tuple[App, str], clock: FixedClock, browser: Any
) -> None:
    from harbour.cases import visits
    from harbour.notify.visit_checks import raise_overdue

    app, base = console
    out = visits.start_visit(app, "cw1", back_at="16:30", location="MKBROWSERBACK", buddy="cw2")
    clock.set(out.deadline_at + timedelta(minutes=1))
    assert app.run(lambda uow: raise_overdue(uow, clock.now())) == 1
    alert = app.run(lambda uow: uow.session.get_one(Visit, out.id).alert_id)
    problems: dict[str, list[str]] = {}
    page = browser.new_page(viewport=PHONE)
    enrol_and_sign_in(page, app, clock, base, "sup")
    page.goto(f"{base}/alerts/{alert}")
    follow(page, "text=Record them back")
    checked(page, "visit-record-back", problems)
    page.fill("#f-reason", "MKBROWSERREASON phoned from the office line")
    follow(page, "button:has-text('Record them back')")
    assert page.url == f"{base}/alerts/{alert}"
    assert "Taken by sup" in page.content() and "recorded back by sup" in page.content()
    assert app.run(lambda uow: uow.session.get_one(Visit, out.id)).back_at is not None
    assert problems == {}
