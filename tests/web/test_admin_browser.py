"""Two stories of the console in a real browser (Debian's chromium, driven by Playwright): a
caseworker saves an assessment as a draft, leaves, comes back to their answers and submits; an
admin gives a colleague another role from the staff page and puts them on call. See tests/web/browsing.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import AssessmentDraft, Staff
from harbour.domain.refs import short_form
from tests.cli.helpers import safest
from tests.notify.helpers import new_case
from tests.web.browsing import (
    BROWSER,
    PHONE,
    axe_violations,
    enrol_and_sign_in,
    follow,
    open_assessment,
)

pytestmark = BROWSER
WORRY = "BrowserDraft worried about Friday"


def test_a_draft_saved_and_come_back_to_then_a_role_changed(
    console: tuple[App, str], clock: FixedClock, tmp_path: Path, browser: Any
) -> None:
    app, base = console
    case = short_form(new_case(app).reference)
    page = browser.new_page(viewport=PHONE)
    enrol_and_sign_in(page, app, clock, base, "cw1")
    open_assessment(page, base, case, "incident")
    page.check('input[name="answers.immediate_danger"][value="no"]')
    page.fill("#f-answers-youth_worries", WORRY)
    follow(page, "text=Save as draft")
    assert "Your draft, saved" in page.locator("main").inner_text()
    assert page.url == f"{base}/cases/{case}/assess"  # the point in no URL
    assert page.locator("#f-answers-youth_worries").input_value() == WORRY
    follow(page, "text=Back to the case")  # away, and back to the same assessment
    assert "A draft of the incident assessment" in page.locator("main").inner_text()
    assert axe_violations(page) == []  # the case page with the draft's button
    follow(page, "text=Continue it")
    assert page.url == f"{base}/cases/{case}/assess"
    assert page.locator("#f-answers-youth_worries").input_value() == WORRY
    assert page.is_checked('input[name="answers.immediate_danger"][value="no"]')
    for qid, value in safest(app).items():
        page.check(f'input[name="answers.{qid}"][value="{value}"]')
    follow(page, "text=Submit the assessment")
    assert page.locator("h1").inner_text().startswith("Assessment recorded")
    left = app.run(
        lambda uow: uow.session.scalar(select(func.count()).select_from(AssessmentDraft))
    )
    assert left == 0

    admin = browser.new_page(viewport=PHONE)
    enrol_and_sign_in(admin, app, clock, base, "adm")
    admin.goto(f"{base}/staff")
    admin.click("text=Change role: cw2")  # opens the row's form in place
    row = admin.locator('form[action="/staff/cw2/role"]')
    row.locator("select").select_option("supervisor")
    follow(admin, row.locator("button"))
    assert "cw2 is now supervisor (was caseworker)" in admin.locator("main").inner_text()
    role = app.run(lambda uow: uow.session.scalar(select(Staff.role).where(Staff.handle == "cw2")))
    assert role == "supervisor"
    follow(admin, "text=Put on call: cw2")
    assert "cw2 is on call." in admin.locator("main").inner_text()
    on_call = app.run(
        lambda uow: uow.session.scalar(select(Staff.on_call).where(Staff.handle == "cw2"))
    )
    assert on_call is True


def test_resetting_a_colleagues_sign_in_is_a_deliberate_step_saying_what_it_does(
    console: tuple[App, str], clock: FixedClock, browser: Any
) -> None:
    """A reset clears the person's password and code app and signs them out at once: on the
    staff page it waits behind its row's "Reset sign-in", which says so, as deactivating waits
    behind its own. Found by review: a one-tap "New enrolment link" beside "Put on call" in
    each row, which said nothing of signing the person out; a slip of a thumb locked a
    colleague out in the middle of their work."""
    app, base = console
    colleague = browser.new_page(viewport=PHONE)
    enrol_and_sign_in(colleague, app, clock, base, "cw2")
    admin = browser.new_page(viewport=PHONE)
    enrol_and_sign_in(admin, app, clock, base, "adm")
    admin.goto(f"{base}/staff")
    form = admin.locator('form[action="/staff/cw2/reset"]')
    assert not form.locator("button").is_visible()
    admin.click("text=Reset sign-in: cw2")
    said = form.inner_text()
    assert "signs them out" in said and "password" in said, said
    assert axe_violations(admin) == []
    follow(admin, form.locator("button"))
    assert "Sign-in cleared and sessions ended for cw2" in admin.locator("main").inner_text()
    colleague.goto(f"{base}/")
    assert colleague.url.startswith(f"{base}/sign-in")
