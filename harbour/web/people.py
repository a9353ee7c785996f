"""A case's people and threat sources after referral: add and edit, as ``harbour case
person|threat add|edit`` do, with the same checks (the services'). An edit form opens on the
entry as ``case show`` has it (an audited read); what was changed is sent as the change, what
was emptied as a clearing. The form carries a fingerprint of the entry it showed: sent after
someone else changed the entry, it is refused and shows the entry as it is now, so a change is
never worked out against values nobody saw (which would undo the other change). An add form
carries an idempotency key, as the referral's does: sent twice, it adds one entry. An edit
that leaves someone on the final version's copies who may no longer be a contact leads back to
its page, which says so once (``notice``: post/redirect/get)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from harbour import templating
from harbour.auth.sessions import SignedIn
from harbour.cases.details import Change, StillListed
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.validation import required
from harbour.web import adapter, forms, notice
from harbour.web.casework import new_key, ref_of
from harbour.web.pages import (
    call,
    checked_form,
    form_page,
    harbour,
    offered,
    same_token,
    staff_page,
)

templating.register("web/entry.html")
PERSON_KINDS = ("family_member", "caretaker", "trusted_contact")
THREAT_KINDS = ("trafficker", "network", "complicit_family_friend")
TEXTS: dict[str, tuple[str, ...]] = {
    "youth": ("name", "preferred_name", "date_of_birth", "phone", "address", "notes"),
    "family_member": ("name", "relationship", "phone", "address"),
    "caretaker": ("name", "relationship", "phone", "address"),
    "trusted_contact": ("name", "relationship", "phone"),
    "threat": ("name", "description", "protective_order_expires_on", "protective_order_details"),
}
FLAGS: dict[str, tuple[str, ...]] = {
    "youth": (),
    "family_member": ("caretaker", "non_offending", "approved_by_youth"),
    "caretaker": ("caretaker", "non_offending", "approved_by_youth"),
    "trusted_contact": ("approved_by_youth",),
    "threat": ("protective_order",),
}
ALL = sorted({f for fields in (*TEXTS.values(), *FLAGS.values()) for f in fields} | {"kind"})
KNOWN = re.compile("|".join(ALL))
ALIASES = {"--" + f.replace("_", "-"): f for f in ALL}


STALE = (
    "someone changed this entry since the form was opened; it is shown as it is now: "
    "make your change again"
)
UNCHANGED = "nothing in it was changed: change a field, or empty one, then save"


def _what(request: Request) -> str:
    what = {"people": "person", "threats": "threat"}.get(request.url.path.split("/")[3])
    if what is None:
        raise NotFound("not_found", "no such page")
    return what


def _number(request: Request) -> int:
    number: int = request.path_params["number"]
    if number > 10_000:
        raise NotFound("not_found", "no such page")
    return number


def _shape(what: str, kind: str) -> str:
    return "threat" if what == "threat" else kind


def _page(
    request: Request,
    who: SignedIn,
    what: str,
    kind: str,
    number: int | None,
    typed: dict[str, str],
    refusal: forms.Refusal | None = None,
    shown: str | None = None,
    key: str | None = None,
    kept_aside: tuple[str, ...] = (),
    told: bool = False,
    saved: Change | None = None,
) -> Response:
    shape = _shape(what, kind)
    kinds = THREAT_KINDS if what == "threat" else PERSON_KINDS
    return form_page(
        request,
        "entry",
        who,
        refusal,
        title="Threat source" if what == "threat" else "Person",
        case=ref_of(request)[:40],
        what=what,
        path=request.url.path,
        number=number,
        kind=kind,
        kinds=[(k, k.replace("_", " ")) for k in kinds]
        if what == "threat" or number is None
        else [],
        texts=TEXTS[shape],
        required=adapter.required_fields(what, kind),
        flags=FLAGS[shape],
        typed=typed,
        shown=shown,
        idempotency_key=key,
        kept_aside=kept_aside,
        told=told,
        saved=saved,
    )


def _typed(entry: dict[str, Any]) -> dict[str, str]:
    """An entry as ``case show`` has it, as the form shows it."""
    shown = {}
    for name, value in entry.items():
        if isinstance(value, bool):
            if value:
                shown[name] = forms.ON
        elif value is not None:
            shown[name] = str(value)
    if entry.get("kind") == "caretaker":
        shown["caretaker"] = forms.ON
    return shown


def _fingerprint(who: SignedIn, what: str, was: dict[str, str]) -> str:
    """The editable values of an entry as its form shows them (``_typed``), as one value: keyed
    by the session's secret, so that it tells nothing of them beyond the page it is on."""
    shape = _shape(what, was["kind"])
    values = {name: was.get(name) for name in ("kind", *TEXTS[shape], *FLAGS[shape])}
    payload = json.dumps(values, sort_keys=True).encode()
    return hmac.new(who.csrf_token.encode(), payload, hashlib.sha256).hexdigest()


