"""A notice kept across a redirect (post/redirect/get): a form whose saving has more to say
than "done" answers 303 to a page with the notice in a cookie (``keep``), and that page says it
once (``take``, then ``drop``; ``said_once`` does both), so a refresh neither sends the form
again nor says it again.

The cookie is the session's kind (HttpOnly, SameSite=Strict, Secure off loopback), kept a
minute, and holds operational values only (numbers, codes, staff handles). It is signed with
the session's CSRF token (a value of that session alone, though written in its pages: a notice
carries nothing secret, only which of the page's own sentences to say) and names the page it
is for: said there only, and to that session only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from harbour.auth.sessions import SignedIn
from harbour.settings import Settings
from harbour.web import cookies
from harbour.web.pages import same_token

KEPT_SECONDS = 60


def keep(
    response: Response, settings: Settings, who: SignedIn, path: str, said: dict[str, Any]
) -> None:
    """Keep ``said`` (operational values) for ``path``, the page ``response`` leads to."""
    payload = base64.urlsafe_b64encode(json.dumps([path, said]).encode()).decode()
    value = f"{payload}.{_signature(who, payload)}"
    cookies.put(response, settings, cookies.NOTICE, value, max_age=KEPT_SECONDS)


def take(request: Request, settings: Settings, who: SignedIn) -> dict[str, Any] | None:
    """What was kept for this page by this session, if anything (then ``drop`` it)."""
    kept = request.cookies.get(cookies.name(settings, cookies.NOTICE), "")
    payload, _, signature = kept.partition(".")
    if not payload or not same_token(signature, _signature(who, payload)):
        return None
    path, said = json.loads(base64.urlsafe_b64decode(payload))
    return said if path == request.url.path and isinstance(said, dict) else None


def drop(response: Response, settings: Settings) -> None:
    cookies.drop(response, settings, cookies.NOTICE)


async def said_once(
    request: Request,
    settings: Settings,
    who: SignedIn,
    page: Callable[[dict[str, Any] | None], Awaitable[Response]],
) -> Response:
    """``page`` given what was kept for it (``take``; None: nothing), the notice then dropped:
    a page that says what the action before it did, once."""
    kept = take(request, settings, who)
    shown = await page(kept)
    if kept is not None:
        drop(shown, settings)
    return shown


def _signature(who: SignedIn, payload: str) -> str:
    return hmac.new(who.csrf_token.encode(), payload.encode(), hashlib.sha256).hexdigest()
