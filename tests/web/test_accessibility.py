"""Every page of the console passes axe-core's WCAG 2.1 AA checks and fits a 390 px wide screen
(a caseworker's phone): sign-in, enrolment, caseload, a case and its details, alerts, an alert,
a case's audit trail, the program dashboard and the agency audit, the assessment form, the admin's
pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harbour.app import App
from harbour.assessments.drafts import save_draft
from harbour.cases.cover import start_cover
from harbour.clock import FixedClock
from harbour.domain.refs import short_form
from harbour.plans.actions import add
from tests.cli.helpers import assess_just_left, referred_case
from tests.notify.helpers import imminent_alert
from tests.web.browsing import (
    BROWSER,
    PHONE,
    axe_violations,
    checked,
    enrol_and_sign_in,
    follow,
    open_assessment,
)
from tests.web.helpers import enrolment_path

pytestmark = BROWSER


def test_every_page_passes_axe_at_wcag_21_aa_on_a_phone(
    console: tuple[App, str], clock: FixedClock, tmp_path: Path, browser: Any
) -> None:
    app, base = console
    ref = referred_case(app, tmp_path, "AX", situation="just_left")
    assess_just_left(app, ref, "initial_contact")
    add(app, "cw1", ref, section="strategies", text="AXwritten strategy")
    # The case page with what it shows besides: a draft saved, a colleague's cover to end.
    save_draft(app, "cw1", ref, "planning_meeting", {"violence": "no"})
    start_cover(app, "cw2", ref, "AX away", 4)
    alert = imminent_alert(app, app.run(lambda uow: _case(uow, ref)))
    case_path = f"/cases/{short_form(ref)}"
    problems: dict[str, list[str]] = {}
    page = browser.new_page(viewport=PHONE)
    page.set_content('<html><body><img src="/static/none.png"></body></html>')
    assert any(v.startswith("image-alt") for v in axe_violations(page))  # axe does check

    page.goto(base + enrolment_path(app, "sup"))
    checked(page, "enrol", problems)
    follow(page, "button[name=show_key]")
    checked(page, "enrol: the key", problems)
    page.goto(f"{base}/sign-in")
    checked(page, "sign-in", problems)

    enrol_and_sign_in(page, app, clock, base, "sup")
    checked(page, "caseload", problems)
    page.goto(base + case_path)
    assert "A draft of the planning meeting assessment" in page.locator("main").inner_text()
    assert page.locator("#end-cover button").count() == 1
    checked(page, "case", problems)
    follow(page, "text=Show details")
    assert page.locator("h1").inner_text().endswith("details")
    checked(page, "case-details", problems)
    page.goto(f"{base}/alerts")
    checked(page, "alerts", problems)
    page.goto(f"{base}/alerts/{alert.id}")
    checked(page, "alert", problems)
    page.goto(f"{base}{case_path}/audit")
    checked(page, "case-audit", problems)
    page.goto(f"{base}/dashboard")
    checked(page, "dashboard", problems)

    admin = browser.new_page(viewport=PHONE)
    enrol_and_sign_in(admin, app, clock, base, "adm")
    admin.goto(f"{base}/audit")
    checked(admin, "audit", problems)
    for name in ("staff", "agencies", "routes", "keys"):  # the admin's pages
        admin.goto(f"{base}/{name}")
        checked(admin, name, problems)
    admin.goto(f"{base}/agencies/north/delivery")
    checked(admin, "agency-delivery", problems)
    open_assessment(page, base, short_form(ref), "incident")  # the form, its draft button
    checked(page, "assess", problems)
    assert problems == {}


def _case(uow: Any, ref: str) -> Any:
    from sqlalchemy import select

    from harbour.db.models import Case

    return uow.session.scalars(select(Case).where(Case.reference == ref)).one()
