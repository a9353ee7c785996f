"""Safety in the field on the console: a staff member's visit (start it, then "I'm back" or
"30 more minutes" from a phone) and a case's missing-youth episode (record it, its steps done,
the return, or a supervisor's withdrawal of one recorded in error). Each calls the same service as
``harbour visit`` and ``harbour missing``, ``missing-step``, ``returned`` and
``missing-withdraw``; a refusal shows the form again with each message beside its
field and writes nothing.

Where a visit went is never on a page unless asked for (a POST, CSRF-checked), and only for
those the service lets see it (the visitor, their buddy, supervisors, on-call staff, an admin
its alert paged): that read is audited as ``harbour visit show`` is. A report number goes in and
is never shown back: the page says only whether one was recorded (``case show`` is the audited
read of it).

The calls to those services, and the conversions of their results into what the templates
show, are in ``adapter`` with the other pages'.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from harbour import templating
from harbour.auth.sessions import SignedIn
from harbour.errors import Conflict, Forbidden, InvalidInput, NotFound
from harbour.web import adapter, forms, notice
from harbour.web.casework import new_key, ref_of
from harbour.web.pages import call, checked_form, form_page, harbour, render, staff_page

templating.register("web/visits.html", "web/visit.html", "web/visit_back.html", "web/missing.html")

VISIT_FIELDS = re.compile(r"case|where|buddy|back_at")
VISIT_NAMES = {"--back-at": "back_at", "--where": "where", "--buddy": "buddy", "reference": "case"}
VISIT_ID = re.compile(r"[0-9a-f]{8,32}")
VISITS = "/visits"
BACK_FIELDS = re.compile(r"reason")
MORE_MINUTES = 30  # the page's one button; the CLI takes any number from 1 to 240
VISITORS = ("coordinator", "caseworker", "supervisor")  # the roles that start visits
# Why a case of the agency may not be named on a visit, beside the field, by the refusal's code.
CASE_REFUSED = {
    "not_assigned": "not assigned to you",
    "not_permitted": "has its caseworker: a coordinator names only a case in intake",
}

MISSING_FIELDS = re.compile(r"since|step|report_number|at|reason")
NOT_MISSING = (
    "not done",
    "the youth is not recorded missing (their return may have been recorded since this page "
    "was shown): nothing changed",
)
MISSING_NAMES = {
    "--since": "since",
    "STEP": "step",
    "--report-number": "report_number",
    "--at": "at",
    "--reason": "reason",
}


# Visits


async def _visits_page(
    request: Request,
    who: SignedIn,
    typed: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
    key: str | None = None,
    button: bool = False,
    started: dict[str, Any] | None = None,
) -> Response:
    """The visits page; ``started``: whom a missed check-in of the visit just started pages
    first (``adapter.start_visit``), said once after it started."""
    app = harbour(request)
    shown = await call(adapter.visits_of, app, who.handle)
    buddies = None
    if shown["mine"] is None and who.role in VISITORS:
        buddies = await call(adapter.buddy_choices, app, who.handle)
    chosen = typed if typed is not None else {"buddy": buddies["default"] or ""} if buddies else {}
    return form_page(
        request,
        "visits",
        who,
        refusal,
        title="Visits",
        buddies=[(h, h) for h in buddies["handles"]] if buddies else [],
        default_buddy=buddies["default"] if buddies else None,
        may_start=buddies is not None,
        typed=chosen,
        more_minutes=MORE_MINUTES,
        started=started,
        idempotency_key=key or new_key(),
        button_refused=button,  # one of the visit out's buttons: "Not done", not "Not started"
        **shown,
    )


@staff_page
async def visits_page(request: Request, who: SignedIn) -> Response:

    async def page(started: dict[str, Any] | None) -> Response:
        return await _visits_page(request, who, started=started)

    return await notice.said_once(request, harbour(request).settings, who, page)


@staff_page
async def start(request: Request, who: SignedIn) -> Response:
    form = await checked_form(request, who)
    typed = forms.values(form)
    app = harbour(request)
    key = typed.get("idempotency_key") or new_key()  # sent twice, the same visit
    try:
        started = await call(
            adapter.start_visit,
            app,
            who.handle,
            back_at=typed.get("back_at", ""),
            location=forms.text(typed, "where"),
            buddy=forms.text(typed, "buddy"),
            case_ref=forms.text(typed, "case"),
            escort=forms.checked(typed, "escort"),
            idempotency_key=key,
        )
    except InvalidInput as exc:
        refusal = forms.refusal(exc, VISIT_FIELDS, VISIT_NAMES)
        return await _visits_page(request, who, typed, refusal, key)
    except NotFound:  # the case: none of the agency's (another agency's answers the same)
        refusal = forms.Refusal({"case": "no such case"})
        return await _visits_page(request, who, typed, refusal, key)
    except Forbidden as exc:
        # A role that starts visits is refused only the case it named: its tie to it (not
        # assigned; a coordinator's case past intake, "not_permitted" as any refusal of a role).
        if who.role not in VISITORS or exc.code not in CASE_REFUSED or not typed.get("case"):
            raise
        refusal = forms.Refusal({"case": CASE_REFUSED[exc.code]})
        return await _visits_page(request, who, typed, refusal, key)
    except Conflict as exc:
        return await _visits_page(request, who, typed, forms.conflict(exc), key)
    answer = RedirectResponse(VISITS, status_code=303)
    notice.keep(answer, app.settings, who, VISITS, started)  # whom it alerts: said there once
    return answer


@staff_page
async def back(request: Request, who: SignedIn) -> Response:
    """ "I'm back": ``harbour visit back``; sent twice (a double click), the form's key answers
    the second as the first."""
    return await _on_visit(request, who, adapter.visit_back)


@staff_page
async def more_time(request: Request, who: SignedIn) -> Response:
    """ "30 more minutes": ``harbour visit extend --minutes 30``; sent twice (a double
    click), the form's key gives the time once."""
    return await _on_visit(request, who, adapter.visit_extend, MORE_MINUTES)


