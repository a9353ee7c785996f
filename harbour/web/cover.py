"""Covering a colleague's case from the console (``harbour case cover REF --reason - --hours N``):
the page a caseworker refused "not assigned to you" is offered, with the reason and how long.
The same service as the CLI: break-glass, time-limited by the policy, the reason sealed, the
supervisors told through the outbox, audited on the case. Ending it sooner (``--end``) is a
button on the case page, beside the cover shown there: the one covering ends theirs, a
supervisor every cover of the case."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from harbour import templating
from harbour.auth.sessions import SignedIn
from harbour.domain.text import is_digits
from harbour.domain.vocab import Role
from harbour.errors import Conflict, Forbidden, InvalidInput
from harbour.web import adapter, forms
from harbour.web.casework import new_key, ref_of
from harbour.web.pages import (
    ASSESSMENT_POINTS,
    call,
    checked_form,
    error,
    form_page,
    harbour,
    offered,
    render,
    staff_page,
)

templating.register("web/cover.html")
COVER_FIELDS = re.compile(r"reason|hours")
COVER_NAMES = {"--reason": "reason", "--hours": "hours"}
NO_REASON = "say why you cover the case"  # the service asks for it as a file or stdin (@FILE, -)


def _cover_page(
    request: Request,
    who: SignedIn,
    typed: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
    key: str | None = None,
) -> Response:
    default, most = adapter.cover_hours(harbour(request))
    return form_page(
        request,
        "cover",
        who,
        refusal,
        title="Cover a colleague's case",
        case=ref_of(request)[:40],
        default_hours=default,
        max_hours=most,
        typed=typed or {"hours": str(default)},
        idempotency_key=key or new_key(),
    )


@staff_page
async def cover_form(request: Request, who: SignedIn) -> Response:
    offered(who, "case.cover")
    return _cover_page(request, who)


@staff_page
async def cover(request: Request, who: SignedIn) -> Response:
    form = await checked_form(request, who)
    typed = forms.values(form)
    ref = ref_of(request)
    raw, reason = typed.get("hours", "").strip(), typed.get("reason", "")
    key = typed.get("idempotency_key") or new_key()  # sent twice, the same cover
    try:
        problems = [("reason", NO_REASON)] if not reason.strip() else []
        if raw and not (is_digits(raw) and len(raw) <= 4):
            problems.append(("hours", "a whole number of hours"))
        if problems:
            raise InvalidInput(problems)
        hours = int(raw) if raw else None
        await call(adapter.start_cover, harbour(request), who.handle, ref, reason, hours, key)
    except InvalidInput as exc:
        refusal = forms.refusal(exc, COVER_FIELDS, COVER_NAMES)
        return _cover_page(request, who, typed, refusal, key)
    except Conflict as exc:
        return _cover_page(request, who, typed, forms.conflict(exc), key)
    return RedirectResponse(f"/cases/{ref}", status_code=303)


@staff_page
async def end_cover(request: Request, who: SignedIn) -> Response:
    """``harbour case cover REF --end``. A caseworker whose cover ended no longer has the case:
    back to their caseload; a supervisor back to the case. Refused (no cover running that they
    may end, e.g. it ran out meanwhile): the case page again, the reason beside the button (a
    caseworker whose cover it was no longer has the page: the reason alone)."""
    await checked_form(request, who)
    app, ref = harbour(request), ref_of(request)
    try:
        await call(adapter.end_cover, app, who.handle, ref)
    except Conflict as exc:
        refused = f"Not done: {exc.detail or exc.code}."
        try:
            shown = await call(adapter.case_page, app, who.handle, ref)
        except Forbidden:  # a caseworker whose cover ran out meanwhile: the case is not theirs
            return error(request, who, 409, refused)
        return render(
            request,
            "case",
            who,
            status=409,
            title="Case",
            points=ASSESSMENT_POINTS,
            end_refused=refused,
            **shown,
        )
    back = f"/cases/{ref}" if who.role == Role.SUPERVISOR else "/"
    return RedirectResponse(back, status_code=303)
