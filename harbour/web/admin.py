"""The admin's pages: the agency's staff, adding an account (with its enrolment link, as
``harbour staff add`` prints it or sends it), a new link (``staff reset``) and deactivating
with the open cases reassigned (``staff deactivate --reassign-to``)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from harbour import templating
from harbour.auth.sessions import SignedIn
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.web import adapter, forms
from harbour.web.pages import call, checked_form, form_page, harbour, render, staff_page

templating.register("web/staff.html", "web/staff_link.html")
ROLES = ("coordinator", "caseworker", "supervisor", "admin")
FIELDS = re.compile(r"handle|role|on_call|reassign_to")
ALIASES = {
    "--handle": "handle",
    "--role": "role",
    "--reassign-to": "reassign_to",
    "HANDLE": "handle",
}
_HANDLE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


async def _page(
    request: Request,
    who: SignedIn,
    typed: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
) -> Response:
    shown = await call(adapter.staff_page, harbour(request), who.handle)
    takers = [
        (s["handle"], s["handle"])
        for s in shown["staff"]
        if s["active"] and s["role"] in ("caseworker", "supervisor")
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
        **shown,
    )


@staff_page
async def staff(request: Request, who: SignedIn) -> Response:
    return await _page(request, who)


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
    await checked_form(request, who)
    done = await call(adapter.reset_staff, harbour(request), who.handle, _whom(request))
    return render(request, "staff_link", who, title="New enrolment link", added=done, reset=True)


@staff_page
async def deactivate(request: Request, who: SignedIn) -> Response:
    form = await checked_form(request, who)
    typed = forms.values(form)
    to = typed.get("reassign_to") or None
    try:
        await call(adapter.deactivate_staff, harbour(request), who.handle, _whom(request), to)
    except InvalidInput as exc:
        return await _page(request, who, None, forms.refusal(exc, FIELDS, ALIASES))
    except Conflict as exc:
        return await _page(request, who, None, forms.conflict(exc))
    return await _page(request, who)
