"""The casework pages: referral, assessment, the plan workbench. Each form posts what the CLI
takes from a file or options, through the adapter to the same services; a refusal re-renders the
form with each message beside its field and the typed values kept (in the page only, never in a
URL or a log line), and writes nothing."""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from harbour import templating
from harbour.auth.sessions import SignedIn
from harbour.domain.vocab import PersonAtRisk, Situation, ThreatKind
from harbour.errors import Conflict, InvalidInput
from harbour.web import adapter, forms
from harbour.web.pages import call, checked_form, harbour, render, staff_page

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
    refusal = refusal or forms.Refusal()
    return render(
        request,
        "refer",
        who,
        status=400 if refusal else 200,
        title="Refer a youth",
        typed=shown,
        errors=refusal.by_field,
        refusal=refusal,
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
        short = await call(adapter.refer, harbour(request), who.handle, data, key)
    except InvalidInput as exc:
        refusal = forms.refusal(exc, REFERRAL_FIELDS)
        return _refer_page(request, who, typed, at_risk, key, refusal=refusal)
    except Conflict:
        refused = forms.Refusal(
            general=[
                (
                    "form",
                    "this form already recorded a referral with other values: "
                    "open a new referral form to refer another youth",
                )
            ]
        )
        return _refer_page(request, who, typed, at_risk, key, refusal=refused)
    return RedirectResponse(f"/cases/{short}", status_code=303)