async def _on_visit(request: Request, who: SignedIn, change: Any, *args: Any) -> Response:
    """One of the visit out's buttons, with its form's key and visit: a form sent before whose
    change is over (a later one since, or that visit back) is refused on the page, changing
    nothing."""
    form = forms.values(await checked_form(request, who))
    key, of_visit = form.get("idempotency_key") or None, form.get("visit") or None
    try:
        await call(change, harbour(request), who.handle, *args, key, of_visit)
    except Conflict as exc:
        return await _visits_page(request, who, refusal=forms.conflict(exc), button=True)
    return RedirectResponse("/visits", status_code=303)


@staff_page
async def where(request: Request, who: SignedIn) -> Response:
    """Where a visit went: a deliberate POST, audited as ``harbour visit show``; anyone but the
    visitor, their buddy, supervisors, on-call staff and an admin its alert paged is answered
    "Not found"."""
    await checked_form(request, who)
    shown = await call(adapter.visit_where, harbour(request), who.handle, _visit_id_of(request))
    return render(request, "visit", who, title="Visit", visit=shown)


def _visit_id_of(request: Request) -> str:
    visit_id: str = request.path_params["visit_id"]
    if not VISIT_ID.fullmatch(visit_id):
        raise NotFound("visit_not_found", "no such visit")
    return visit_id


async def _record_back_page(
    request: Request,
    who: SignedIn,
    typed: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
    key: str | None = None,
) -> Response:
    app = harbour(request)
    shown = await call(adapter.visit_to_record_back, app, who.handle, _visit_id_of(request))
    return form_page(
        request,
        "visit_back",
        who,
        refusal,
        title="Record them back",
        visit=shown,
        typed=typed or {},
        idempotency_key=key or new_key(),
    )


@staff_page
async def record_back_form(request: Request, who: SignedIn) -> Response:
    """A supervisor's "record them back" (``harbour visit record-back``), for a colleague who
    reached them some other way: the visit, and the reason to give."""
    return await _record_back_page(request, who)


