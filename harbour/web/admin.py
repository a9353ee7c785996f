"""The admin's pages: the agency's staff, adding an account (with its enrolment link, as
``harbour staff add`` prints it or sends it), a new link (``staff reset``), a new role
(``staff role``), the on-call rota (``staff on-call``) and deactivating with the open cases reassigned (``staff deactivate
--reassign-to``); the agencies (``agency list|add``, the new agency's first admin's enrolment
link with it) and an agency's mail and chat settings (``agency delivery``); the routes (``notify check``, and
``notify test`` as a button); where a key rotation stands (``keys status``: read-only, rotating
stays a CLI job)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from harbour import templating
from harbour.auth.sessions import SignedIn
from harbour.errors import ConfigError, Conflict, InvalidInput, NotFound
from harbour.web import adapter, forms, notice
from harbour.web.pages import call, checked_form, form_page, harbour, render, staff_page

templating.register(
    "web/staff.html",
    "web/staff_link.html",
    "web/agencies.html",
    "web/agency_delivery.html",
    "web/routes.html",
    "web/keys.html",
)
ROLES = ("coordinator", "caseworker", "supervisor", "admin")
FIELDS = re.compile(r"handle|role|on_call")
ALIASES = {"--handle": "handle", "--role": "role", "HANDLE": "handle"}
# A deactivation's one field: who takes the open cases (in the person's own row).
REASSIGN = re.compile(r"reassign_to")
REASSIGN_NAMES = {"--reassign-to": "reassign_to"}
ROLE_FIELDS = re.compile(r"role")
_HANDLE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
STAFF_PATH = "/staff"


async def _page(
    request: Request,
    who: SignedIn,
    typed: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
    said: str | None = None,
    row: str | None = None,
) -> Response:
    """The staff page; ``row``: the person whose row's form the refusal belongs to. Its reset
    forms carry when it was shown (``reset``)."""
    app = harbour(request)
    shown = await call(adapter.staff_page, app, who.handle)
    takers = [
        (s["handle"], s["handle"])
        for s in shown["staff"]
        if shown["full"] and s["active"] and s["role"] in ("caseworker", "supervisor")
    ]
    return form_page(
        request,
        "staff",
        who,
        refusal,
        title="Staff",
        roles=[(r, r) for r in ROLES],
        takers=takers,
        typed=typed or {"role": "caseworker"},
        notice=said,
        refused_row=row,
        shown_at=app.clock.now().isoformat(),
        **shown,
    )


@staff_page
async def staff(request: Request, who: SignedIn) -> Response:
    """The staff list; after an action (post/redirect/get), what it did, said once."""

    async def page(kept: dict[str, Any] | None) -> Response:
        return await _page(request, who, said=_said(kept) if kept else None)

    return await notice.said_once(request, harbour(request).settings, who, page)


def _done(request: Request, who: SignedIn, said: dict[str, Any] | None = None) -> Response:
    """An action's answer: back to the staff list (303: a refresh sends nothing again), with
    what it did (operational values: handles, roles, flags) kept to be said there once."""
    back = RedirectResponse(STAFF_PATH, status_code=303)
    if said:
        notice.keep(back, harbour(request).settings, who, STAFF_PATH, said)
    return back


def _warned(said: str, kept: dict[str, Any]) -> str:
    """What a change says, and who is paged instead if it took the last of a tier away."""
    return f"{said} {kept['warning']}" if kept.get("warning") else said


def _said(kept: dict[str, Any]) -> str | None:
    """What the staff list says of the action kept for it (``_done``)."""
    whom, did = kept.get("handle"), kept.get("did")
    if did == "role":
        if kept["role"] == kept["previous"]:
            return f"{whom} is already {kept['role']}."
        return _warned(f"{whom} is now {kept['role']} (was {kept['previous']}).", kept)
    if did == "on_call":
        state = f"{'on' if kept['on_call'] else 'off'} call"
        said = f"{whom} is {state}." if kept["changed"] else f"{whom} is already {state}."
        return _warned(said, kept)
    if did == "deactivate":
        moved = (
            f"; {kept['reassigned']} open case(s) now {kept['to']}'s" if kept["reassigned"] else ""
        )
        return _warned(f"{whom} deactivated{moved}.", kept)
    if did == "reset":
        return (
            f"Sign-in cleared and sessions ended for {whom}. Their enrolment link went to "
            "their own route (valid 24 hours, once)."
        )
    if did == "reset_since":
        return (
            f"{whom}'s sign-in was reset after this page was shown (the form sent again?): "
            "nothing was done. The link issued then is not shown again; reset again here "
            "for a new one."
        )
    return None


@staff_page
async def add(request: Request, who: SignedIn) -> Response:
    form = await checked_form(request, who)
    typed = forms.values(form)
    app = harbour(request)
    fields = {
        "handle": typed.get("handle", "").strip(),
        "role": typed.get("role", ""),
        "on_call": forms.checked(typed, "on_call"),
    }
    try:
        agency = (await call(adapter.staff_page, app, who.handle))["agency"]
        added = await call(adapter.add_staff, app, who.handle, agency, fields)
    except InvalidInput as exc:
        return await _page(request, who, typed, forms.refusal(exc, FIELDS, ALIASES))
    except Conflict as exc:
        return await _page(request, who, typed, forms.conflict(exc))
    return render(request, "staff_link", who, title="Staff added", added=added, reset=False)


def _whom(request: Request) -> str:
    whom: str = request.path_params["handle"]
    if not _HANDLE.fullmatch(whom):
        raise NotFound("staff_not_found", "no staff member with that handle")
    return whom


@staff_page
async def reset(request: Request, who: SignedIn) -> Response:
    """``harbour staff reset``: back to the staff list when the link went to the person's own
    route; a link to hand over is shown on this answer alone (never in a URL or a cookie), and
    this form sent again (a refresh) resets nothing (``adapter.reset_staff``'s ``unless_since``).
    """
    form = await checked_form(request, who)
    whom, since = _whom(request), _moment(forms.values(form).get("shown", ""))
    try:
        done = await call(adapter.reset_staff, harbour(request), who.handle, whom, since)
    except Conflict as exc:
        if exc.code != "reset_since":
            raise
        return _done(request, who, {"did": "reset_since", "handle": whom})
    if done["link"] is None:
        return _done(request, who, {"did": "reset", "handle": whom})
    return render(request, "staff_link", who, title="New enrolment link", added=done, reset=True)


def _moment(shown: str) -> datetime | None:
    """When the page a form came from was shown (its own ``shown_at``), if it says."""
    try:
        moment = datetime.fromisoformat(shown)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@staff_page
async def deactivate(request: Request, who: SignedIn) -> Response:
    form = await checked_form(request, who)
    typed = forms.values(form)
    to = typed.get("reassign_to") or None
    whom = _whom(request)
    try:
        done = await call(adapter.deactivate_staff, harbour(request), who.handle, whom, to)
    except (InvalidInput, Conflict) as exc:
        return await _page(request, who, None, _deactivation_refused(exc, whom), row=whom)
    said = {"did": "deactivate", "handle": whom, "to": to}
    return _done(request, who, said | {k: done[k] for k in ("reassigned", "warning")})


def _deactivation_refused(exc: InvalidInput | Conflict, whom: str) -> forms.Refusal:
    """A deactivation's refusal, in the person's row: beside their choice of who takes their
    open cases (cases given them since the page was shown; the one chosen gone meanwhile),
    the rest above naming them. The command line says what to do with its commands."""
    if isinstance(exc, Conflict):
        if exc.code == "has_open_cases":
            said = f"{whom} has open cases: choose who takes them, then deactivate again"
            return forms.Refusal({"reassign_to": said})
        return forms.conflict(exc)
    refused = forms.refusal(exc, REASSIGN, REASSIGN_NAMES)
    return forms.Refusal(refused.by_field, [(whom, reason) for _, reason in refused.general])


@staff_page
async def role(request: Request, who: SignedIn) -> Response:
    """``harbour staff role HANDLE ROLE``: back to the staff list, saying what changed."""
    form = await checked_form(request, who)
    typed = forms.values(form)
    whom = _whom(request)
    try:
        done = await call(
            adapter.change_role, harbour(request), who.handle, whom, typed.get("role", "")
        )
    except InvalidInput as exc:
        return await _page(request, who, None, _placed(exc, whom))
    except Conflict as exc:
        return await _page(request, who, None, _role_refused(exc, whom, typed.get("role")))
    return _done(request, who, {"did": "role", "handle": whom} | done)


@staff_page
async def on_call(request: Request, who: SignedIn) -> Response:
    """``harbour staff on-call HANDLE [--off]``: back to the staff list, saying what changed."""
    form = await checked_form(request, who)
    whom = _whom(request)
    wanted = forms.values(form).get("on_call")
    if wanted not in ("yes", "no"):
        refused = forms.Refusal(general=[(f"{whom}: on call", "must be yes or no")])
        return await _page(request, who, None, refused)
    done = await call(adapter.set_on_call, harbour(request), who.handle, whom, wanted == "yes")
    said = {"did": "on_call", "handle": whom}
    return _done(request, who, said | {k: done[k] for k in ("on_call", "changed", "warning")})


def _role_refused(exc: Conflict, whom: str, role: str | None) -> forms.Refusal:
    """A role change's conflict, naming the person, said with what to do and where: the
    command line's names its commands (an operator's status is taken back there only)."""
    said = {
        "has_open_cases": f"{whom} has open cases, and a {role} takes no cases: have them "
        "reassigned first (“Assign or reassign”, on each case's page, by a coordinator or a "
        "supervisor)",
        "operator_stays_admin": f"{whom} is one of the installation's operators, who stay "
        "admins: an operator takes that back first, at the command line on the server (not "
        "from the console); then change the role here",
    }.get(exc.code)
    if said is None:
        return forms.conflict(exc)
    return forms.Refusal(general=[(f"{whom}: role", said)])


def _placed(exc: InvalidInput, whom: str) -> forms.Refusal:
    """A role form's refusal, in the summary (each row has its own form) naming the person."""
    refused = forms.refusal(exc, FIELDS, ALIASES)
    named = [(f"{whom}: {name}", reason) for name, reason in refused.by_field.items()]
    return forms.Refusal(general=[*named, *refused.general])


