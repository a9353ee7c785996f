"""The plan workbench in a real browser (Debian's chromium, driven by Playwright, at a phone's
width, checked by axe-core at WCAG 2.1 AA): a step agreed for a situation that has passed,
suggested again after its date went by, is given a new date before it is accepted, in place; a
step changed in two tabs keeps both changes.

See tests/web/browsing.py for what it needs, and for screenshots."""

from __future__ import annotations

from datetime import date
from typing import Any

from harbour.app import App
from harbour.clock import FixedClock
from harbour.domain.refs import short_form
from tests.cli.helpers import assess_just_left
from tests.notify.helpers import new_case
from tests.web.browsing import BROWSER, PHONE, checked, enrol_and_sign_in
from tests.web.conftest import serving
from tests.web.test_workbench import EXIT_PLAN, carried_past_its_date, items

pytestmark = BROWSER


def test_a_step_accepted_past_its_date_is_given_a_new_one_first(
    seeded: App, clock: FixedClock, browser: Any
) -> None:
    case = short_form(carried_past_its_date(seeded, clock))
    problems: dict[str, list[str]] = {}
    item = f'main [id="item-{EXIT_PLAN}"]'
    with serving(seeded, clock) as (_, base):
        page = browser.new_page(viewport=PHONE)
        enrol_and_sign_in(page, seeded, clock, base, "cw1")
        page.goto(f"{base}/cases/{case}/plan")
        assert "due 2026-03-09" in page.locator(f"{item} .meta").inner_text()
        page.click(f"{item} form[action$='/plan/accept'] button")
        page.wait_for_selector("#workbench-status >> text=was due 2026-03-09")
        assert page.evaluate("document.activeElement.id") == "workbench-status"
        assert page.locator(f"{item} details.edit").get_attribute("open") is not None
        assert page.locator(f"{item} input[name=due]").input_value() == "2026-03-09"
        checked(page, "workbench-late-step", problems)
        page.fill(f"{item} input[name=due]", "2026-03-20")
        page.click(f"{item} form[action$='/plan/edit'] button")
        page.wait_for_selector("#workbench-status >> text=Owner and due date saved")
        page.click(f"{item} form[action$='/plan/accept'] button")
        page.wait_for_selector("#workbench-status >> text=Accepted")
        meta = page.locator(f"{item} .meta").inner_text()
        assert "accepted" in meta and "due 2026-03-20" in meta, meta
    assert problems == {}


def test_a_step_changed_in_two_tabs_keeps_both_changes(
    seeded: App, clock: FixedClock, browser: Any
) -> None:
    """Two tabs on the workbench: in one a step's owner is changed, in the other (opened
    before it) only its due date; each saved in place, the step has both."""
    reference = new_case(seeded).reference
    assess_just_left(seeded, reference, "initial_contact")
    step = next(
        k for k, v in items(seeded, reference).items() if v[0] != "rejected" and "step" in k
    )
    owner = next(o for o in ("family", "agency") if o != items(seeded, reference)[step][1])
    item = f'main [id="item-{step}"]'
    with serving(seeded, clock) as (_, base):
        tabs = browser.new_context(viewport=PHONE)  # one session, two tabs
        tab_a, tab_b = tabs.new_page(), tabs.new_page()
        enrol_and_sign_in(tab_a, seeded, clock, base, "cw1")
        for tab in (tab_b, tab_a):
            tab.goto(f"{base}/cases/{short_form(reference)}/plan")
            tab.click(f"{item} details.edit summary")
        tab_a.select_option(f"{item} select[name=owner]", owner)
        tab_a.click(f"{item} form[action$='/plan/edit'] button")
        tab_a.wait_for_selector("#workbench-status >> text=Owner and due date saved")
        tab_b.fill(f"{item} input[name=due]", "2026-04-01")
        tab_b.click(f"{item} form[action$='/plan/edit'] button")
        tab_b.wait_for_selector("#workbench-status >> text=Owner and due date saved")
        assert f"{owner}; due 2026-04-01" in tab_b.locator(f"{item} .meta").inner_text()
        tabs.close()
    assert items(seeded, reference)[step][1:] == (owner, date(2026, 4, 1))
