"""A case's lifecycle and oversight pages: discharge, close and reopen (each confirmed with what
will happen), assignment, a supervisor's override of the risk level, and the schedule's dry
run as a timeline. Each calls the command's service through the adapter."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from harbour import templating
from harbour.auth.sessions import SignedIn
from harbour.domain.text import is_digits
from harbour.domain.vocab import RiskLevel
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.web import adapter, forms
from harbour.web.casework import new_key, ref_of
from harbour.web.pages import (
    call,
    checked_form,
    form_page,
    harbour,
    offered,
    render,
    staff_page,
)

templating.register(
    "web/lifecycle.html",
    "web/assign.html",
    "web/override.html",
    "web/schedule.html",
    "web/escalations.html",
)
LIFECYCLE = ("discharge", "close", "reopen")
OVERRIDE_FIELDS = re.compile(r"level|reason")
OVERRIDE_NAMES = {"--level": "level", "--reason": "reason"}


def _action(request: Request) -> str:
    action: str = request.path_params["action"]
    if action not in LIFECYCLE:
        raise NotFound("not_found", "no such page")
    return action


def _lifecycle_page(
    request: Request, who: SignedIn, action: str, refusal: forms.Refusal | None = None
) -> Response:
    refusal = refusal or forms.Refusal()
    return render(
        request,
        "lifecycle",
        who,
        status=409 if refusal else 200,
        title=action.capitalize(),
        case=ref_of(request)[:40],
        action=action,
        follow_ups=adapter.follow_up_days(harbour(request)),
        refusal=refusal,
    )


@staff_page
async def lifecycle_confirm(request: Request, who: SignedIn) -> Response:
    """What discharging, closing or reopening will do, before it is done."""
    action = _action(request)
    offered(who, f"case.{action}")
    return _lifecycle_page(request, who, action)


@staff_page
async def lifecycle(request: Request, who: SignedIn) -> Response:
    action = _action(request)
    await checked_form(request, who)
    ref = ref_of(request)
    try:
        await call(adapter.lifecycle, harbour(request), who.handle, ref, action)
    except Conflict as exc:
        return _lifecycle_page(request, who, action, forms.conflict(exc))
    return RedirectResponse(f"/cases/{ref}", status_code=303)


async def _assign_page(
    request: Request,
    who: SignedIn,
    typed: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
) -> Response:
    people = await call(adapter.assignable, harbour(request), who.handle)
    return form_page(
        request,
        "assign",
        who,
        refusal,
        title="Assign",
        case=ref_of(request)[:40],
        people=people,
        typed=typed or {},
    )


@staff_page
async def assign_form(request: Request, who: SignedIn) -> Response:
    offered(who, "case.assign")
    return await _assign_page(request, who)


@staff_page
async def assign(request: Request, who: SignedIn) -> Response:
    form = await checked_form(request, who)
    typed = forms.values(form)
    ref = ref_of(request)
    to = typed.get("caseworker", "").strip()
    try:
        if not to:
            raise InvalidInput([("caseworker", "choose who takes the case")])
        await call(adapter.assign, harbour(request), who.handle, ref, to)
    except InvalidInput as exc:
        refusal = forms.refusal(
            exc, re.compile(r"caseworker"), {"HANDLE": "caseworker", "handle": "caseworker"}
        )
        return await _assign_page(request, who, typed, refusal)
    except Conflict as exc:
        return await _assign_page(request, who, typed, forms.conflict(exc))
    return RedirectResponse(f"/cases/{ref}", status_code=303)


def _override_page(
    request: Request,
    who: SignedIn,
    typed: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
    key: str | None = None,
) -> Response:
    return form_page(
        request,
        "override",
        who,
        refusal,
        title="Override the risk level",
        case=ref_of(request)[:40],
        levels=[(lv.value, lv.value) for lv in RiskLevel],
        typed=typed or {},
        idempotency_key=key or new_key(),
    )


@staff_page
async def override_form(request: Request, who: SignedIn) -> Response:
    offered(who, "case.override")
    return _override_page(request, who)


@staff_page
async def override(request: Request, who: SignedIn) -> Response:
    form = await checked_form(request, who)
    typed = forms.values(form)
    ref = ref_of(request)
    key = typed.get("idempotency_key") or new_key()  # sent twice, one override
    try:
        protocol_version, alert_id = await call(
            adapter.override,
            harbour(request),
            who.handle,
            ref,
            typed.get("level", ""),
            typed.get("reason", "").strip(),
            key,
        )
    except InvalidInput as exc:
        refusal = forms.refusal(exc, OVERRIDE_FIELDS, OVERRIDE_NAMES)
        return _override_page(request, who, typed, refusal, key)
    except Conflict as exc:
        return _override_page(request, who, typed, forms.conflict(exc), key)
    # At imminent, straight to the protocol's steps (the page names the version holding them)
    # and the alert's status (it says so if the alert reached nobody).
    to = f"/cases/{ref}/emergency" if protocol_version is not None else f"/cases/{ref}"
    if protocol_version is not None and alert_id:
        to += f"?alert={alert_id}"
    return RedirectResponse(to, status_code=303)


@staff_page
async def schedule(request: Request, who: SignedIn) -> Response:
    raw = request.query_params.get("weeks", "8")
    if not is_digits(raw) or len(raw) > 3:
        raise InvalidInput([("weeks", "from 1 to 104")])
    ref = ref_of(request)
    entries = await call(adapter.schedule, harbour(request), who.handle, ref, int(raw))
    return render(
        request, "schedule", who, title="Schedule", case=ref[:40], weeks=int(raw), entries=entries
    )


@staff_page
async def escalations(request: Request, who: SignedIn) -> Response:
    """Overdue work and alerts nobody has taken: the agency's (a caseworker's own cases)."""
    app = harbour(request)
    waiting = await call(adapter.open_alerts, app, who.handle)
    flags = {"due": False, "overdue": False, "escalated": False}
    escalated = await call(
        adapter.caseload, app, who.handle, page=1, **(flags | {"escalated": True})
    )
    overdue = await call(adapter.caseload, app, who.handle, page=1, **(flags | {"overdue": True}))
    return render(
        request,
        "escalations",
        who,
        title="Escalations",
        waiting=waiting["alerts"],
        more=waiting["more"],
        escalated=escalated,
        overdue=overdue,
    )
