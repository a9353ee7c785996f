"""The casework in a real browser, as people do it (Debian's chromium, driven by Playwright, at a
phone's width; every page checked by axe-core at WCAG 2.1 AA): a coordinator refers a youth
through the form; the caseworker assesses at initial contact (moderate), works the plan in
place (accept, reject, add, the youth copy's settings: no page load), finalizes it (in place
too) and opens the youth's copy to print; later an incident assessment finds immediate danger:
the alert is at the mail server before the page shows the result, a supervisor follows the link
from the mail, signs in and takes it, the caseworker's page shows that by itself, and the
caseworker records the emergency steps done; the supervisor's pages on the case (override,
assign, schedule, reopen, versions compared); then, in the same browser, a planning meeting
whose plan is worked in place (no page load), the discharge assessment and the discharge (its
confirmation, refused until the plan is final), a follow-up a month on, and the case closing
once its follow-ups are done.

See tests/web/browsing.py for what it needs, and for screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, Case, Plan
from harbour.demo.receivers import MAIL_DOMAIN, RouteBook, smtp_server, webhook_receiver
from harbour.domain.refs import short_form
from harbour.orchestration.pipeline import after_commit
from harbour.plans.actions import finalize
from harbour.plans.store import Undecided
from tests.cli.helpers import assess_just_left, safest
from tests.notify.helpers import new_case
from tests.web.browsing import (
    BROWSER,
    PHONE,
    checked,
    enrol_and_sign_in,
    follow,
    open_assessment,
    shot,
    sign_in_again,
)
from tests.web.conftest import serving

# A story is long on a shared machine (axe-core on every page, three sign-ins, a poll): more
# than the suite's two minutes when the other workers are busy.
pytestmark = [*BROWSER, pytest.mark.timeout(300)]
MARK = "MKSTORY"
POLL_MS = 10_000  # poll.js's EVERY_MS


@contextmanager
def story(seeded: App, clock: FixedClock, tmp_path: Path) -> Iterator[tuple[Any, App, str]]:
    """The console served with routes to a local mail server (the supervisor's by email):
    (the mail server, the served app, its base URL)."""
    with (
        smtp_server() as smtp,
        webhook_receiver() as receiver,
        serving(
            seeded,
            clock,
            apprise_config=RouteBook(tmp_path / "apprise.yaml", smtp, receiver).email("sup").path,
        ) as (app, base),
    ):
        yield smtp, app, base


def answer(page: Any, app: App, **changed: str) -> None:
    for qid, value in (safest(app) | changed).items():
        page.check(f"input[name='answers.{qid}'][value='{value}']")


def test_refer_assess_work_and_print_the_plan(
    seeded: App, clock: FixedClock, tmp_path: Path, browser: Any
) -> None:
    problems: dict[str, list[str]] = {}
    with story(seeded, clock, tmp_path) as (_, app, base):
        coord = browser.new_page(viewport=PHONE)
        enrol_and_sign_in(coord, seeded, clock, base, "coord")
        follow(coord, "nav >> text=Refer")
        follow(coord, "main button.primary")  # nothing filled in: refused, beside each field
        assert coord.locator("#f-youth-name-error").is_visible()
        checked(coord, "refer-refused", problems)
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
        checked(coord, "case-referred", problems)

        worker = browser.new_page(viewport=PHONE)
        enrol_and_sign_in(worker, seeded, clock, base, "cw1")
        follow(worker, f"text={case}")
        worker.select_option("#f-point", "initial_contact")
        follow(worker, "text=Open the assessment")
        checked(worker, "assess", problems)
        answer(worker, app, trafficker_threat="yes", situation="just_left")
        follow(worker, "main button.primary")
        assert "Assessment recorded" in worker.locator("h1").inner_text()
        main = worker.locator("main").inner_text()
        assert "moderate" in main and "A trafficker is a current or potential threat." in main
        assert "version 1 drafted" in main
        checked(worker, "assessed", problems)

        follow(worker, "text=Work on the plan")
        checked(worker, "workbench", problems)
        worker.evaluate("window.harbourStayed = true")  # gone if the page loads again
        worker.locator("main form[action$='/plan/accept'] button").first.focus()
        worker.keyboard.press("Enter")  # answered in place (static/swap.js): wait for it
        worker.wait_for_selector("#workbench-status >> text=Accepted")
        worker.locator("main form[action$='/plan/reject'] button").first.click()
        worker.wait_for_selector("#workbench-status >> text=Rejected")
        # Adding the youth's own item, their copy's settings and finalizing: in place too.
        worker.select_option("#f-section", "strategies")
        worker.fill("#f-text", f"{MARK} go to the library after school")
        worker.click("text=Add to the draft")
        worker.wait_for_selector("#workbench-status >> text=Added")
        added = worker.locator("main li.state-added")
        assert f"{MARK} go to the library" in added.inner_text()
        assert worker.evaluate("document.activeElement.id") == added.get_attribute("id")
        assert worker.locator("#f-text").input_value() == ""  # the form is ready for another
        worker.fill("#f-title", "Maya's plan")
        worker.check("#f-hide_hotlines")
        worker.click("#youth-copy-section button")
        worker.wait_for_selector("#workbench-status >> text=Youth copy saved")
        assert "youth's own title" in worker.locator("#youth-copy-section").inner_text()
        assert worker.locator("#f-title").input_value() == ""  # never shown back
        finalized(worker)
        assert worker.evaluate("document.activeElement.id") == "workbench-status"
        assert worker.locator("main form[action$='/plan/accept']").count() == 0
        assert worker.evaluate("window.harbourStayed === true"), "the workbench was reloaded"
        follow(worker, "text=Youth's wallet card")
        assert worker.url.endswith("/plan/print/youth?version=1")
        assert "<script" not in worker.content()  # the document as plan render writes it
        shot(worker, "wallet-card")
    assert problems == {}
    statuses = seeded.run(lambda uow: uow.session.scalars(select(Plan.status)).all())
    assert statuses == ["final"]


def test_an_emergency_alerted_taken_and_its_steps_recorded(
    seeded: App, clock: FixedClock, tmp_path: Path, browser: Any
) -> None:
    reference = new_case(seeded, MARK).reference
    assess_just_left(seeded, reference, "initial_contact")
    finalize(seeded, "cw1", reference, Undecided(accept_rest=True))
    case = short_form(reference)
    problems: dict[str, list[str]] = {}
    with story(seeded, clock, tmp_path) as (smtp, app, base):
        worker = browser.new_page(viewport=PHONE)
        worker_secret = enrol_and_sign_in(worker, seeded, clock, base, "cw1")
        # The page's own clock, running as usual until we move it on (POLL_MS below).
        worker.clock.install()
        open_assessment(worker, base, case, "incident")
        answer(worker, app, trafficker_threat="yes", situation="just_left", immediate_danger="yes")
        follow(worker, "main button.primary")
        mails = [m for m in smtp.to(f"sup@{MAIL_DOMAIN}") if "/alerts/" in m.text]
        assert mails, "the alert was not at the mail server when the page answered"
        assert "Imminent danger" in worker.locator("main").inner_text()
        assert "Not taken yet" in worker.locator("#alert-status").inner_text()
        checked(worker, "imminent", problems)
        link = re.search(re.escape(base) + r"/alerts/[0-9a-f]+", mails[0].text)
        assert link

        sup = browser.new_page(viewport=PHONE)
        sup.goto(link.group())
        assert sup.url.startswith(f"{base}/sign-in")
        sup_secret = enrol_and_sign_in(sup, seeded, clock, base, "sup")
        sup.goto(link.group())
        follow(sup, "text=I'm taking this")
        assert "Taken by sup" in sup.locator("main").inner_text()

        # The caseworker's page learns it by itself: its poll (every ten seconds, poll.js) fires
        # when the page's clock is moved on by as much, rather than after ten seconds waited.
        assert "Not taken yet" in worker.locator("#alert-status").inner_text()
        worker.clock.fast_forward(POLL_MS)
        worker.wait_for_selector("#alert-status >> text=Taken by sup", timeout=20_000)
        steps = worker.locator("main form[action$='/done'] button")
        count = steps.count()
        assert count >= 1
        for _ in range(count):
            follow(worker, worker.locator("main form[action$='/done'] button").first)
        assert worker.locator("ol.steps .done").count() == count
        checked(worker, "emergency", problems)

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
            checked(sup, name, problems)
        sup.goto(f"{base}/escalations")
        checked(sup, "escalations", problems)
        admin = browser.new_page(viewport=PHONE)
        enrol_and_sign_in(admin, seeded, clock, base, "adm")
        admin.goto(f"{base}/staff")
        checked(admin, "staff", problems)
        admin.fill("#f-handle", "newcw")
        follow(admin, "main button.primary")
        assert "newcw added as caseworker" in admin.locator("main").inner_text()
        checked(admin, "staff-added", problems)
        sup.goto(f"{base}/cases/{case}/override")
        follow(sup, "main button.primary")  # nothing chosen: refused beside the fields
        checked(sup, "override-refused", problems)

        # Past the emergency, in the same browser: the planning meeting, its plan worked in
        # place, the discharge assessment and the discharge, a follow-up a month on, and the
        # case closing once its follow-ups are done.
        assessed(worker, base, case, "planning_meeting", app)
        assert "version 3 drafted" in worker.locator("main").inner_text()
        follow(worker, "text=Work on the plan")
        worker.evaluate("window.harbourStayed = true")  # gone if the page loads again
        # The meeting's draft carries the decisions made before: reject one, then take it back.
        decided = worker.locator("main li:has(form[action$='/plan/reject'])").last
        decided_id = decided.get_attribute("id")
        decided.locator("form[action$='/plan/reject'] button").click()
        worker.wait_for_selector("#workbench-status >> text=Rejected")
        worker.locator(f"[id='{decided_id}'] form[action$='/plan/accept'] button").click()
        worker.wait_for_selector("#workbench-status >> text=Accepted")
        step = worker.locator("main li:has(details.edit)").first
        step_id = step.get_attribute("id")
        step.locator("summary").click()
        step.locator("select").select_option("family")
        due = (clock.now() + timedelta(days=10)).date().isoformat()
        step.locator("input[type=date]").fill(due)
        step.locator("button:has-text('Save')").click()
        # Saved, or refused (then the assertion says why).
        worker.wait_for_selector(
            "#workbench-status:has-text('saved'), #workbench-status[role=alert]"
        )
        status = worker.locator("#workbench-status").inner_text()
        assert "Owner and due date saved" in status, status
        assert f"family; due {due}" in worker.locator(f"[id='{step_id}']").inner_text()
        worker.locator(f"[id='{step_id}'] form[action$='/done'] button").click()
        worker.wait_for_selector("#workbench-status >> text=Recorded done")
        assert worker.locator(f"[id='{step_id}'] form[action$='/undo']").count() == 1
        assert worker.evaluate("window.harbourStayed === true"), "the workbench was reloaded"
        checked(worker, "workbench-in-place", problems)
        finalized(worker)

        assessed(worker, base, case, "discharge", app)
        worker.goto(f"{base}/cases/{case}")
        assert "discharge pending" in worker.locator("dl.facts").inner_text()
        follow(worker, "main a:has-text('Discharge')")
        said = worker.locator("main").inner_text()
        assert "30, 90, 180 days after the discharge" in said, said
        follow(worker, "text=Discharge the case")  # its plan is still a draft: nothing changes
        assert "finalize the plan version" in worker.locator("main").inner_text()
        worker.goto(f"{base}/cases/{case}/plan")
        finalized(worker)  # the discharge plan final: the case is discharged
        worker.goto(f"{base}/cases/{case}")
        assert "discharged" in worker.locator("dl.facts").inner_text()

        clock.advance(timedelta(days=30))  # a month on: everyone signs in again
        sign_in_again(worker, seeded, base, "cw1", worker_secret)
        assessed(worker, base, case, "follow_up", app)
        sign_in_again(sup, seeded, base, "sup", sup_secret)
        sup.goto(f"{base}/cases/{case}")
        follow(sup, "main a:has-text('Close')")
        assert "follow-ups are done" in sup.locator("main").inner_text()
        follow(sup, "text=Close the case")  # two follow-ups are still to come
        assert "follow-up assessments remain before closing" in sup.locator("main").inner_text()
        for months in (2, 3):  # the 90- and 180-day follow-ups (as the CLI records them)
            clock.advance(timedelta(days=30 * months))
            assess_just_left(seeded, reference, "follow_up")
            after_commit(seeded)
        sign_in_again(sup, seeded, base, "sup", sup_secret)
        sup.goto(f"{base}/cases/{case}")
        assert "closed" in sup.locator("dl.facts").inner_text()
        assert sup.locator("main a:has-text('Reopen')").count() == 1

    assert problems == {}
    done = seeded.run(
        lambda uow: uow.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "plan.step.done")
        ).all()
    )
    assert len(done) == count + 1  # the emergency steps, and one step of the meeting's plan
    statuses = seeded.run(
        lambda uow: uow.session.execute(
            select(Plan.point, Plan.status).order_by(Plan.version_number)
        ).all()
    )
    assert [tuple(row) for row in statuses[:4]] == [
        ("initial_contact", "final"),
        ("incident", "superseded"),  # the planning meeting drafted the next one
        ("planning_meeting", "final"),
        ("discharge", "final"),
    ]
    closed = select(Case.status).where(Case.reference == reference)
    assert seeded.run(lambda uow: uow.session.scalars(closed).one()) == "closed"


def assessed(page: Any, base: str, case: str, point: str, app: App) -> None:
    """An assessment at ``point`` from the case page, as the caseworker makes it."""
    open_assessment(page, base, case, point)
    # The earlier assessments click each answer as a person does; these tick the same radio
    # buttons in one step (about a dozen round trips to the browser fewer each).
    chosen = safest(app) | {"trafficker_threat": "yes", "situation": "just_left"}
    ticked = page.evaluate(
        """answers => Object.entries(answers).filter(([name, value]) => {
            const box = document.querySelector(`input[name='answers.${name}'][value='${value}']`);
            if (box) { box.checked = true; }
            return box !== null;
        }).length""",
        {qid: str(value) for qid, value in chosen.items()},
    )
    assert ticked == len(chosen)
    follow(page, "main button.primary")
    assert "Assessment recorded" in page.locator("h1").inner_text()


def finalized(page: Any) -> None:
    """The workbench's finalize, answered in place (static/swap.js): the page as reloaded."""
    if page.locator("#f-choice-accept_rest").count():  # offered when suggestions are undecided
        page.check("#f-choice-accept_rest")
    page.click("main form[action$='/plan/finalize'] button.primary")
    page.wait_for_selector("#workbench-status >> text=Finalized")
    assert "This version is final" in page.locator("main").inner_text()