# Agencies (``harbour agency list|add``)

AGENCY_FIELDS = re.compile(r"name|timezone|address|phone|admin")
AGENCY_ALIASES = {
    "--name": "name",
    "--timezone": "timezone",
    "--address": "address",
    "--phone": "phone",
    "--admin": "admin",
    "--admin.handle": "admin",
}


async def _agencies(
    request: Request,
    who: SignedIn,
    typed: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
    added: dict[str, str] | None = None,
) -> Response:
    shown = await call(adapter.agencies_page, harbour(request), who.handle)
    return form_page(
        request, "agencies", who, refusal, title="Agencies", typed=typed or {}, added=added, **shown
    )


@staff_page
async def agencies(request: Request, who: SignedIn) -> Response:
    return await _agencies(request, who)


@staff_page
async def add_agency(request: Request, who: SignedIn) -> Response:
    form = await checked_form(request, who)
    typed = forms.values(form)
    fields: dict[str, str | None] = {
        name: forms.text(typed, name) for name in ("name", "address", "phone", "admin")
    }
    fields["name"] = fields["name"] or ""
    if timezone := forms.text(typed, "timezone"):
        fields["timezone"] = timezone
    try:
        added = await call(adapter.add_agency, harbour(request), who.handle, fields)
    except InvalidInput as exc:
        refusal = forms.refusal(exc, AGENCY_FIELDS, AGENCY_ALIASES)
        return await _agencies(request, who, typed, refusal)
    except Conflict as exc:
        return await _agencies(request, who, typed, forms.conflict(exc))
    return await _agencies(request, who, added=added)


