"""`harbour case person|threat add|edit`: a case's people and threat sources after referral."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from harbour.cli.base import As, IdempotencyKey, Json, emit, get_app
from harbour.cli.case import case_cli
from harbour.cli.sensitive import sensitive_option

person_cli = typer.Typer(
    help="The case's youth, family members or caretakers, and trusted contacts.",
    no_args_is_help=True,
)
threat_cli = typer.Typer(
    help="The case's threat sources and their protective orders.", no_args_is_help=True
)
case_cli.add_typer(person_cli, name="person")
case_cli.add_typer(threat_cli, name="threat")

# Each option is declared once here; add and edit differ only in what they require. Identifying
# text never comes from the command line itself (harbour.cli.sensitive).
Text = Annotated[str | None, sensitive_option()]
Flag = Annotated[bool | None, typer.Option()]
Number = Annotated[
    int, typer.Argument(min=0, max=10_000, help="The number `case show` lists it with.")
]
Clear = Annotated[
    list[str] | None,
    typer.Option("--clear", help="Empty an optional field (repeatable), e.g. --clear phone."),
]
PersonKindOption = Annotated[
    str,
    typer.Option(
        "--kind",
        help="family_member | caretaker | trusted_contact (a family member or a caretaker "
        "needs --relationship too).",
    ),
]
# Required by the kind, not by the command: click cannot say so, the help and the refusal do.
KinRelationship = Annotated[
    str | None, sensitive_option("Required for a family member or a caretaker.")
]
_THREAT_KINDS = "trafficker | network | complicit_family_friend"
ThreatKindOption = Annotated[str, typer.Option("--kind", help=_THREAT_KINDS)]
ThreatKindChange = Annotated[str | None, typer.Option("--kind", help=_THREAT_KINDS)]
Caretaker = Annotated[bool | None, typer.Option(help="A family member who cares for the youth.")]
NonOffending = Annotated[bool | None, typer.Option(help="Staff know this family member is safe.")]
ApprovedByYouth = Annotated[
    bool | None, typer.Option(help="The youth agrees to have them on the plan.")
]
# Dates are read as text and checked by the model: click's own errors would quote the value.
DateOfBirth = Annotated[str | None, sensitive_option("The youth's (YYYY-MM-DD).")]
Expires = Annotated[
    str | None, typer.Option(help="The protective order's expiry date (YYYY-MM-DD).")
]

_NOT_FIELDS = frozenset({"ref", "number", "clear", "idempotency_key", "actor", "as_json"})


def _fields(options: dict[str, Any]) -> dict[str, Any]:
    """A command's field options by name: its parameters (``locals()`` taken first thing)
    less the case, the number and the command's own switches."""
    return {name: value for name, value in options.items() if name not in _NOT_FIELDS}


def _print(change: Any, as_json: bool, verb: str) -> None:
    data = change.as_json()
    fields = ", ".join(data["fields"]) or "-"
    said = f"{data['case']}: {data['kind']} {data['number']} {verb} ({fields}).\n{data['note']}"
    if "final_contact" in data:
        said += f"\n{data['final_contact']['say']}"
    emit(data, as_json, said)


@person_cli.command("add")
def person_add(
    ref: str,
    kind: PersonKindOption,
    name: Annotated[str, sensitive_option()],
    relationship: KinRelationship = None,
    phone: Text = None,
    address: Text = None,
    non_offending: NonOffending = None,
    approved_by_youth: ApprovedByYouth = None,
    idempotency_key: IdempotencyKey = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Add a family member, caretaker or trusted contact (caseworker of the case, supervisor).
    A family member or a caretaker needs --relationship; for a trusted contact it is optional."""
    fields = _fields(locals())
    from harbour.cases.details import add_person

    _print(add_person(get_app(), actor, ref, fields, idempotency_key), as_json, "added")


@person_cli.command("edit")
def person_edit(
    ref: str,
    number: Number,
    name: Text = None,
    preferred_name: Text = None,
    relationship: Text = None,
    date_of_birth: DateOfBirth = None,
    phone: Text = None,
    address: Text = None,
    notes: Text = None,
    caretaker: Caretaker = None,
    non_offending: NonOffending = None,
    approved_by_youth: ApprovedByYouth = None,
    clear: Clear = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Change one person's details; only the options given change."""
    fields = _fields(locals())
    from harbour.cases.details import edit_person

    _print(edit_person(get_app(), actor, ref, number, fields, clear), as_json, "changed")


@threat_cli.command("add")
def threat_add(
    ref: str,
    kind: ThreatKindOption,
    name: Text = None,
    description: Text = None,
    protective_order: Flag = None,
    protective_order_expires_on: Expires = None,
    protective_order_details: Text = None,
    idempotency_key: IdempotencyKey = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Add a threat source, with its protective order if there is one."""
    fields = _fields(locals())
    from harbour.cases.details import add_threat

    _print(add_threat(get_app(), actor, ref, fields, idempotency_key), as_json, "added")


@threat_cli.command("edit")
def threat_edit(
    ref: str,
    number: Number,
    kind: ThreatKindChange = None,
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
    fields = _fields(locals())
    from harbour.cases.details import edit_threat

    _print(edit_threat(get_app(), actor, ref, number, fields, clear), as_json, "changed")
