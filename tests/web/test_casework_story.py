"""The casework in a real browser, as people do it (Debian's chromium, driven by Playwright, at a
phone's width; every page checked by axe-core at WCAG 2.1 AA): a coordinator refers a youth
through the form; the caseworker assesses at initial contact (moderate), works the plan
(accept, reject, add), finalizes it and opens the youth's copy to print; later an incident
assessment finds immediate danger: the alert is at the mail server before the page shows the
result, a supervisor follows the link from the mail, signs in and takes it, the caseworker's
page shows that by itself, and the caseworker records the emergency steps done; the
supervisor's pages on the case (override, assign, schedule, reopen, versions compared).

See tests/web/browsing.py for what it needs, and for screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, Plan
from harbour.demo.receivers import MAIL_DOMAIN, RouteBook, smtp_server, webhook_receiver
from harbour.domain.refs import short_form
from harbour.plans.actions import finalize
from harbour.plans.store import Undecided
from tests.cli.helpers import assess_just_left, safest
from tests.notify.helpers import new_case
from tests.web.browsing import (
    BROWSER,
    CHROMIUM,
    PHONE,
    axe_violations,
    fits_a_phone,
    playwright,
    shot,
)
from tests.web.conftest import serving
from tests.web.test_accessibility import enrol_and_sign_in

# A story is long on a shared machine (axe-core on every page, three sign-ins, a poll): more
# than the suite's two minutes when the other workers are busy.
pytestmark = [*BROWSER, pytest.mark.timeout(300)]
MARK = "MKSTORY"


@contextmanager
def story(seeded: App, clock: FixedClock, tmp_path: Path) -> Iterator[tuple[Any, App, str, Any]]:
    """The console served with routes to a local mail server (the supervisor's by email), and a
    browser: (the mail server, the served app, its base URL, the browser)."""
    with (
        smtp_server() as smtp,
        webhook_receiver() as receiver,
        serving(
            seeded,
            clock,
            apprise_config=RouteBook(tmp_path / "apprise.yaml", smtp, receiver).email("sup").path,
        ) as (app, base),
        playwright.sync_playwright() as p,
    ):
        yield smtp, app, base, p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


def looked_at(page: Any, name: str, problems: dict[str, list[str]]) -> None:
    shot(page, name)
    found = axe_violations(page)
    if not fits_a_phone(page):
        found.append("wider than a 390 px screen")
    if found:
        problems[name] = found


def answer(page: Any, app: App, **changed: str) -> None:
    for qid, value in (safest(app) | changed).items():
        page.check(f"input[name='answers.{qid}'][value='{value}']")


def test_refer_assess_work_and_print_the_plan(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    problems: dict[str, list[str]] = {}
    with story(seeded, clock, tmp_path) as (_, app, base, browser):
        coord = browser.new_page(viewport=PHONE)
        enrol_and_sign_in(coord, seeded, clock, base, "coord")
        coord.click("nav >> text=Refer")
        coord.click("main button.primary")  # nothing filled in: refused, beside each field
        assert coord.locator("#f-youth-name-error").is_visible()
        looked_at(coord, "refer-refused", problems)
        coord.fill("#f-youth-name", f"{MARK} youth")
        coord.fill("#f-youth-phone", "555-0100")
        coord.select_option("#f-situation", "just_left")
        coord.fill("#f-family-0-name", f"{MARK} aunt")
        coord.fill("#f-family-0-relationship", "aunt")
        coord.check("#f-family-0-non_offending")
        coord.fill("#f-caseworker", "cw1")
        coord.focus("#f-referral_source")
        coord.keyboard.type("school counsellor")
        with coord.expect_navigation():
            coord.keyboard.press("Enter")  # the keyboard submits the form (the primary button)
        assert re.search(r"/cases/HB-[0-9A-Z]+-[0-9A-Z]+$", coord.url), coord.locator(
            "main"
        ).inner_text()
        case = coord.url.rsplit("/", 1)[1]
        assert MARK not in coord.content()
        looked_at(coord, "case-referred", problems)

        worker = browser.new_page(viewport=PHONE)
        enrol_and_sign_in(worker, seeded, clock, base, "cw1")
        worker.click(f"text={case}")
        worker.select_option("#f-point", "initial_contact")
        worker.click("text=Open the assessment")
        looked_at(worker, "assess", problems)
        answer(worker, app, trafficker_threat="yes", situation="just_left")
        worker.click("main button.primary")
        assert "Assessment recorded" in worker.locator("h1").inner_text()
        main = worker.locator("main").inner_text()
        assert "moderate" in main and "A trafficker is a current or potential threat." in main
        assert "version 1 drafted" in main
        looked_at(worker, "assessed", problems)

        worker.click("text=Work on the plan")
        looked_at(worker, "workbench", problems)
        worker.locator("main form[action$='/plan/accept'] button").first.focus()
        worker.keyboard.press("Enter")  # answered in place (static/swap.js): wait for it
        worker.wait_for_selector("#workbench-status >> text=Accepted")
        worker.locator("main form[action$='/plan/reject'] button").first.click()
        worker.wait_for_selector("#workbench-status >> text=Rejected")
        worker.select_option("#f-section", "strategies")
        worker.fill("#f-text", f"{MARK} go to the library after school")
        worker.click("text=Add to the draft")
        assert f"{MARK} go to the library" in worker.locator("main").inner_text()
        worker.check("#f-choice-accept_rest")
        worker.click("main form[action$='/plan/finalize'] button.primary")
        assert "This version is final" in worker.locator("main").inner_text()
        worker.click("text=Youth's wallet card")
        assert worker.url.endswith("/plan/print/youth?version=1")
        assert "<script" not in worker.content()  # the document as plan render writes it
        shot(worker, "wallet-card")
        browser.close()
    assert problems == {}
    statuses = seeded.run(lambda uow: uow.session.scalars(select(Plan.status)).all())
    assert statuses == ["final"]


def test_an_emergency_alerted_taken_and_its_steps_recorded(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    reference = new_case(seeded, MARK).reference
    assess_just_left(seeded, reference, "initial_contact")
    finalize(seeded, "cw1", reference, Undecided(accept_rest=True))
    case = short_form(reference)
    problems: dict[str, list[str]] = {}
    with story(seeded, clock, tmp_path) as (smtp, app, base, browser):
        worker = browser.new_page(viewport=PHONE)
        enrol_and_sign_in(worker, seeded, clock, base, "cw1")
        worker.goto(f"{base}/cases/{case}/assess?point=incident")
        answer(worker, app, trafficker_threat="yes", situation="just_left", immediate_danger="yes")
        worker.click("main button.primary")
        mails = [m for m in smtp.to(f"sup@{MAIL_DOMAIN}") if "/alerts/" in m.text]
        assert mails, "the alert was not at the mail server when the page answered"
        assert "Imminent danger" in worker.locator("main").inner_text()
        assert "Not taken yet" in worker.locator("#alert-status").inner_text()
        looked_at(worker, "imminent", problems)
        link = re.search(re.escape(base) + r"/alerts/[0-9a-f]+", mails[0].text)
        assert link

        sup = browser.new_page(viewport=PHONE)
        sup.goto(link.group())
        assert sup.url.startswith(f"{base}/sign-in")
        enrol_and_sign_in(sup, seeded, clock, base, "sup")
        sup.goto(link.group())
        sup.click("text=I'm taking this")
        assert "Taken by sup" in sup.locator("main").inner_text()

        # The caseworker's page learns it by itself (it polls every ten seconds).
        worker.wait_for_selector("#alert-status >> text=Taken by sup", timeout=20_000)
        steps = worker.locator("main form[action$='/done'] button")
        count = steps.count()
        assert count >= 1
        for _ in range(count):
            worker.locator("main form[action$='/done'] button").first.click()
        assert worker.locator("ol.steps .done").count() == count
        looked_at(worker, "emergency", problems)

        # The supervisor's pages on the case: each passes axe too.
        for path, name in (
            ("/override", "override"),
            ("/assign", "assign"),
            ("/schedule", "schedule"),
            ("/lifecycle/reopen", "reopen"),
            ("/plan/diff?v1=1&v2=2", "plan-diff"),
            ("/people/new", "person-new"),
            ("/people/1", "person-edit"),
            ("/cover", "cover"),  # the form (a supervisor's cover is refused when sent)
        ):
            sup.goto(f"{base}/cases/{case}{path}")
            looked_at(sup, name, problems)
        sup.goto(f"{base}/escalations")
        looked_at(sup, "escalations", problems)
        admin = browser.new_page(viewport=PHONE)
        enrol_and_sign_in(admin, seeded, clock, base, "adm")
        admin.goto(f"{base}/staff")
        looked_at(admin, "staff", problems)
        admin.fill("#f-handle", "newcw")
        admin.click("main button.primary")
        assert "newcw added as caseworker" in admin.locator("main").inner_text()
        looked_at(admin, "staff-added", problems)
        sup.goto(f"{base}/cases/{case}/override")
        sup.click("main button.primary")  # nothing chosen: refused beside the fields
        looked_at(sup, "override-refused", problems)
        browser.close()

    assert problems == {}
    done = seeded.run(
        lambda uow: uow.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "plan.step.done")
        ).all()
    )
    assert len(done) == count
    statuses = seeded.run(
        lambda uow: uow.session.scalars(select(Plan.status).order_by(Plan.version_number)).all()
    )
    assert statuses == ["final", "draft"]
