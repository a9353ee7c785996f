"""`harbour demo --serve`: the demo's store opened for the web console, its staff enrolled
with fresh passwords and TOTP secrets a newcomer can type in (fictional accounts, this machine
only)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyotp

from harbour.app import App
from harbour.auth import enrolment
from harbour.clock import Clock, SystemClock
from harbour.demo import cast
from harbour.demo.run import Options, _settings
from harbour.demo.seeded import seeded_references


@dataclass(frozen=True)
class DemoAccount:
    handle: str
    role: str
    password: str
    totp_secret: str


def console_app(options: Options, clock: Clock | None = None) -> App:
    """The demo's store on the wall clock, without notification routes (its mail server and
    chat receiver stopped with the demo): enrolment links come back instead of being sent."""
    settings = _settings(options, Path()).model_copy(update={"apprise_config": None})
    return App(settings, clock or SystemClock(), references=seeded_references(options.seed))


def enrol_demo_staff(app: App) -> list[DemoAccount]:
    """Each demo staff member enrolled as they would be from their link, with a new password."""
    accounts = []
    for handle, role in (
        (cast.SUPERVISOR, "supervisor"),
        (cast.CASEWORKERS[0], "caseworker"),
        (cast.COORDINATOR, "coordinator"),
        (cast.ADMIN, "admin"),
    ):
        link = enrolment.reset(app, cast.ADMIN, handle)
        if link.url is None:  # cannot happen without routes: the link comes back
            raise RuntimeError("the enrolment link was sent instead of returned")
        token = urlsplit(link.url).path.removeprefix(enrolment.PATH)
        secret = enrolment.open_link(app, token).totp_secret
        password = "-".join(secrets.token_hex(3) for _ in range(4))
        code = pyotp.TOTP(secret).at(app.clock.now())
        enrolment.complete(app, token, password, password, code)
        accounts.append(DemoAccount(handle, role, password, secret))
    return accounts