@staff_page
async def record_back(request: Request, who: SignedIn) -> Response:
    """Record a colleague back: to the visit's alert (taken now) if the supervisor may see it,
    else to the visits. Refused (no reason, the visit back meanwhile): the page again, saying
    why, nothing written; sent twice, the form's key answers the second as the first."""
    form = await checked_form(request, who)
    typed = forms.values(form)
    key = typed.get("idempotency_key") or new_key()
    reason = typed.get("reason", "")
    try:
        done = await call(
            adapter.record_back, harbour(request), who.handle, _visit_id_of(request), reason, key
        )
    except InvalidInput as exc:
        refusal = forms.refusal(exc, BACK_FIELDS, {"--reason": "reason"})
        return await _record_back_page(request, who, typed, refusal, key)
    except Conflict as exc:
        return await _record_back_page(request, who, typed, forms.conflict(exc), key)
    where = f"/alerts/{done['alert']}" if done["alert"] else "/visits"
    return RedirectResponse(where, status_code=303)


# A youth who goes missing


async def _missing_page(
    request: Request,
    who: SignedIn,
    typed: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
    said: str | None = None,
) -> Response:
    ref, app = ref_of(request), harbour(request)
    episode = await call(adapter.episode_of, app, who.handle, ref)
    return form_page(
        request,
        "missing",
        who,
        refusal,
        title="Missing",
        case=ref[:40],
        episode=episode,
        deadlines=adapter.missing_deadlines(app),
        typed=typed or {},
        said=said,
    )


@staff_page
async def missing_page(request: Request, who: SignedIn) -> Response:
    return await _missing_page(request, who)


@staff_page
async def missing_change(request: Request, who: SignedIn) -> Response:
    """Record the episode (``missing``), a step done (``missing-step``), the return
    (``returned``) or withdraw the episode as recorded in error (``missing-withdraw``), as the
    form's ``what`` says."""
    what = request.path_params["what"]
    form = await checked_form(request, who)
    typed = forms.values(form)
    ref, app = ref_of(request), harbour(request)
    try:
        if what == "record":
            await call(adapter.report_missing, app, who.handle, ref, typed.get("since", ""))
        elif what == "step":
            number = forms.text(typed, "report_number")
            step = typed.get("step", "")
            await call(adapter.missing_step, app, who.handle, ref, step, number)
        elif what == "returned":
            await call(adapter.report_return, app, who.handle, ref, typed.get("at", ""))
        elif what == "withdraw":
            reason = forms.text(typed, "reason")
            await call(adapter.withdraw_missing, app, who.handle, ref, reason)
        else:
            raise NotFound("not_found", "no such page")
    except InvalidInput as exc:
        kept = {k: v for k, v in typed.items() if k not in ("report_number", "reason")}
        refusal = forms.refusal(exc, MISSING_FIELDS, MISSING_NAMES)
        return await _missing_page(request, who, kept, refusal)
    except Conflict as exc:
        return await _missing_page(request, who, {}, forms.conflict(exc))
    except NotFound as exc:
        if exc.code != "no_missing_episode":
            raise
        # The return sent twice (a double click), or a step or the return sent from a page
        # shown before a colleague recorded the return: said on the page as it stands now.
        return await _missing_page(request, who, {}, forms.Refusal(general=[NOT_MISSING]))
    if what in ("returned", "withdraw"):
        return RedirectResponse(f"/cases/{ref}", status_code=303)
    return RedirectResponse(f"/cases/{ref}/missing", status_code=303)


ROUTES = [
    Route("/visits", visits_page, methods=["GET"]),
    Route("/visits", start, methods=["POST"]),
    Route("/visits/back", back, methods=["POST"]),
    Route("/visits/extend", more_time, methods=["POST"]),
    Route("/visits/{visit_id}/where", where, methods=["POST"]),
    Route("/visits/{visit_id}/back", record_back_form, methods=["GET"]),
    Route("/visits/{visit_id}/back", record_back, methods=["POST"]),
    Route("/cases/{ref}/missing", missing_page, methods=["GET"]),
    Route("/cases/{ref}/missing/{what}", missing_change, methods=["POST"]),
]
