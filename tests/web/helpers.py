"""A console client over a seeded store: enrol staff through their real links, sign in with a
real TOTP code (the App's FixedClock is the authenticator's clock too)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from starlette.testclient import TestClient

from harbour.app import App
from harbour.auth.enrolment import reset
from harbour.clock import FixedClock
from harbour.web.server import create_app

PASSWORD = "correct mooring line 42"
# 2 as a superscript, in Arabic-Indic and full-width: str.isdigit takes each of them, and int
# refuses the first and reads the others; a number typed into the console is 0-9 only.
OTHER_TWOS = ("\u00b2", "\u0662", "\uff12")
BASE = "https://harbour.test"  # the settings fixture's HARBOUR_BASE_URL: cookies are Secure
# What only the command line says, never a page: a flag, a command, a file argument, a code span,
# an internal key (a word joined by "_", as the services name fields, steps and codes).
COMMAND_WORDS = re.compile(r"--[a-z]|\bharbour [a-z]|@FILE|`|\b[a-z]+_[a-z]")


# The logger of Starlette's TestClient (httpx2): its lines are the client's own, standing in for a
# browser, not the server's.
CLIENT_LOGGER = "httpx2"


def server_log(caplog: pytest.LogCaptureFixture) -> str:
    """Every line the server logged while ``caplog`` watched, the test client's left out."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name != CLIENT_LOGGER)


def client(app: App, base_url: str = BASE) -> TestClient:
    return TestClient(create_app(app), base_url=base_url, follow_redirects=False)


def enrolment_path(app: App, handle: str, admin: str = "adm") -> str:
    link = reset(app, admin, handle)
    assert link.url is not None
    return urlsplit(link.url).path


def enrol(app: App, web: TestClient, handle: str, password: str = PASSWORD) -> str:
    """Follow a fresh enrolment link as ``handle`` would; returns the TOTP secret."""
    path = enrolment_path(app, handle)
    assert web.get(path).status_code == 200
    page = key_page(web, path)
    assert page.status_code == 200, page.text
    secret = secret_on(page.text)
    done = web.post(
        path,
        data={"password": password, "password_again": password, "code": code(app, secret)},
    )
    assert done.status_code == 200, done.text
    return secret


def key_page(web: TestClient, path: str) -> Any:
    """The enrolment page with the code app's key, as its first page's button asks for it."""
    return web.post(path, data={"show_key": "1"})


def secret_on(html: str) -> str:
    found = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', html)
    assert found, "no TOTP secret on the enrolment page"
    return found.group(1).replace(" ", "")


def code(app: App, secret: str) -> str:
    return pyotp.TOTP(secret).at(app.clock.now())


def next_step(clock: FixedClock) -> None:
    """Move to the next 30-second TOTP step (a code is accepted once)."""
    clock.advance(timedelta(seconds=30))


def form_token(web: TestClient, path: str = "/sign-in") -> str:
    page = web.get(path)
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def sign_in(
    app: App,
    web: TestClient,
    handle: str,
    secret: str,
    password: str = PASSWORD,
    next_path: str = "/",
    code_text: str | None = None,
) -> Any:
    token = form_token(web)
    return web.post(
        "/sign-in",
        data={
            "form_token": token,
            "handle": handle,
            "password": password,
            "code": code_text if code_text is not None else code(app, secret),
            "next": next_path,
        },
    )


def refusals(page: str) -> str:
    """What a page says of a refusal, as text: its summary, and each message beside a field."""
    said = re.findall(
        r'<div class="error-summary".*?</div>|<span class="error"[^>]*>.*?</span>', page, re.S
    )
    return " ".join(" ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split()) for part in said)


def summary_names(page: str) -> list[str]:
    """How the error summary at the top names each field it links to (the field's label, as
    the form shows it beside the field: never the form's internal name, ``back_at``)."""
    found = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    assert found, page[-1500:]
    links = re.findall(r'<a href="#([^"]+)">(.*?)</a>', found.group(0), re.S)
    for target, _ in links:  # each link leads to its field
        assert f'id="{target}"' in page, target
    return [html.unescape(name) for _, name in links]


def autofocused(page: str) -> list[str]:
    """The opening tag of each element that takes the focus as the page loads (``autofocus``):
    a refused form's error summary, and nothing on a form as first shown."""
    return re.findall(r"<[a-z]+\b[^>]*\sautofocus\b[^>]*>", page)


def notices(page: str) -> str:
    """What a page's notices say, as text (a page that reached nobody says so in one)."""
    said = re.findall(r'<div class="notice".*?</div>', page, re.S)
    return " ".join(" ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split()) for part in said)


def csrf_of(web: TestClient, path: str = "/") -> str:
    page = web.get(path, follow_redirects=True)  # an admin's "/" leads to the staff page
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:300]
    return found.group(1)


def signed_in(app: App, clock: FixedClock, handle: str) -> tuple[TestClient, str]:
    web = client(app)
    secret = enrol(app, web, handle)
    next_step(clock)
    answer = sign_in(app, web, handle, secret)
    assert answer.status_code == 303, answer.text
    return web, secret