def _left_out(shape: str, typed: dict[str, str]) -> list[str]:
    """Fields of another kind of person, filled in, that ``shape`` has not: the form showed them
    before its kind was changed without "Show this kind's fields". Sent on, they would be
    dropped without a word."""
    others = {f for k in PERSON_KINDS for f in (*TEXTS[k], *FLAGS[k])}
    others -= {*TEXTS[shape], *FLAGS[shape]}
    return sorted(f for f in others if forms.text(typed, f) is not None)


def _left_out_words(kind: str, left_out: list[str]) -> str:
    listed = " and ".join(f.replace("_", "-") for f in left_out)
    do = "do" if len(left_out) > 1 else "does"
    whose = "a " + kind.replace("_", " ")
    return (
        f"not added yet: {listed} {do} not apply to {whose}; add again to leave "
        f"{'them' if len(left_out) > 1 else 'it'} out, or choose the kind they were typed for "
        "and “Show this kind's fields” to see them again"
    )


@staff_page
async def new_form(request: Request, who: SignedIn) -> Response:
    what = _what(request)
    offered(who, "case.edit")
    kinds = THREAT_KINDS if what == "threat" else PERSON_KINDS
    kind = request.query_params.get("kind", kinds[0])
    if kind not in kinds:
        kind = kinds[0]
    typed = {"kind": kind} | ({"approved_by_youth": forms.ON} if kind == "trusted_contact" else {})
    return _page(request, who, what, kind, None, typed, key=new_key())


@staff_page
async def add(request: Request, who: SignedIn) -> Response:
    what = _what(request)
    form = await checked_form(request, who)
    typed = forms.values(form)
    kinds = THREAT_KINDS if what == "threat" else PERSON_KINDS
    kind = typed.get("kind", "")
    shape = _shape(what, kind if kind in kinds else kinds[0])
    fields: dict[str, Any] = {
        name: value for name in TEXTS[shape] if (value := forms.text(typed, name)) is not None
    }
    fields |= {name: forms.checked(typed, name) for name in FLAGS[shape] if name != "caretaker"}
    fields["kind"] = kind
    key = typed.get("idempotency_key") or new_key()
    # Typed for another kind than the one chosen: kept in the page (hidden) whatever it shows,
    # left out only once the person was told so and added again (``told``).
    aside = tuple(_left_out(shape, typed)) if what == "person" and kind in kinds else ()
    told = bool(aside) and "left_out_seen" in typed
    kept = partial(_page, request, who, key=key, kept_aside=aside)
    if "refresh" in typed:  # the kind was changed: show its fields
        return kept(what, kind if kind in kinds else kinds[0], None, typed)
    if aside and not told:
        refusal = forms.Refusal({"kind": _left_out_words(kind, list(aside))})
        return kept(what, kind, None, typed, refusal, told=True)
    ref = ref_of(request)
    try:
        await call(adapter.add_entry, harbour(request), who.handle, ref, what, fields, key)
    except InvalidInput as exc:
        refusal = forms.refusal(exc, KNOWN, ALIASES)
        as_shown = shape if what == "person" else kind
        return kept(what, as_shown, None, typed, refusal, told=told)
    except Conflict as exc:
        return kept(what, kind, None, typed, forms.conflict(exc), told=told)
    return RedirectResponse(f"/cases/{ref}", status_code=303)