# An agency's mail and chat settings (``harbour agency delivery [--agency NAME]``): an agency's
# admin their own agency's, an operator any agency's. What was typed into them is never shown
# back (a mail URL holds a password, a chat URL a token): a refused form keeps the ticks only.

DELIVERY_FIELDS = re.compile(r"mail|chat|clear_mail|clear_chat")
DELIVERY_ALIASES = {"--mail": "mail", "--chat": "chat"}
NOTHING_GIVEN = "give new mail or chat settings, or tick one to remove"


def _agency_name(request: Request) -> str:
    name: str = request.path_params["agency"]
    if not _HANDLE.fullmatch(name):
        raise NotFound("agency_not_found", "no agency with that name")
    return name


async def _delivery(
    request: Request,
    who: SignedIn,
    ticked: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
    saved: bool = False,
    warning: str | None = None,
) -> Response:
    app, name = harbour(request), _agency_name(request)
    shown = await call(adapter.agency_delivery, app, who.handle, name)
    return form_page(
        request,
        "agency_delivery",
        who,
        refusal,
        title="Mail and chat settings",
        agency=shown,
        typed=ticked or {},
        saved=saved,
        warning=warning,
    )


@staff_page
async def delivery_form(request: Request, who: SignedIn) -> Response:
    """The settings; just saved (``delivery``: post/redirect/get), "Saved." said once."""

    async def page(kept: dict[str, Any] | None) -> Response:
        if kept is None:
            return await _delivery(request, who)
        return await _delivery(request, who, saved=True, warning=kept.get("warning"))

    return await notice.said_once(request, harbour(request).settings, who, page)


