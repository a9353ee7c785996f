"""What wraps every response: security headers, a sanitized access log, and a last line of
defence that turns any unexpected exception into a bare 500 (no traceback, no values)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

log = logging.getLogger("harbour.web")
access_log = logging.getLogger("harbour.web.access")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
# Sent only over HTTPS: a browser that has seen it keeps to HTTPS for a year.
HSTS = (b"strict-transport-security", b"max-age=31536000")
CSP_HEADER = b"content-security-policy"
NO_STORE = (b"cache-control", b"no-store")
STATIC_CACHE = (b"cache-control", b"public, max-age=3600")
# A route's parameter in its path template, and the values of one the log may show: a case
# reference (HB-...), an id, a handle or a word of the console's own; anything else (a name
# typed where a reference goes) is masked, and an enrolment token always is.
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
_SHOWN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MASKED = frozenset({"token"})
UNKNOWN_PATH = "[no such page]"
_ERROR_PAGE = (
    b'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Error - Harbour</title>'
    b"</head><body><main><h1>Something went wrong</h1><p>Nothing was shown. "
    b'<a href="/">Back to the caseload</a></p></main></body></html>'
)


def loggable_path(scope: Any) -> str:
    """A request's path as logs may show it: the template of the route it matched, each
    parameter filled in only where its value is one the log may show (``_SHOWN``; never a query
    string); a path no route matched is not shown at all: what was typed into the address bar
    (a youth's name, a mangled enrolment link and its token) stays out of the log."""
    template = getattr(scope.get("route"), "path", None)
    if template is None:
        return UNKNOWN_PATH
    params = scope.get("path_params") or {}

    def shown(found: re.Match[str]) -> str:
        name, value = found.group(1), str(params.get(found.group(1), ""))
        if name in _MASKED or not _SHOWN.fullmatch(value) or not _looks_like(name, value):
            return f"[{name}]"
        return value

    return _PARAM.sub(shown, template)


# The console's own words where a route takes one (a plan change, a step's done or undo, a
# missing-youth record, a lifecycle action, a document's audience and format).
_WORDS = frozenset(
    {"accept", "reject", "add", "edit", "youth-copy", "finalize", "done", "undo"}
    | {"record", "step", "returned", "discharge", "close", "reopen"}
    | {"staff", "youth", "family", "html", "text", "md"}
)
_HEX_ID = re.compile(r"[0-9a-f]{8,32}")
_SHAPES: dict[str, Callable[[str], object]] = {
    "alert_id": _HEX_ID.fullmatch,
    "visit_id": _HEX_ID.fullmatch,
    "number": str.isdigit,
    "item": str.isdigit,  # a plan item's number (its key says what the youth plans)
    "what": _WORDS.__contains__,
    "action": _WORDS.__contains__,
    "audience": _WORDS.__contains__,
    "fmt": _WORDS.__contains__,
}


def _looks_like(name: str, value: str) -> bool:
    """A reference is shown only as one (HB-...), an id as one, a word only as one of the
    console's own: a single word there may be a name. Staff handles and agency names are shown."""
    if name == "ref":
        return value.upper().startswith("HB-")
    shape = _SHAPES.get(name)
    return shape is None or bool(shape(value))


class Guard:
    """Pure ASGI middleware, outermost. ``https``: the console is reached over HTTPS only (not
    on a loopback address), so its responses tell browsers to keep to it (HSTS)."""

    def __init__(self, app: Any, *, https: bool) -> None:
        self.app = app
        self.headers = [*HEADERS, HSTS] if https else HEADERS

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")
        status: list[int] = []

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                ]
                # A page with its own policy (a printable plan document: inline style, and
                # nothing else at all) keeps it; every other response gets the console's.
                own_csp = any(k.lower() == CSP_HEADER for k, _ in headers)
                headers += [h for h in self.headers if not (own_csp and h[0] == CSP_HEADER)]
                headers.append(STATIC_CACHE if static else NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # the last line of defence: the type's name only
            log.error("internal error: %s", type(exc).__name__)
            if not status:
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"text/html; charset=utf-8")],
                    }
                )
                await send({"type": "http.response.body", "body": _ERROR_PAGE})
                status.append(500)
        access_log.info(
            "%s %s %d", scope["method"], loggable_path(scope), status[0] if status else 0
        )