def _as_the_form_says(exc: InvalidInput, clear: list[str], needed: tuple[str, ...]) -> InvalidInput:
    """An edit's refusals that name the command line's ways, in the form's: a form sent as it
    was ("(options)": give a field or ``--clear``), and a required field emptied, which the
    service refuses as a ``--clear`` of it, beside that field."""
    problems = []
    for name, reason in exc.problems:
        if name == "(options)":
            problems.append(("form", UNCHANGED))
        elif name == "--clear":
            problems += [(f, required()) for f in clear if f in needed] or [(name, reason)]
        else:
            problems.append((name, reason))
    return InvalidInput(problems, exc.code)


@staff_page
async def edit_form(request: Request, who: SignedIn) -> Response:
    what, number = _what(request), _number(request)
    settings = harbour(request).settings
    said = notice.take(request, settings, who)
    if said is not None:  # just saved (``edit``): what it means, once
        listed = StillListed(said["version"], said["draft"])
        saved = Change(ref_of(request), number, said["kind"], (), listed)
        shown = _page(request, who, what, saved.kind, number, {}, saved=saved)
        notice.drop(shown, settings)
        return shown
    entry = await call(
        adapter.entry_of, harbour(request), who.handle, ref_of(request), what, number
    )
    was = _typed(entry)
    return _page(request, who, what, was["kind"], number, was, shown=_fingerprint(who, what, was))


@staff_page
async def edit(request: Request, who: SignedIn) -> Response:
    what, number = _what(request), _number(request)
    form = await checked_form(request, who)
    typed = forms.values(form)
    ref = ref_of(request)
    app = harbour(request)
    entry = await call(adapter.entry_of, app, who.handle, ref, what, number)
    was = _typed(entry)
    kind = was["kind"]
    shape = _shape(what, kind)
    now = _fingerprint(who, what, was)
    if not same_token(typed.get("shown", ""), now):  # changed since it was shown
        stale = forms.Refusal(general=[("not done", STALE)], code="entry_changed")
        return _page(request, who, what, kind, number, was, stale, shown=now)
    fields: dict[str, Any] = {}
    clear = []
    for name in TEXTS[shape]:
        value = forms.text(typed, name)
        if value is None and name in was:
            clear.append(name)
        elif value is not None and value != was.get(name):
            fields[name] = value
    for name in FLAGS[shape]:
        if forms.checked(typed, name) != (name in was):
            fields[name] = forms.checked(typed, name)
    if what == "threat" and typed.get("kind") in THREAT_KINDS and typed["kind"] != kind:
        fields["kind"] = typed["kind"]
    try:
        change = await call(adapter.edit_entry, app, who.handle, ref, what, number, fields, clear)
    except InvalidInput as exc:
        refusal = forms.refusal(
            _as_the_form_says(exc, clear, adapter.required_fields(what, kind)), KNOWN, ALIASES
        )
        return _page(request, who, what, kind, number, typed, refusal, shown=now)
    except Conflict as exc:
        return _page(request, who, what, kind, number, typed, forms.conflict(exc), shown=now)
    if change.still_listed is None:
        return RedirectResponse(f"/cases/{ref}", status_code=303)
    # Saved: what it means for the final plan, and what to do, said on this page once.
    saying = RedirectResponse(request.url.path, status_code=303)
    listed = change.still_listed
    said = {"kind": change.kind, "version": listed.version, "draft": listed.draft}
    notice.keep(saying, app.settings, who, request.url.path, said)
    return saying
