"""The console in a real browser (Debian's chromium, driven by Playwright): enrol from the link,
follow the link in an imminent-threat email a local SMTP server received, sign in with a real
TOTP code, take the alert, see the caseload and the case at a phone's width, sign out.

See tests/web/browsing.py for what it needs, and for screenshots.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harbour.app import App
from harbour.clock import FixedClock
from harbour.demo.receivers import MAIL_DOMAIN, RouteBook, smtp_server, webhook_receiver
from harbour.domain.refs import short_form
from harbour.notify.relay import deliver
from tests.notify.helpers import MARKER, imminent_alert, new_case
from tests.web.browsing import (
    BROWSER,
    PHONE,
    enrol_and_sign_in,
    fits_a_phone,
    follow,
    open_assessment,
    shot,
)
from tests.web.helpers import PASSWORD, code, enrolment_path, next_step

pytestmark = BROWSER


def test_enrol_sign_in_see_the_caseload_take_an_alert_and_sign_out(
    console: tuple[App, str], clock: FixedClock, tmp_path: Path, browser: Any
) -> None:
    app, base = console
    case = new_case(app)
    with smtp_server() as smtp, webhook_receiver() as receiver:
        book = RouteBook(tmp_path / "apprise.yaml", smtp, receiver).email("sup")
        sender = App(app.settings.model_copy(update={"apprise_config": book.path}), clock)
        alert = imminent_alert(sender, case)
        deliver(sender)
        sender.dispose()
    links = [
        found.group()
        for mail in smtp.to(f"sup@{MAIL_DOMAIN}")
        if (found := re.search(re.escape(base) + r"/alerts/[0-9a-f]+", mail.text))
    ]
    assert links == [f"{base}/alerts/{alert.id}"]
    link_in_mail = links[0]
    link = base + enrolment_path(app, "sup")
    page = browser.new_page(viewport=PHONE)
    page.goto(link)
    assert page.locator("code.secret").count() == 0  # a plain visit (a link scanner's) sees no key
    follow(page, "button[name=show_key]")
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    assert page.locator("img.qr").evaluate("img => img.complete && img.naturalWidth") > 0
    shot(page, "enrol")
    page.fill("#password", PASSWORD)
    page.fill("#password_again", PASSWORD)
    page.fill("#code", code(app, secret))
    follow(page, "button[type=submit]")
    assert page.locator("h1").inner_text() == "Sign-in set up"

    next_step(clock)
    page.goto(link_in_mail)  # the link in the message: sign in first
    assert page.url.startswith(f"{base}/sign-in")
    shot(page, "sign-in")
    page.fill("#handle", "sup")
    page.fill("#password", PASSWORD)
    page.fill("#code", code(app, secret))
    follow(page, "main button[type=submit]")
    assert page.url == f"{base}/alerts/{alert.id}"
    shot(page, "alert")
    follow(page, "text=I'm taking this")
    assert "Taken by sup" in page.locator("main").inner_text()

    follow(page, "nav >> text=Caseload")
    assert page.locator("h1").inner_text() == "Caseload"
    assert case.reference[:12] in page.locator("table.cases").inner_text()
    # Usable at a phone's width: nothing wider than the screen.
    assert fits_a_phone(page)
    shot(page, "caseload")
    follow(page, f"text={short_form(case.reference)}")
    assert page.locator("h1").inner_text() == f"Case {short_form(case.reference)}"
    assert MARKER not in page.content()  # nothing identifying before "show details"
    shot(page, "case")
    assert fits_a_phone(page)

    follow(page, "text=Sign out")
    assert page.url == f"{base}/sign-in"
    page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/sign-in")
    acknowledged = app.run(lambda uow: uow.session.get_one(type(alert), alert.id).acknowledged_by)
    assert acknowledged == "sup"


def test_answers_given_over_half_an_hour_are_recorded_not_met_by_sign_in(
    console: tuple[App, str], clock: FixedClock, browser: Any
) -> None:
    """A session ends after 15 idle minutes, and a conversation with a youth is longer: the
    caseworker answering (a choice, a word typed) keeps it, at most a request a minute
    (``static/alive.js``), so the answers are recorded when sent; found by review: they were
    lost to the sign-in page."""
    from datetime import timedelta

    from tests.web.test_casework_story import answer

    app, base = console
    case = short_form(new_case(app).reference)  # cw1's
    page = browser.new_page()
    page.clock.install()  # the page's own minutes, moved on as the store's are
    enrol_and_sign_in(page, app, clock, base, "cw1")
    open_assessment(page, base, case, "initial_contact")
    for minutes in range(3):  # ten minutes of talk between answers: half an hour
        clock.advance(timedelta(minutes=10))
        page.clock.fast_forward("10:00")
        with page.expect_response(f"{base}/still-here") as told:
            page.locator("main textarea").first.press_sequentially(f"{minutes} ")
        assert told.value.status == 204
    answer(page, app)
    follow(page, "main button.primary")
    assert "Assessment recorded" in page.locator("h1").inner_text(), page.url


def test_taking_an_alert_after_the_session_ended_says_it_was_not_taken_and_leads_back(
    console: tuple[App, str], clock: FixedClock, browser: Any
) -> None:
    """A supervisor reads an alert, is on the phone for twenty minutes, then presses "I'm
    taking this": the session has ended, and the sign-in page says so and that nothing was
    saved; signed in again, they are back on the alert, still to be taken. Found by review:
    a bare sign-in page, then the caseload, and nothing said the alert was not taken."""
    from datetime import timedelta

    app, base = console
    alert = imminent_alert(app, new_case(app))
    page = browser.new_page(viewport=PHONE)
    secret = enrol_and_sign_in(page, app, clock, base, "sup")
    page.goto(f"{base}/alerts/{alert.id}")
    clock.advance(timedelta(minutes=20))
    follow(page, "text=I'm taking this")
    assert page.url.startswith(f"{base}/sign-in")
    said = page.locator("main [role=alert]").inner_text()
    assert "signed out" in said and "not saved" in said, said
    next_step(clock)
    page.fill("#handle", "sup")
    page.fill("#password", PASSWORD)
    page.fill("#code", code(app, secret))
    follow(page, "main button[type=submit]")
    assert page.url == f"{base}/alerts/{alert.id}"
    assert page.locator("main button", has_text="I'm taking this").count() == 1
    acknowledged = app.run(lambda uow: uow.session.get_one(type(alert), alert.id).acknowledged_at)
    assert acknowledged is None


def test_a_case_flagged_with_an_imminent_alert_leads_to_the_alert_from_its_page(
    console: tuple[App, str], clock: FixedClock, browser: Any
) -> None:
    """A supervisor opens a case the caseload flags "imminent alert": its page says the alert
    waits to be taken and links to it, where they take it. Found by review: the case page
    said nothing of it but "alert opened" in the timeline, with no way to the alert."""
    app, base = console
    case = new_case(app)
    alert = imminent_alert(app, case)
    page = browser.new_page(viewport=PHONE)
    enrol_and_sign_in(page, app, clock, base, "sup")
    row = page.locator("table.cases tbody tr", has_text=short_form(case.reference))
    assert "imminent alert" in row.inner_text()
    follow(page, row.locator(f"text={short_form(case.reference)}"))
    summary = page.locator("section[aria-labelledby=summary]")
    assert "imminent threat" in summary.inner_text(), summary.inner_text()
    follow(page, summary.locator(f'a[href="/alerts/{alert.id}"]'))
    follow(page, "text=I'm taking this")
    assert "Taken by sup" in page.locator("main").inner_text()
    page.goto(f"{base}/cases/{short_form(case.reference)}")
    assert page.locator(f'main a[href="/alerts/{alert.id}"]').count() == 0
