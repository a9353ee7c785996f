"""The console's pages. Each handler checks who is asking, calls the adapter (the same services
as the CLI), and renders a template; every state change is a POST carrying the session's CSRF
token. URLs hold case references and alert ids only."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import segno
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from harbour import templating
from harbour.app import App
from harbour.auth import enrolment, sessions, signin
from harbour.auth.sessions import SignedIn
from harbour.domain.privilege import permitted, role_refusal
from harbour.domain.text import HANDLE_MAX, is_digits
from harbour.domain.vocab import AssessmentPoint
from harbour.errors import Conflict, Forbidden, HarbourError, InvalidInput, NotFound
from harbour.web import adapter, cookies
from harbour.web.forms import Refusal

T = TypeVar("T")
PAGES = (
    "_base.html",
    "sign_in.html",
    "enrol.html",
    "enrolled.html",
    "caseload.html",
    "_cases.html",
    "alerts.html",
    "alert.html",
    "_alert_parts.html",
    "error.html",
    "audit.html",
    "case.html",
    "case_details.html",
)
templating.register(*(f"web/{page}" for page in PAGES))

# Where a sign-in may lead back to: the console's own pages, by fixed name, alert id or case
# reference only (a visit's "I'm back" sent after the session ended leads back to the visits).
_PAGES = "visits|escalations|refer|dashboard|staff|agencies|routes|keys|audit"
_NEXT = re.compile(rf"/(alerts(/[0-9a-f]{{8,32}})?|cases/HB-[0-9A-Z-]{{4,40}}|{_PAGES})?")
ALERT_ID = re.compile(r"[0-9a-f]{8,32}")
_CASE_REF = re.compile(r"[A-Za-z0-9-]{4,40}")


def _hours(span: timedelta) -> str:
    count = span // timedelta(hours=1)
    return "an hour" if count == 1 else f"{count} hours"


# The lock's numbers are the sign-in's own (``signin.LOCK_*``), never typed here again.
SIGN_IN_FAILED = (
    "That did not work. Check your handle, password and the current code from your app. "
    f"After several failures you must wait before trying again, and after {signin.LOCK_AFTER} "
    f"in {_hours(signin.LOCK_WINDOW)} the account is locked for {_hours(signin.LOCK_FOR)}: an "
    "admin can unlock it now by resetting your sign-in."
)


def harbour(request: Request) -> App:
    app: App = request.app.state.harbour
    return app


async def call(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A service call (synchronous database work) off the event loop."""
    return await run_in_threadpool(work, *args, **kwargs)


def render(
    request: Request, template: str, who: SignedIn | None, status: int = 200, **context: Any
) -> HTMLResponse:
    app = harbour(request)
    values = page_values(who, template, context)
    html = templating.render(app.settings.templates_dir, f"web/{template}.html", values)
    return HTMLResponse(html, status_code=status)


def form_page(
    request: Request,
    template: str,
    who: SignedIn | None,
    refusal: Refusal | None,
    **context: Any,
) -> HTMLResponse:
    """A form's page: as first shown, or again with a refusal (400), each message beside its
    field and the rest at the top, what was typed kept (``context["typed"]``)."""
    refusal = refusal or Refusal()
    status = 400 if refusal else 200
    errors = refusal.by_field
    return render(request, template, who, status, errors=errors, refusal=refusal, **context)


def page_values(who: SignedIn | None, template: str, context: dict[str, Any]) -> dict[str, Any]:
    """What every page's template is given besides its own context."""
    return {
        "who": who,
        "csrf": who.csrf_token if who else "",
        "nav": template,
        "may": lambda action: who is not None and permitted(who.role, action),
        **context,
    }


def error(
    request: Request, who: SignedIn | None, status: int, message: str, cover: str = ""
) -> HTMLResponse:
    """An error page; ``cover``: the case a caseworker may start a cover of from here."""
    return render(request, "error", who, status=status, title="Error", message=message, cover=cover)


async def current(request: Request) -> SignedIn | None:
    app = harbour(request)
    token = request.cookies.get(cookies.name(app.settings, cookies.SESSION))
    return await call(sessions.current, app, token)


def to_sign_in(request: Request) -> Response:
    """Sign-in first, then back to the page asked for, or the one a form was sent from. Once a
    session has ended (a page asked for with its cookie, or any form sent), sign-in says so: a
    form's work was not saved, which a bare sign-in page, then the caseload, never said."""
    path = request.url.path
    back = page_of(path)
    query = {"next": back} if back != "/" else {}
    if path in ("/sign-out", "/still-here"):  # nothing of the person's own work was sent
        query = {}
    elif request.method == "POST":
        query["ended"] = "unsaved"
    elif request.cookies.get(cookies.name(harbour(request).settings, cookies.SESSION)):
        query["ended"] = "yes"
    target = "/sign-in" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    return RedirectResponse(target, status_code=303)


