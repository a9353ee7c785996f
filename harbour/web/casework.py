"""The casework pages: referral, assessment, the plan workbench. Each form posts what the CLI
takes from a file or options, through the adapter to the same services; a refusal re-renders the
form with each message beside its field and the typed values kept (in the page only, never in a
URL or a log line), and writes nothing."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from harbour import templating
from harbour.auth.sessions import SignedIn
from harbour.domain.refs import normalise_typed, short_form
from harbour.domain.text import is_digits
from harbour.domain.vocab import AssessmentPoint, PersonAtRisk, Situation, ThreatKind
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.web import adapter, forms
from harbour.web.pages import (
    ALERT_ID,
    call,
    checked_form,
    form_page,
    harbour,
    page_values,
    render,
    staff_page,
)

templating.register("web/_fields.html", "web/refer.html")


def _choices(values: Any) -> list[tuple[str, str]]:
    return [(v.value, v.value.replace("_", " ")) for v in values]


def new_key() -> str:
    """A form's idempotency key: the same submission twice (a double click, back and submit
    again) is one case."""
    return secrets.token_hex(16)


# Referral

YOUTH = ("name", "preferred_name", "date_of_birth", "phone", "address", "notes")
FAMILY = ("name", "relationship", "phone", "address")
FAMILY_FLAGS = ("caretaker", "non_offending", "approved_by_youth")
CONTACT = ("name", "relationship", "phone")
CONTACT_FLAGS = ("approved_by_youth",)
THREAT = ("kind", "name", "description", "protective_order_expires_on", "protective_order_details")
THREAT_FLAGS = ("protective_order",)
GROUPS = {  # the referral's repeated groups: (text fields, flags)
    "family": (FAMILY, FAMILY_FLAGS),
    "trusted_contacts": (CONTACT, CONTACT_FLAGS),
    "threats": (THREAT, THREAT_FLAGS),
}
REFERRAL_FIELDS = re.compile(
    r"youth\.\w+|situation|referral_source|caseworker|persons_at_risk"
    r"|(family|trusted_contacts|threats)\.\d+\.\w+"
)
EMPTY_ROWS = 1  # empty rows each group offers; "More rows" adds one to each


def referral_document(typed: dict[str, str], at_risk: list[str]) -> dict[str, Any]:
    """The form as the referral file ``harbour refer --file`` reads."""
    youth = {name: v for name in YOUTH if (v := forms.text(typed, f"youth.{name}")) is not None}
    data: dict[str, Any] = {"youth": youth}
    for name in ("situation", "referral_source", "caseworker"):
        if (value := forms.text(typed, name)) is not None:
            data[name] = value
    if at_risk:
        data["persons_at_risk"] = at_risk
    for group, (texts, flags) in GROUPS.items():
        data[group] = forms.rows(typed, group, texts, flags)
    return data


def _refer_page(
    request: Request,
    who: SignedIn,
    typed: dict[str, str],
    at_risk: list[str],
    key: str,
    *,
    extra: int = 0,
    refusal: forms.Refusal | None = None,
) -> Response:
    shown = {k: v for k, v in typed.items() if k.split(".")[0] not in GROUPS}
    rows = {}
    for group, (texts, flags) in GROUPS.items():
        shown.update(forms.renumbered(typed, group, texts, flags))
        filled = len(forms.rows(typed, group, texts))
        rows[group] = list(range(filled + EMPTY_ROWS + extra))
        if group == "trusted_contacts":  # a new contact row starts as approved by the youth
            for n in range(filled, len(rows[group])):
                shown[f"{group}.{n}.approved_by_youth"] = forms.ON
    return form_page(
        request,
        "refer",
        who,
        refusal,
        title="Refer a youth",
        typed=shown,
        at_risk=at_risk,
        idempotency_key=key,
        situations=_choices(Situation),
        persons=_choices(PersonAtRisk),
        threat_kinds=_choices(ThreatKind),
        family_rows=rows["family"],
        contact_rows=rows["trusted_contacts"],
        threat_rows=rows["threats"],
    )


@staff_page
async def refer_form(request: Request, who: SignedIn) -> Response:
    return _refer_page(request, who, {}, [PersonAtRisk.YOUTH.value], new_key())


@staff_page
async def refer(request: Request, who: SignedIn) -> Response:
    form = await checked_form(request, who)
    typed = forms.values(form)
    at_risk = forms.listed(form, "persons_at_risk")
    key = typed.get("idempotency_key") or new_key()
    if "more" in typed:
        return _refer_page(request, who, typed, at_risk, key, extra=1)
    data = referral_document(typed, at_risk)
    try:
        allow = typed.get("allow_duplicate") == forms.ON  # ticked once told of a likely duplicate
        short = await call(adapter.refer, harbour(request), who.handle, data, key, allow)
    except InvalidInput as exc:
        refusal = forms.refusal(exc, REFERRAL_FIELDS)
        return _refer_page(request, who, typed, at_risk, key, refusal=refusal)
    except Conflict as exc:
        return _refer_page(request, who, typed, at_risk, key, refusal=forms.conflict(exc))
    return RedirectResponse(f"/cases/{short}", status_code=303)


# Assessment

templating.register(
    "web/assess.html",
    "web/assessed.html",
    "web/emergency.html",
    "web/_alert_status.html",
    "web/_emergency.html",
    "web/_nobody_paged.html",
)
ANSWER_FIELDS = re.compile(r"answers\.[A-Za-z0-9_]+")
POINTS = frozenset(p.value for p in AssessmentPoint)
# The service's refusal of a point names ``--point`` and the codes: the page names where to choose.
POINT_REFUSED = "not one the console offers (choose one under “Assess at”, on the case page)"
_ITEM_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,80}")


def ref_of(request: Request) -> str:
    ref: str = request.path_params["ref"]
    return ref


def _assess_page(
    request: Request,
    who: SignedIn,
    point: str | None,
    *,
    typed: dict[str, str] | None = None,
    key: str | None = None,
    refusal: forms.Refusal | None = None,
    draft: dict[str, Any] | None = None,
) -> Response:
    app = harbour(request)
    groups = adapter.instrument_form(app) if point else []
    labels = {q["name"]: q["text"] for g in groups for q in g["questions"]}
    return form_page(
        request,
        "assess",
        who,
        refusal,
        title="Assessment",
        case=ref_of(request)[:40],
        point=point or "",
        point_shown=(point or "").replace("_", " ").capitalize(),
        points=_choices(AssessmentPoint),
        groups=groups,
        labels=labels,
        typed=typed or (draft or {}).get("typed", {}),
        idempotency_key=key or new_key(),
        draft=draft,
    )


@staff_page
async def assess_form(request: Request, who: SignedIn) -> Response:
    """The choice of a point. The point says what the youth's situation is (just left, an
    incident), so it is posted (``_open``), never read from a URL: one with ``?point=`` (a
    bookmark or history entry of an older console) leads to the case page, so using it again
    gets the person nowhere new (and keeps no such entry coming back to a proxy's log)."""
    if "point" in request.query_params:
        ref = normalise_typed(ref_of(request))
        if ref is None:  # nothing but a reference goes into the Location
            raise NotFound("case_not_found", "no such case")
        return RedirectResponse(f"/cases/{short_form(ref)}", status_code=303)
    return _assess_page(request, who, None)


async def _open(request: Request, who: SignedIn, point: str) -> Response:
    """The questions at the point chosen on the case page (or a draft's "continue it"): may
    they assess it here? And their own draft of it, if they saved one."""
    app, ref = harbour(request), ref_of(request)
    draft = await call(adapter.assessment_draft, app, who.handle, ref, point)
    return _assess_page(request, who, point, draft=draft)


@staff_page
async def assess(request: Request, who: SignedIn) -> Response:
    app = harbour(request)
    form = await checked_form(request, who)
    typed = forms.values(form)
    point = typed.get("point", "")
    if point not in POINTS:  # a form of an older console, or one made by hand
        raise InvalidInput([("assessment point", POINT_REFUSED)])
    if "open" in typed:
        return await _open(request, who, point)
    key = typed.get("idempotency_key") or new_key()
    answers = {
        name.removeprefix("answers."): value
        for name, value in typed.items()
        if name.startswith("answers.") and value.strip()
    }
    ref = ref_of(request)
    if "save_draft" in typed:
        return await _save_draft(request, who, point, typed, answers, key)
    try:
        result = await call(adapter.assess, app, who.handle, ref, point, answers, key)
    except InvalidInput as exc:
        refusal = forms.refusal(exc, ANSWER_FIELDS)
        return _assess_page(request, who, point, typed=typed, key=key, refusal=refusal)
    except Conflict as exc:
        refusal = forms.conflict(exc)
        return _assess_page(request, who, point, typed=typed, key=key, refusal=refusal)
    alert = None
    steps: list[dict[str, Any]] = []
    if result["level"] == "imminent":
        if result["alert_id"]:
            alert = await call(adapter.one_alert, app, who.handle, result["alert_id"])
        steps = await call(adapter.emergency_steps, app, who.handle, ref)
    return render(
        request,
        "assessed",
        who,
        title="Assessment recorded",
        case=result["case"],
        result=result,
        alert=alert,
        polls=alert is not None,
        steps=steps,
        back=_emergency_path(result["case"], result["alert_id"]),
    )


async def _save_draft(
    request: Request,
    who: SignedIn,
    point: str,
    typed: dict[str, str],
    answers: dict[str, str],
    key: str,
) -> Response:
    """Save the answers given so far, then show the form again with them (from the draft), as
    this request's answer: a redirect would need the point in its URL."""
    app, ref = harbour(request), ref_of(request)
    try:
        draft = await call(adapter.save_draft, app, who.handle, ref, point, answers)
    except InvalidInput as exc:
        refusal = forms.refusal(exc, ANSWER_FIELDS)
        return _assess_page(request, who, point, typed=typed, key=key, refusal=refusal)
    return _assess_page(request, who, point, key=key, draft=draft)


def _emergency_path(case: str, alert_id: str | None) -> str:
    return f"/cases/{case}/emergency" + (f"?alert={alert_id}" if alert_id else "")


@staff_page
async def emergency(request: Request, who: SignedIn) -> Response:
    app = harbour(request)
    ref = ref_of(request)
    alert_id = request.query_params.get("alert")
    alert, paged = None, None
    if alert_id:
        if not ALERT_ID.fullmatch(alert_id):
            raise NotFound("alert_not_found", "no such alert")
        alert = await call(adapter.one_alert, app, who.handle, alert_id)
        paged = await call(adapter.paged, app, who.handle, alert_id)
    steps = await call(adapter.emergency_steps, app, who.handle, ref)
    case = ref[:40]
    return render(
        request,
        "emergency",
        who,
        title="Emergency",
        case=case,
        alert=alert,
        paged=paged,
        polls=alert is not None,
        steps=steps,
        back=_emergency_path(case, alert["id"] if alert else None),
    )


# How long a page polls its alert's status (static/poll.js: at most 90 tries, 10 s apart), with
# room for slow answers: the page view audited the read, its polls within this are not again.
POLLED_FOR = timedelta(minutes=20)


@staff_page
async def alert_status(request: Request, who: SignedIn) -> Response:
    """The alert's status region alone, for the page's poll."""
    alert_id = request.path_params["alert_id"]
    if not ALERT_ID.fullmatch(alert_id):
        raise NotFound("alert_not_found", "no such alert")
    alert = await call(adapter.one_alert, harbour(request), who.handle, alert_id, POLLED_FOR)
    return fragment(request, "_alert_status", alert=alert)


def fragment(request: Request, template: str, **context: Any) -> Response:
    html = templating.render(
        harbour(request).settings.templates_dir, f"web/{template}.html", context
    )
    return HTMLResponse(html)


@staff_page
async def mark_step(request: Request, who: SignedIn) -> Response:
    """``harbour plan done|undo``: then back to the page the button was on (this case's own).
    The item is named by its number (the workbench's forms: its key says what the youth
    disclosed and plans) or, as the emergency page names its steps, by its key."""
    form = await checked_form(request, who)
    ref, item = ref_of(request), request.path_params["item"]
    if not _ITEM_KEY.fullmatch(item):
        raise NotFound("item_not_found", "no such item")
    what = request.path_params["what"]
    if what not in ("done", "undo"):
        raise NotFound("not_found", "no such page")
    done = what == "done"
    raw = form.get("version")  # the version the step was shown on (an older one's emergency)
    version = _version_param(raw if isinstance(raw, str) else None)
    back = form.get("back")
    workbench = f"/cases/{ref}/plan"
    from_workbench = isinstance(back, str) and back.startswith(workbench)
    try:
        key = await call(adapter.mark_step, harbour(request), who.handle, ref, item, done, version)
    except InvalidInput as exc:
        if not from_workbench:
            raise
        return await _step_refused(request, who, ref, item, version, exc)
    if from_workbench and swapping(request):
        return await _swapped(request, who, ref, key, said=what, version=version)
    own = f"/cases/{ref}/"
    ours = isinstance(back, str) and back.startswith(own) and _SAFE_BACK.fullmatch(back)
    target = back if ours and isinstance(back, str) else f"/cases/{ref}"
    return RedirectResponse(target, status_code=303)


NOT_ON_VERSION = "no longer on this version of the plan"
_NO_FIELD = re.compile(r"(?!)")  # a refusal shown at the top of the page, beside no field


async def _step_refused(
    request: Request,
    who: SignedIn,
    ref: str,
    item: str,
    version: int | None,
    exc: InvalidInput,
) -> Response:
    """A step's done or undo from the workbench refused (the page is older than the plan: the
    step rejected or withdrawn since, a newer version drafted): said on the workbench as its
    other refusals are, the step by its wording, with the script in the item's fragment (its
    state now), without it on the page again; never a bare error page, which swap.js would
    answer by posting the form again."""
    shown = await call(adapter.workbench, harbour(request), who.handle, ref, version)
    found = next(
        (i for s in shown["sections"] for i in s["items"] if item in (str(i["number"]), i["key"])),
        None,
    )
    if found is None:  # rejected, withdrawn or left out since: ``plan done`` finds no such item
        said = NOT_ON_VERSION
    else:  # the reasons in the page's words (``forms.refusal``)
        reasons = "; ".join(reason for _, reason in forms.refusal(exc, _NO_FIELD).general)
        said = f"“{found['text']}”: {reasons}"
    refusal = forms.Refusal(general=[("not done", said)])
    if swapping(request) and found is not None:
        return await _swapped(request, who, ref, found["key"], refusal=refusal, version=version)
    return await _workbench_page(request, who, version, refusal=refusal)


_SAFE_BACK = re.compile(
    r"/cases/[A-Za-z0-9-]{4,40}/(emergency(\?alert=[0-9a-f]{8,32})?|plan(\?version=[0-9]{1,6})?)"
)


# The plan workbench

templating.register(
    "web/workbench.html",
    "web/plan_diff.html",
    "web/_workbench_strings.html",
    "web/_plan_item.html",
    "web/_plan_finalize.html",
    "web/_workbench_swap.html",
    "web/_workbench_body.html",
    "web/_workbench_part.html",
    "web/_plan_sections.html",
    "web/_plan_add.html",
    "web/_plan_youth_copy.html",
)
PLAN_CHANGES = ("accept", "reject", "add", "edit", "youth-copy", "finalize")
SWAPPED = ("accept", "reject", "edit")  # answered with the item's fragment when swap.js sends
# ... and these with the part of the workbench they change (see _in_place)
IN_PLACE = ("add", "youth-copy", "finalize")
WORKBENCH_FIELDS = re.compile(
    r"section|text|owner|due|title|neutral_title|hide_hotlines|choice|leave_out"
)
SERVICE_NAMES = {
    "--section": "section",
    "--text": "text",
    "--owner": "owner",
    "--due": "due",
    "--leave-out": "leave_out",
}
ADDABLE = ("risks", "strategies", "steps")
OWNERS = ("youth", "family", "caseworker", "agency")
DOCUMENTS = {
    "html": ("text/html", "html"),
    "text": ("text/plain", "txt"),
    "md": ("text/markdown", "md"),
}
# The name a copy handed over downloads under: as it is titled (``harbour.documents.strings``),
# never the case reference (which no such copy shows) nor whom it is for: it lands on the youth's
# phone, or in a family home.
HANDED_OVER = {"youth": "my-plan", "family": "our-plan"}
# A plan document opened to print: self-contained (its own inline style), never a script.
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def _version_param(raw: str | None, field: str = "version") -> int | None:
    if raw is None or raw == "":
        return None
    if not is_digits(raw) or len(raw) > 6:
        raise InvalidInput([(field, "must be a plan version number (1 or more)")])
    return int(raw)


async def _workbench_page(
    request: Request,
    who: SignedIn,
    version: int | None,
    *,
    typed: dict[str, str] | None = None,
    refusal: forms.Refusal | None = None,
    item: str = "",
    item_typed: dict[str, str] | None = None,
    ticked: list[str] | None = None,
) -> Response:
    """The workbench page; ``typed`` and ``refusal``: of the form adding an item, or with
    ``item``, of that item's own form (accept, reject, edit), which opens with its reasons beside
    its fields and ``item_typed`` kept, as the script's fragment has it (``_swapped``), the form
    adding an item left empty; the summary at the top says them all. ``ticked``: the finalize
    form's boxes ticked when it was refused."""
    app = harbour(request)
    shown = await call(adapter.workbench, app, who.handle, ref_of(request), version)
    item_errors: dict[str, str] = {}
    if item and refusal:
        item_errors = refusal.by_field
        general = [*refusal.general, *refusal.by_field.items()]
        refusal = forms.Refusal(general=general, code=refusal.code)
    return form_page(
        request,
        "workbench",
        who,
        refusal,
        title="Plan workbench",
        typed=typed or {"section": "steps"},
        add_key=(typed or {}).get("idempotency_key") or new_key(),
        addable=[(s, s) for s in ADDABLE],
        owners=[(o, o) for o in OWNERS],
        version_options=[(str(v["number"]), str(v["number"])) for v in shown["versions"]],
        refused_item=item if item_errors else "",
        item_typed=item_typed or {},
        item_errors=item_errors,
        ticked=ticked or [],
        **shown,
    )


@staff_page
async def workbench(request: Request, who: SignedIn) -> Response:
    return await _workbench_page(request, who, _version_param(request.query_params.get("version")))


@staff_page
async def plan_change(request: Request, who: SignedIn) -> Response:
    """One of ``harbour plan accept|reject|add|edit|youth-copy|finalize``, from the workbench;
    the form carries the version it showed, so a change to a plan that moved on is refused."""
    what = request.path_params["what"]
    if what not in PLAN_CHANGES:
        raise NotFound("not_found", "no such page")
    form = await checked_form(request, who)
    typed = forms.values(form)
    ref = ref_of(request)
    shown_version = _version_param(typed.get("version"))
    values: dict[str, Any] = {"expect_version": shown_version}
    if what in ("accept", "reject"):
        values["item"] = typed.get("item", "")
    elif what == "add":
        values.update(
            section=forms.text(typed, "section"),
            text=forms.text(typed, "text"),
            owner=forms.text(typed, "owner"),
            due=forms.text(typed, "due"),
            idempotency_key=typed.get("idempotency_key") or None,
        )
    elif what == "edit":
        values.update(item=typed.get("item", ""), **_step_change(typed))
    elif what == "youth-copy":
        values.update(_copy_change(typed))
    else:
        choice = typed.get("choice", "accept_rest")
        if choice == "keep":
            if swapping(request):
                return await _in_place(request, who, ref, "keep", said="keep")
            return RedirectResponse(f"/cases/{ref}/plan", status_code=303)
        left_out = tuple(forms.listed(form, "leave_out"))
        values.update(
            accept_rest=choice == "accept_rest",
            leave_out=left_out,
            leave_out_rest=choice == "leave_out_rest",
        )
    swap = what in SWAPPED and swapping(request)
    in_place = what in IN_PLACE and swapping(request)
    try:
        done = await call(adapter.plan_change, harbour(request), who.handle, ref, what, **values)
    except InvalidInput as exc:
        refusal = forms.refusal(exc, WORKBENCH_FIELDS, SERVICE_NAMES)
        edited = _edited(typed) if what == "edit" else None
        if swap:  # the item's edit form opens: a step accepted past its date needs a new one
            item = values["item"]
            return await _swapped(request, who, ref, item, refusal=refusal, typed=edited)
        ticked = forms.listed(form, "leave_out")  # the finalize form's boxes, ticked again
        if in_place:
            return await _in_place(
                request, who, ref, what, refusal=refusal, typed=typed, ticked=ticked
            )
        if what in SWAPPED:  # without the script: the item's own form, as the fragment has it
            return await _workbench_page(
                request, who, None, refusal=refusal, item=values["item"], item_typed=edited
            )
        return await _workbench_page(
            request, who, None, typed=typed, refusal=refusal, ticked=ticked
        )
    except Conflict as exc:
        if swap:
            refusal = forms.conflict(exc)
            return await _swapped(request, who, ref, values["item"], refusal=refusal)
        if in_place:  # the plan moved on (or is final): shown as it is now, what was typed kept
            refusal = forms.conflict(exc)
            return await _in_place(request, who, ref, "workbench", refusal=refusal, typed=typed)
        added = typed if what not in SWAPPED else None  # an item's values are not the add form's
        return await _workbench_page(request, who, None, typed=added, refusal=forms.conflict(exc))
    if swap:
        return await _swapped(request, who, ref, values["item"], said=what)
    if in_place:
        part = "workbench" if what == "finalize" else what
        return await _in_place(request, who, ref, part, said=what, added=done["key"])
    # Back to the item by its number (the form's): its key says what the youth disclosed and
    # plans (``plans.opaque``), and a URL's fragment stays in the browser's history.
    number = typed.get("number", "")
    anchor = f"#n-{number}" if "item" in values and is_digits(number) and len(number) < 7 else ""
    return RedirectResponse(f"/cases/{ref}/plan{anchor}", status_code=303)


def _step_change(typed: dict[str, str]) -> dict[str, Any]:
    """A step's edit form as the change it makes (``plan edit``'s): only what was changed from
    what the form showed (``shown_owner``, ``shown_due``), sent with what it showed, so a change
    made meanwhile (in another tab, by a colleague) to the other field stays, and one to the
    same field is refused rather than undone unseen. A form without them sends both."""
    owner, due = forms.text(typed, "owner"), forms.text(typed, "due")
    if "shown_owner" not in typed or "shown_due" not in typed:
        return {"owner": owner, "due": due}
    return {
        "owner": owner if _changed(typed, "owner") else None,
        "due": due,
        "keep_due": not _changed(typed, "due"),
        "shown": (typed["shown_owner"], typed["shown_due"]),
    }


def _changed(typed: dict[str, str], name: str) -> bool:
    """Whether a step's form changed ``name`` from what it showed (without that, as if so)."""
    shown = typed.get(f"shown_{name}")
    return shown is None or forms.text(typed, name) != (shown or None)


def _edited(typed: dict[str, str]) -> dict[str, str]:
    """What a step's refused edit form keeps: the fields it changed (the others show the step
    as it is now, not as the page showed it)."""
    return {name: typed.get(name, "") for name in ("owner", "due") if _changed(typed, name)}


def _copy_change(typed: dict[str, str]) -> dict[str, Any]:
    """The youth-copy form as the change it makes (``plan youth-copy``'s). Their own title is
    never shown back, so an empty field keeps it (``--title`` left out): a title typed replaces
    it, and ``neutral_title`` takes it off. The hotlines' setting is sent only when changed
    from what the form showed (``shown_hide_hotlines``), so another tab's change stays."""
    hide = forms.checked(typed, "hide_hotlines")
    shown = typed.get("shown_hide_hotlines")
    return {
        "title": forms.text(typed, "title"),
        "neutral_title": forms.checked(typed, "neutral_title"),
        "hide_hotlines": None if shown is not None and hide == (shown == forms.ON) else hide,
    }


def swapping(request: Request) -> bool:
    """Whether the form was sent by static/swap.js (the header htmx sends, so either script can
    drive these pages): answer with the fragment that changed, not a redirect. Without the
    script the same form posts and is redirected back to the page, as it always was."""
    return request.headers.get("hx-request") == "true"


async def _swapped(
    request: Request,
    who: SignedIn,
    ref: str,
    changed: str,
    *,
    said: str = "",
    refusal: forms.Refusal | None = None,
    typed: dict[str, str] | None = None,
    version: int | None = None,
) -> Response:
    """The workbench's fragment after a change to one item (or its refusal): the item as it is
    now, the finalize form (its undecided list), and what was done or why not; ``version``: of
    the version the page shows (default the latest). A page of a plan that moved on gets the
    message and a link to the plan as it is, nothing else."""
    app = harbour(request)
    stale = refusal is not None and refusal.code == "plan_changed"
    context: dict[str, Any] = {
        "case": ref[:40],
        "changed": changed,
        "said": said,
        "refusal": refusal,
        "stale": stale,
    }
    if not stale:
        shown = await call(adapter.workbench, app, who.handle, ref, version)
        context.update(
            shown,
            owners=[(o, o) for o in OWNERS],
            refused_item=changed if refusal else "",
            item_typed=typed or {},
            item_errors=refusal.by_field if refusal else {},
        )
    values = page_values(who, "workbench", context)
    html = templating.render(app.settings.templates_dir, "web/_workbench_swap.html", values)
    status = 200 if refusal is None else 409 if isinstance(refusal.code, str) else 400
    return HTMLResponse(html, status_code=status)


async def _in_place(
    request: Request,
    who: SignedIn,
    ref: str,
    part: str,
    *,
    said: str = "",
    added: str = "",
    refusal: forms.Refusal | None = None,
    typed: dict[str, str] | None = None,
    ticked: list[str] | None = None,
) -> Response:
    """The workbench's fragment after adding an item, the youth-copy settings or finalizing (or
    their refusal, ``ticked``: the finalize form's boxes then): the part of the page that
    changed, rendered from the plan as it is now with the same templates as the page (``part``:
    see web/_workbench_part.html), and what was done or why not for the page's live region.
    Focus goes to the item added, to the message after a finalize (the form is gone) or a
    refusal, else back to the form's own section."""
    app = harbour(request)
    stale = refusal is not None and refusal.code == "plan_changed"
    context: dict[str, Any] = {
        "case": ref[:40],
        "part": part,
        "said": said,
        "refusal": refusal,
        "stale": stale,
        "focus_item": added,
        "added_text": "",
        "errors": refusal.by_field if refusal else {},
        # Added: the form is empty again, with a new key; refused: what was typed stays in it.
        "typed": typed if refusal and typed else {"section": "steps"},
        "add_key": (typed.get("idempotency_key") if refusal and typed else None) or new_key(),
        "ticked": ticked if refusal and ticked else [],
    }
    if not stale:
        shown = await call(adapter.workbench, app, who.handle, ref, None)
        context.update(
            shown,
            addable=[(s, s) for s in ADDABLE],
            owners=[(o, o) for o in OWNERS],
            version_options=[(str(v["number"]), str(v["number"])) for v in shown["versions"]],
        )
        texts = (i["text"] for s in shown["sections"] for i in s["items"] if i["key"] == added)
        context["added_text"] = next(texts, "")
    values = page_values(who, "workbench", context)
    html = templating.render(app.settings.templates_dir, "web/_workbench_part.html", values)
    status = 200 if refusal is None else 409 if isinstance(refusal.code, str) else 400
    return HTMLResponse(html, status_code=status)


@staff_page
async def plan_diff(request: Request, who: SignedIn) -> Response:
    query = request.query_params
    v1 = _version_param(query.get("v1"), "v1") or 1
    v2 = _version_param(query.get("v2"), "v2") or 1
    ref = ref_of(request)
    shown = await call(adapter.plan_diff, harbour(request), who.handle, ref, v1, v2)
    return render(
        request, "plan_diff", who, title="Plan versions compared", case=ref[:40], diff=shown
    )


@staff_page
async def plan_print(request: Request, who: SignedIn) -> Response:
    """A plan document as ``harbour plan render --format html`` writes it, opened to print:
    the staff or family copy, or the youth's wallet card."""
    return await _document(request, who, "html", attachment=False)


@staff_page
async def plan_download(request: Request, who: SignedIn) -> Response:
    fmt = request.path_params["fmt"]
    if fmt not in DOCUMENTS:
        raise NotFound("not_found", "no such page")
    return await _document(request, who, fmt, attachment=True)


async def _document(request: Request, who: SignedIn, fmt: str, *, attachment: bool) -> Response:
    audience = request.path_params["audience"]
    if audience not in ("staff", "youth", "family"):
        raise NotFound("not_found", "no such page")
    ref = ref_of(request)
    version = _version_param(request.query_params.get("version"))
    number, document = await call(
        adapter.plan_document, harbour(request), who.handle, ref, audience, fmt, version
    )
    media, ext = DOCUMENTS[fmt]
    headers = {"content-security-policy": DOCUMENT_CSP} if fmt == "html" else {}
    if attachment:
        name = _file_name(ref, audience, number)
        headers["content-disposition"] = f'attachment; filename="{name}.{ext}"'
    return Response(document, media_type=f"{media}; charset=utf-8", headers=headers)


def _file_name(ref: str, audience: str, number: int) -> str:
    """A download's name, without its extension: the staff copy's names its case and version."""
    if audience in HANDED_OVER:
        return HANDED_OVER[audience]
    short = ref[:12].upper() if re.fullmatch(r"[A-Za-z0-9-]{4,40}", ref) else "case"
    return f"plan-{short}-v{number}-{audience}"
