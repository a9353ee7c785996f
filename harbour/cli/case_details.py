"""`harbour case person|threat add|edit`: a case's people and threat sources after referral."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from harbour.cli.app import As, Json, emit, get_app
from harbour.cli.core import case_cli

person_cli = typer.Typer(
    help="The case's youth, family members or caretakers, and trusted contacts.",
    no_args_is_help=True,
)
threat_cli = typer.Typer(
    help="The case's threat sources and their protective orders.", no_args_is_help=True
)
case_cli.add_typer(person_cli, name="person")
case_cli.add_typer(threat_cli, name="threat")

Text = Annotated[str | None, typer.Option()]
Flag = Annotated[bool | None, typer.Option()]
Number = Annotated[
    int, typer.Argument(min=0, max=10_000, help="The number `case show` lists it with.")
]
Clear = Annotated[
    list[str] | None,
    typer.Option("--clear", help="Empty an optional field (repeatable), e.g. --clear phone."),
]
PersonKindOption = Annotated[
    str, typer.Option("--kind", help="family_member | caretaker | trusted_contact")
]
ThreatKindOption = Annotated[
    str | None, typer.Option("--kind", help="trafficker | network | complicit_family_friend")
]
# Dates are read as text and checked by the model: click's own errors would quote the value.
Expires = Annotated[
    str | None, typer.Option(help="The protective order's expiry date (YYYY-MM-DD).")
]


def _print(change: Any, as_json: bool, verb: str) -> None:
    data = change.as_json()
    fields = ", ".join(data["fields"]) or "-"
    emit(
        data,
        as_json,
        f"{data['case']}: {data['kind']} {data['number']} {verb} ({fields}).\n{data['note']}",
    )


@person_cli.command("add")
def person_add(
    ref: str,
    kind: PersonKindOption,
    name: Annotated[str, typer.Option()],
    relationship: Text = None,
    phone: Text = None,
    address: Text = None,
    non_offending: Annotated[
        bool | None, typer.Option(help="Staff know this family member is safe.")
    ] = None,
    approved_by_youth: Annotated[
        bool | None, typer.Option(help="The youth agrees to have them on the plan.")
    ] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Add a family member, caretaker or trusted contact (caseworker of the case, supervisor)."""
    from harbour.case_details import add_person

    fields = {
        "kind": kind,
        "name": name,
        "relationship": relationship,
        "phone": phone,
        "address": address,
        "non_offending": non_offending,
        "approved_by_youth": approved_by_youth,
    }
    _print(add_person(get_app(), actor, ref, fields), as_json, "added")


@person_cli.command("edit")
def person_edit(
    ref: str,
    number: Number,
    name: Text = None,
    preferred_name: Text = None,
    relationship: Text = None,
    date_of_birth: Annotated[str | None, typer.Option(help="The youth's (YYYY-MM-DD).")] = None,
    phone: Text = None,
    address: Text = None,
    notes: Text = None,
    caretaker: Annotated[
        bool | None, typer.Option(help="A family member who cares for the youth.")
    ] = None,
    non_offending: Annotated[
        bool | None, typer.Option(help="Staff know this family member is safe.")
    ] = None,
    approved_by_youth: Annotated[
        bool | None, typer.Option(help="The youth agrees to have them on the plan.")
    ] = None,
    clear: Clear = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Change one person's details; only the options given change."""
    from harbour.case_details import edit_person

    fields = {
        "name": name,
        "preferred_name": preferred_name,
        "relationship": relationship,
        "date_of_birth": date_of_birth,
        "phone": phone,
        "address": address,
        "notes": notes,
        "caretaker": caretaker,
        "non_offending": non_offending,
        "approved_by_youth": approved_by_youth,
    }
    _print(edit_person(get_app(), actor, ref, number, fields, clear), as_json, "changed")


@threat_cli.command("add")
def threat_add(
    ref: str,
    kind: Annotated[
        str, typer.Option("--kind", help="trafficker | network | complicit_family_friend")
    ],
    name: Text = None,
    description: Text = None,
    protective_order: Flag = None,
    protective_order_expires_on: Expires = None,
    protective_order_details: Text = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Add a threat source, with its protective order if there is one."""
    from harbour.case_details import add_threat

    fields = {
        "kind": kind,
        "name": name,
        "description": description,
        "protective_order": protective_order,
        "protective_order_expires_on": protective_order_expires_on,
        "protective_order_details": protective_order_details,
    }
    _print(add_threat(get_app(), actor, ref, fields), as_json, "added")


@threat_cli.command("edit")
def threat_edit(
    ref: str,
    number: Number,
    kind: ThreatKindOption = None,
    name: Text = None,
    description: Text = None,
    protective_order: Flag = None,
    protective_order_expires_on: Expires = None,
    protective_order_details: Text = None,
    clear: Clear = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Change one threat source; only the options given change."""
    from harbour.case_details import edit_threat

    fields = {
        "kind": kind,
        "name": name,
        "description": description,
        "protective_order": protective_order,
        "protective_order_expires_on": protective_order_expires_on,
        "protective_order_details": protective_order_details,
    }
    _print(edit_threat(get_app(), actor, ref, number, fields, clear), as_json, "changed")