def page_of(path: str) -> str:
    """The page sign-in may lead back to for ``path``: the path itself, or the page it belongs
    to (``/alerts/ID/ack``: ``/alerts/ID``; ``/cases/HB-.../plan/accept``: ``/cases/HB-...``),
    else the caseload."""
    parts = path.rstrip("/").split("/")
    while len(parts) > 1:
        if _NEXT.fullmatch(candidate := "/".join(parts)):
            return candidate
        parts.pop()
    return "/"


def signed_out(app: App, ended: str) -> str | None:
    """Why sign-in was shown instead of a page (``to_sign_in``), in the console's own words."""
    settings = app.settings
    why = (
        f"You were signed out (after {settings.session_idle_minutes} minutes without activity, "
        f"{settings.session_max_hours} hours after signing in, or by an admin)"
    )
    if ended == "unsaved":
        return f"{why}, so what you just sent was not saved. Sign in, then do it again."
    return f"{why}. Sign in again to go on." if ended == "yes" else None


def offered(who: SignedIn, action: str) -> None:
    """A form is shown only to a role that may send it (refused as the service would refuse it:
    the case is looked up, and the attempt audited, when it is sent)."""
    if not permitted(who.role, action):
        raise Forbidden("not_permitted", role_refusal(who.role, action))


def same_token(sent: object, expected: str) -> bool:
    """Whether a token a form sent is ``expected``, compared in constant time, as bytes: any
    text may come in a form, and ``compare_digest`` raises on a string beyond ASCII."""
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), expected.encode())


async def checked_form(request: Request, who: SignedIn) -> FormData:
    """The form of a state-changing request, refused without the session's CSRF token."""
    form = await request.form()
    if not same_token(form.get("csrf"), who.csrf_token):
        raise Forbidden("csrf", "the form is stale or came from elsewhere; reload the page")
    return form


# A form opened before the person last signed in (the session expired meanwhile), in another
# session's tab, or sent from elsewhere: not a refusal of their role, and what they typed is gone.
STALE_FORM = (
    "Not saved: this form was opened before you last signed in (or came from elsewhere), so "
    "nothing was saved. Open the page again and enter it there."
)


def answer(request: Request, who: SignedIn | None, exc: HarbourError) -> HTMLResponse:
    """A refusal as a page: codes and field names only, never a value."""
    if isinstance(exc, NotFound):
        return error(request, who, 404, "Not found.")
    if isinstance(exc, Forbidden) and exc.code == "not_assigned":
        ref = request.path_params.get("ref", "")
        return error(
            request,
            who,
            403,
            "Not assigned to you: ask your supervisor, or start a cover.",
            cover=ref if _CASE_REF.fullmatch(ref) else "",
        )
    if isinstance(exc, Forbidden) and exc.code == "csrf":
        return error(request, who, 403, STALE_FORM)
    if isinstance(exc, Forbidden):
        return error(request, who, 403, "Not permitted.")
    if isinstance(exc, InvalidInput):
        reasons = "; ".join(f"{field}: {reason}" for field, reason in exc.problems)
        return error(request, who, 400, f"Not accepted: {reasons}.")
    if isinstance(exc, Conflict):  # the state moved on: what the service says, never a value
        return error(request, who, 409, f"Not done: {exc.detail or exc.code}.")
    return error(request, who, 500, f"Not done ({exc.code}).")


