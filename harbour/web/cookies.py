"""The console's cookies: HttpOnly, SameSite=Strict, and Secure with the ``__Host-`` prefix
unless the console is on a loopback address (a developer's machine, a test)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.responses import Response

from harbour.settings import Settings

SESSION = "harbour-session"
SIGN_IN = "harbour-sign-in"  # the sign-in form's own CSRF token, before there is a session
NOTICE = "harbour-notice"  # what a form saved says on the page it leads to (``web.notice``)


def secure(settings: Settings) -> bool:
    host = urlsplit(settings.base_url).hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def name(settings: Settings, base: str) -> str:
    return f"__Host-{base}" if secure(settings) else base


def put(
    response: Response, settings: Settings, base: str, value: str, max_age: int | None = None
) -> None:
    """``max_age``: seconds the browser keeps it (None: until it closes)."""
    response.set_cookie(
        name(settings, base),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure(settings),
    )


def drop(response: Response, settings: Settings, base: str) -> None:
    response.delete_cookie(
        name(settings, base), path="/", httponly=True, samesite="strict", secure=secure(settings)
    )
