"""Covering a colleague's case from the console (``harbour case cover REF --reason - --hours N``):
the page a caseworker refused "not assigned to you" is offered, with the reason and how long.
The same service as the CLI: break-glass, time-limited by the policy, the reason sealed, the
supervisors told through the outbox, audited on the case."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from harbour import templating
from harbour.auth.sessions import SignedIn
from harbour.errors import Conflict, InvalidInput
from harbour.web import adapter, forms
from harbour.web.casework import ref_of
from harbour.web.pages import call, checked_form, form_page, harbour, staff_page

templating.register("web/cover.html")
COVER_FIELDS = re.compile(r"reason|hours")
COVER_NAMES = {"--reason": "reason", "--hours": "hours"}


def _cover_page(
    request: Request,
    who: SignedIn,
    typed: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
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
    )


@staff_page
async def cover_form(request: Request, who: SignedIn) -> Response:
    return _cover_page(request, who)


@staff_page
async def cover(request: Request, who: SignedIn) -> Response:
    form = await checked_form(request, who)
    typed = forms.values(form)
    ref = ref_of(request)
    raw = typed.get("hours", "").strip()
    try:
        if raw and not (raw.isdigit() and len(raw) <= 4):
            raise InvalidInput([("hours", "a whole number of hours")])
        hours = int(raw) if raw else None
        await call(
            adapter.start_cover, harbour(request), who.handle, ref, typed.get("reason", ""), hours
        )
    except InvalidInput as exc:
        return _cover_page(request, who, typed, forms.refusal(exc, COVER_FIELDS, COVER_NAMES))
    except Conflict as exc:
        return _cover_page(request, who, typed, forms.conflict(exc))
    return RedirectResponse(f"/cases/{ref}", status_code=303)