def staff_page(
    handler: Callable[[Request, SignedIn], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """A page for signed-in staff: others go to sign-in (and come back); a refusal from the
    services becomes its page."""

    async def page(request: Request) -> Response:
        who = await current(request)
        if who is None:
            return to_sign_in(request)
        try:
            return await handler(request, who)
        except HarbourError as exc:
            return answer(request, who, exc)

    return page


# Sign-in and sign-out


async def sign_in_form(request: Request) -> Response:
    app = harbour(request)
    next_path = request.query_params.get("next", "/")
    message = signed_out(app, request.query_params.get("ended", ""))
    return _sign_in_page(
        request, app, next_path if _NEXT.fullmatch(next_path) else "/", message=message
    )


def _sign_in_page(
    request: Request,
    app: App,
    next_path: str,
    status: int = 200,
    message: str | None = None,
    handle: str = "",
) -> Response:
    """The sign-in form; refused, with the handle typed kept (as a field can hold it: printable,
    at most a handle's length), never the password or the code."""
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "sign_in",
        None,
        status=status,
        title="Sign in",
        form_token=token,
        next_path=next_path,
        message=message,
        refused=status >= 400,  # the message takes the focus
        handle="".join(c for c in handle if c.isprintable())[:HANDLE_MAX],
        handle_max=HANDLE_MAX,
    )
    cookies.put(response, app.settings, cookies.SIGN_IN, token)
    return response


async def sign_in(request: Request) -> Response:
    app = harbour(request)
    form = await request.form()
    field = {k: v if isinstance(v, str) else "" for k, v in form.items()}
    next_path = field.get("next", "/")
    next_path = next_path if _NEXT.fullmatch(next_path) else "/"
    expected = request.cookies.get(cookies.name(app.settings, cookies.SIGN_IN), "")
    sent = field.get("form_token", "")
    handle = field.get("handle", "").strip()
    if not expected or not same_token(sent, expected):
        expired = "The form expired; try again."
        return _sign_in_page(request, app, next_path, 403, expired, handle)
    address = request.client.host if request.client else "-"
    done = await call(
        signin.sign_in,
        app,
        handle,
        field.get("password", ""),
        field.get("code", ""),
        address,
    )
    if done is None:
        return _sign_in_page(request, app, next_path, 400, SIGN_IN_FAILED, handle)
    old = request.cookies.get(cookies.name(app.settings, cookies.SESSION))
    if old:
        await call(sessions.end, app, old)
    token, _ = done
    response = RedirectResponse(next_path, status_code=303)
    cookies.put(response, app.settings, cookies.SESSION, token)
    cookies.drop(response, app.settings, cookies.SIGN_IN)
    return response


@staff_page
async def sign_out(request: Request, who: SignedIn) -> Response:
    app = harbour(request)
    await checked_form(request, who)
    await call(sessions.end, app, request.cookies.get(cookies.name(app.settings, cookies.SESSION)))
    response = RedirectResponse("/sign-in", status_code=303)
    cookies.drop(response, app.settings, cookies.SESSION)
    return response


@staff_page
async def still_here(request: Request, who: SignedIn) -> Response:
    """Typing in a form (``static/alive.js``): the session's idle time restarts, as with any
    request (``current``), so answers typed over a long conversation are not met by sign-in."""
    await checked_form(request, who)
    return Response(status_code=204)


# Enrolment: the link's token is the credential; the page has no session yet.


LINK_GONE = "This link is unknown, used or expired: ask an admin."


async def enrol_form(request: Request) -> Response:
    """A plain visit to the link: the handle and a button that asks for the key. The key (a
    second factor) is shown only to a form sent from this page: the mail and chat services the
    link travels through fetch it to scan or preview it, and would keep the key they were shown."""
    try:
        handle = await call(enrolment.link_holder, harbour(request), request.path_params["token"])
    except NotFound:
        return error(request, None, 404, LINK_GONE)
    return render(request, "enrol", None, title="Set up sign-in", handle=handle, secret=None)


async def _enrol_page_of(
    request: Request, token: str, status: int = 200, message: str = ""
) -> Response:
    """The enrolment page of a link, or a plain 404 once the link is unknown, used or expired."""
    try:
        shown = await call(enrolment.open_link, harbour(request), token)
    except NotFound:  # also when it ran out while its form was refused
        return error(request, None, 404, LINK_GONE)
    return _enrol_page(request, shown, status, message)


def _enrol_page(
    request: Request, shown: enrolment.EnrolmentPage, status: int = 200, message: str = ""
) -> Response:
    # An image's data: URI (the page's policy allows data: images), escaped like any value: no
    # markup of its own goes into the page unescaped.
    qr = segno.make(shown.totp_uri, error="m").svg_data_uri(scale=4, dark="#000", light="#fff")
    return render(
        request,
        "enrol",
        None,
        status=status,
        title="Set up sign-in",
        handle=shown.handle,
        secret=" ".join(shown.totp_secret[i : i + 4] for i in range(0, len(shown.totp_secret), 4)),
        qr=qr,
        message=message,
    )


async def enrol(request: Request) -> Response:
    app = harbour(request)
    token = request.path_params["token"]
    form = await request.form()
    field = {k: v if isinstance(v, str) else "" for k, v in form.items()}
    if "show_key" in field:  # the first page's button: the key, to set up the code app
        return await _enrol_page_of(request, token)
    try:
        await call(
            enrolment.complete,
            app,
            token,
            field.get("password", ""),
            field.get("password_again", ""),
            field.get("code", ""),
        )
    except NotFound:
        return error(request, None, 404, LINK_GONE)
    except InvalidInput as exc:
        reasons = "; ".join(f"{f.replace('_', ' ')}: {r}" for f, r in exc.problems)
        return await _enrol_page_of(request, token, 400, f"Not accepted: {reasons}.")
    return render(request, "enrolled", None, title="Sign-in set up")


# Pages for signed-in staff


def alert_id_of(request: Request) -> str:
    alert_id: str = request.path_params["alert_id"]
    if not ALERT_ID.fullmatch(alert_id):
        raise NotFound("alert_not_found", "no such alert")
    return alert_id


@staff_page
async def caseload(request: Request, who: SignedIn) -> Response:
    if not permitted(who.role, "case.list"):  # an admin: their console starts at the staff
        return RedirectResponse("/staff", status_code=303)
    query = request.query_params
    filters = {name: query.get(name) == "1" for name in ("due", "overdue", "escalated")}
    page_text = query.get("page", "1")
    if not is_digits(page_text):
        raise InvalidInput([("page", "a page number")])
    shown = await call(
        adapter.caseload, harbour(request), who.handle, page=int(page_text), **filters
    )
    links = {
        "previous": _page_link(filters, shown["page"] - 1) if shown["page"] > 1 else None,
        "next": _page_link(filters, shown["page"] + 1) if shown["page"] < shown["pages"] else None,
        # A page past the end (an old link, cases closed meanwhile) leads to the last one.
        "last": _page_link(filters, shown["pages"]) if shown["page"] > shown["pages"] else None,
    }
    return render(request, "caseload", who, title="Caseload", filters=filters, links=links, **shown)


def _page_link(filters: dict[str, bool], page: int) -> str:
    parts = [f"{name}=1" for name, on in filters.items() if on] + [f"page={page}"]
    return "/?" + "&".join(parts)


@staff_page
async def alert_list(request: Request, who: SignedIn) -> Response:
    shown = await call(adapter.open_alerts, harbour(request), who.handle)
    return render(request, "alerts", who, title="Alerts", **shown)


@staff_page
async def alert_page(request: Request, who: SignedIn) -> Response:
    app = harbour(request)
    shown = await call(adapter.one_alert, app, who.handle, alert_id_of(request))
    # A visit's alert: whose visit, and where it went for those who may see it.
    visit = await call(adapter.alert_visit, app, who.handle, shown["id"])
    return render(request, "alert", who, title="Alert", alert=shown, visit=visit)


@staff_page
async def take_alert(request: Request, who: SignedIn) -> Response:
    alert_id = alert_id_of(request)
    await checked_form(request, who)
    full_id = await call(adapter.take_alert, harbour(request), who.handle, alert_id)
    return RedirectResponse(f"/alerts/{full_id}", status_code=303)


@staff_page
async def case_page(request: Request, who: SignedIn) -> Response:
    shown = await call(adapter.case_page, harbour(request), who.handle, request.path_params["ref"])
    return render(request, "case", who, title="Case", points=ASSESSMENT_POINTS, **shown)


# The points an assessment may be made at, as the case page offers them.
ASSESSMENT_POINTS = [(p.value, p.value.replace("_", " ")) for p in AssessmentPoint]


@staff_page
async def case_details(request: Request, who: SignedIn) -> Response:
    """The deliberate "show details": a POST (CSRF-checked), audited as ``harbour case show``."""
    await checked_form(request, who)
    details = await call(
        adapter.case_details, harbour(request), who.handle, request.path_params["ref"]
    )
    return render(request, "case_details", who, title="Case details", **details)


@staff_page
async def system_audit(request: Request, who: SignedIn) -> Response:
    rows = await call(adapter.agency_audit, harbour(request), who.handle)
    return render(request, "audit", who, title="Audit", heading="Agency audit", rows=rows)


@staff_page
async def case_audit(request: Request, who: SignedIn) -> Response:
    ref = request.path_params["ref"]
    rows = await call(adapter.case_audit, harbour(request), who.handle, ref)
    heading = f"Audit trail of {ref[:12]}"
    return render(request, "audit", who, title="Audit", heading=heading, rows=rows)


async def not_found(request: Request, exc: Exception) -> Response:
    return error(request, None, 404, "Not found.")


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return error(request, None, 405, "Not allowed.")