@staff_page
async def delivery(request: Request, who: SignedIn) -> Response:
    form = await checked_form(request, who)
    typed = forms.values(form)
    name = _agency_name(request)
    fields = {channel: forms.text(typed, channel) for channel in ("mail", "chat")}
    clear = [channel for channel in ("mail", "chat") if forms.checked(typed, f"clear_{channel}")]
    ticked = {f"clear_{channel}": forms.ON for channel in clear}
    try:
        done = await call(adapter.set_delivery, harbour(request), who.handle, name, fields, clear)
    except InvalidInput as exc:
        refused = forms.refusal(exc, DELIVERY_FIELDS, DELIVERY_ALIASES)
        general = [(n, NOTHING_GIVEN) if n == "(options)" else (n, r) for n, r in refused.general]
        refusal = forms.Refusal(refused.by_field, general)
        return await _delivery(request, who, ticked, refusal)
    # Back to the page (303: a refresh sends nothing again), "Saved." kept to be said there once.
    back = RedirectResponse(request.url.path, status_code=303)
    notice.keep(
        back, harbour(request).settings, who, request.url.path, {"warning": done["warning"]}
    )
    return back


# Routes (``harbour notify check``, ``notify test``)

TEST_FIELDS = re.compile(r"to")


async def _routes(
    request: Request,
    who: SignedIn,
    typed: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
    tested: list[dict[str, object]] | None = None,
) -> Response:
    report = await call(adapter.notify_check, harbour(request), who.handle)
    return form_page(
        request,
        "routes",
        who,
        refusal,
        title="Routes",
        report=report,
        typed=typed or {},
        tested=tested,
    )


@staff_page
async def routes(request: Request, who: SignedIn) -> Response:
    return await _routes(request, who)


@staff_page
async def test_route(request: Request, who: SignedIn) -> Response:
    """A harmless test message to every route of a tag the person may see (never another
    agency's): how each route took it, beside the routes."""
    form = await checked_form(request, who)
    typed = forms.values(form)
    to = typed.get("to", "")
    try:
        tested = await call(adapter.notify_test, harbour(request), who.handle, to)
    except InvalidInput as exc:
        return await _routes(request, who, typed, forms.refusal(exc, TEST_FIELDS, {"--to": "to"}))
    except NotFound:
        refusal = forms.Refusal({"to": "no route you can see has that tag"})
        return await _routes(request, who, typed, refusal)
    except ConfigError as exc:
        return await _routes(request, who, typed, forms.Refusal(general=[("routes", exc.code)]))
    return await _routes(request, who, typed, tested=tested)


# Keys (``harbour keys status``): read-only


@staff_page
async def keys(request: Request, who: SignedIn) -> Response:
    status = await call(adapter.key_status, harbour(request), who.handle)
    return render(request, "keys", who, title="Encryption keys", keys=status)
