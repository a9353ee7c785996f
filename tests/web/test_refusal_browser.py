"""A refused form in a real browser: the page that answers takes the focus to what went wrong
(the error summary, or sign-in's message), so a screen-reader or keyboard user learns at once
that nothing was saved, and starts from there. Found by review: focus stayed at the top of the
page and nothing said the form was refused until the user went looking."""

from __future__ import annotations

from typing import Any

from harbour.app import App
from harbour.clock import FixedClock
from tests.web.browsing import BROWSER, PHONE, enrol_and_sign_in, follow
from tests.web.helpers import PASSWORD, code, next_step

pytestmark = BROWSER

FOCUSED = "() => { const at = document.activeElement; return at && (at.id || at.tagName); }"


def test_a_refused_referral_takes_the_focus_to_its_error_summary(
    console: tuple[App, str], clock: FixedClock, browser: Any
) -> None:
    app, base = console
    page = browser.new_page(viewport=PHONE)
    enrol_and_sign_in(page, app, clock, base, "coord")
    page.goto(f"{base}/refer")
    assert page.evaluate(FOCUSED) == "BODY"  # a form as first shown takes no focus
    follow(page, "main form.form button.primary")
    assert page.locator("main .error-summary").count() == 1
    assert page.evaluate(FOCUSED) == "problems", page.evaluate(FOCUSED)
    page.keyboard.press("Tab")  # from there, the first field it names is one Tab away
    assert page.evaluate("document.activeElement.closest('.error-summary') !== null")


def test_a_refused_sign_in_takes_the_focus_to_its_message_and_keeps_the_handle(
    console: tuple[App, str], clock: FixedClock, browser: Any
) -> None:
    app, base = console
    page = browser.new_page(viewport=PHONE)
    secret = enrol_and_sign_in(page, app, clock, base, "cw1")
    follow(page, "text=Sign out")
    next_step(clock)
    page.fill("#handle", "cw1")
    page.fill("#password", "not the password " + PASSWORD)
    page.fill("#code", code(app, secret))
    follow(page, "main button[type=submit]")
    assert page.url == f"{base}/sign-in"
    assert "did not work" in page.locator("main [role=alert]").inner_text()
    assert page.evaluate(FOCUSED) == "refused", page.evaluate(FOCUSED)
    # The handle is kept to try again; the password and code are typed again.
    assert page.input_value("#handle") == "cw1"
    assert page.input_value("#password") == page.input_value("#code") == ""
