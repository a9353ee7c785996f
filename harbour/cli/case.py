"""Commands for cases: init, refer, case show, case cover, cases, assign, audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from harbour.cli.base import (
    As,
    IdempotencyKey,
    Json,
    Ref,
    cli,
    committed,
    emit,
    get_app,
    say_home_narrowed,
)
from harbour.cli.sensitive import sensitive_option

case_cli = typer.Typer(help="One case.", no_args_is_help=True)
cli.add_typer(case_cli, name="case")


@cli.command()
def init(
    agency: Annotated[str, typer.Option(help="The first agency's name (a short handle).")],
    admin: Annotated[
        str, typer.Option(help="The first admin's handle: the installation's first operator.")
    ],
    as_json: Json = False,
) -> None:
    """Create the store, its keyring (mode 0600), the first agency and its admin, who is the
    installation's first operator (copies, key rotations, agencies, naming other operators)."""
    from harbour.admin.init import init as do_init

    app = get_app(creating=True)
    done = do_init(app, agency, admin)
    say_home_narrowed(app, done.home_was)
    result = {
        "agency": agency,
        "admin": admin,
        "keys_created": done.keys_created,
        "home": str(app.settings.home),
    }
    emit(
        result,
        as_json,
        f"Harbour store ready in {app.settings.home} (agency {agency}, "
        f"admin and operator {admin}{', new keyring' if done.keys_created else ''}).\n"
        f"For the web console, {admin}'s enrolment link: harbour staff reset {admin} --as {admin}",
    )


@cli.command()
def refer(
    file: Annotated[Path | None, typer.Option("--file", help="Referral (.json or .yaml).")] = None,
    idempotency_key: IdempotencyKey = None,
    allow_duplicate: Annotated[
        bool,
        typer.Option(
            "--allow-duplicate",
            help="Refer even though the agency has a case of the same youth (name and date of "
            "birth); without it such a referral is refused, naming the case.",
        ),
    ] = False,
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the referral JSON schema.")
    ] = False,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Record a referral and start its case; prints the case reference."""
    from harbour.cases.intake import Referral
    from harbour.cases.intake import refer as do_refer
    from harbour.validation import load_document

    if schema:
        typer.echo(json.dumps(Referral.model_json_schema(), indent=2))
        return
    if file is None:
        from harbour.errors import InvalidInput

        raise InvalidInput([("--file", "give a referral file, or --schema")])
    data = load_document(file)
    app = get_app()
    case = do_refer(app, actor, data, idempotency_key, allow_duplicate=allow_duplicate)
    committed(app)
    if case.duplicate_of and not as_json:
        named = ", ".join(e.reference for e in case.duplicate_of)
        typer.echo(f"warning: likely the same youth as {named}; referred anyway", err=True)
    emit(case.as_json(), as_json, case.reference)


@case_cli.command("show")
def case_show(ref: str, actor: As = None, as_json: Json = False) -> None:
    """Everything about one case, identifying fields included (its caseworker, whoever covers
    it, its supervisors; coordinators until it has a caseworker, then its summary)."""
    from harbour.cases.reads import show_case
    from harbour.plans.tracking import overdue_of

    app = get_app()
    case = show_case(app, actor, ref).as_json()
    late = [] if case["summary_only"] else overdue_of(app, actor, [case["case"]]).of(case["case"])
    emit({**case, "steps_overdue": [s.as_json() for s in late]}, as_json, _describe)


def _describe(case: dict[str, Any]) -> str:
    situation = f"situation {case['situation']}, " if case["situation"] else ""
    lines = [
        f"Case {case['case']}",
        f"  status {case['status']}, {situation}risk {case['risk_level'] or 'not assessed'}",
        f"  caseworker {case['caseworker'] or '(unassigned)'}, "
        f"next due {case['next_due_local'] or '-'}",
    ]
    for cover in case["covers"]:
        why = f": {cover['reason']}" if cover.get("reason") else ""
        lines.append(f"  covered by {cover['caseworker']} until {cover['ends_local']}{why}")
    if case["summary_only"]:
        lines.append("  (the summary: its details and plan are for its caseworker and supervisors)")
    if case["steps_overdue"]:
        late = ", ".join(f"{s['key']} (due {s['due_on']})" for s in case["steps_overdue"])
        lines.append(f"  STEPS-OVERDUE: {late}")
    if override := case.get("override"):
        lines.append(
            f"  risk overridden to {override['level']} (computed {override['computed_level']}) "
            f"by {override['by'] or '-'} at {override['at_local'] or '-'}: {override['reason']}"
        )
    if case["missing"]:
        gone = case["missing"]
        steps = ", ".join(
            f"{s['step']} {'done' if s['done'] else 'OPEN, due ' + s['due_local']}"
            + (f" (report {s['report_number']})" if s["report_number"] else "")
            for s in gone["steps"]
        )
        lines.append(f"  MISSING since {gone['since_local']} ({gone['hours']} h): {steps}")
    if case["expired_orders"]:
        lines.append(f"  PROTECTIVE-ORDER-EXPIRED: {case['expired_orders']} (renew or extend)")
    if case.get("referral_source"):
        lines.append(f"  referred by: {case['referral_source']}")
    for person in case["people"]:
        details = ", ".join(f"{k}: {v}" for k, v in person.items() if k not in ("kind", "person"))
        lines.append(f"  person {person['person']} ({person['kind']}): {details}")
    for threat in case["threats"]:
        details = ", ".join(f"{k}: {v}" for k, v in threat.items() if k not in ("kind", "threat"))
        lines.append(f"  threat {threat['threat']} ({threat['kind']}): {details}")
    return "\n".join(lines)


@case_cli.command("cover")
def case_cover(
    ref: Ref,
    reason: Annotated[
        str | None, sensitive_option("Why you cover the case (kept encrypted; not in the notice).")
    ] = None,
    hours: Annotated[
        int | None,
        typer.Option(
            help="How long, in hours (the policy's default if not given; at most its maximum)."
        ),
    ] = None,
    end: Annotated[
        bool,
        typer.Option("--end", help="End your cover of the case now (supervisors: every cover)."),
    ] = False,
    idempotency_key: IdempotencyKey = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Cover a colleague's case for a while (caseworkers): break-glass access to a case not
    assigned to you, with a reason; audited, and the supervisors are told. Ends by itself."""
    from harbour.cases.cover import end_cover, start_cover
    from harbour.errors import InvalidInput

    app = get_app()
    if end:
        if reason is not None or hours is not None or idempotency_key is not None:
            raise InvalidInput([("--end", "takes no --reason, --hours or --idempotency-key")])
        ended = end_cover(app, actor, ref)
        committed(app)
        emit(
            [c.as_json() for c in ended],
            as_json,
            "\n".join(f"Cover of {c.case} by {c.caseworker} ended." for c in ended),
        )
        return
    cover = start_cover(app, actor, ref, reason, hours, idempotency_key)
    committed(app)
    emit(
        cover.as_json(),
        as_json,
        f"You cover {cover.case} until {cover.ends_local}; the supervisors are told. "
        f"To end it sooner: harbour case cover {cover.case[:12]} --end",
    )


@cli.command()
def cases(
    due: Annotated[
        bool,
        typer.Option(
            "--due",
            help="Only cases whose next assessment is due soon (within the policy's due-soon "
            "reminder window) or overdue.",
        ),
    ] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue cases.")] = False,
    escalated: Annotated[bool, typer.Option("--escalated", help="Only escalated.")] = False,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """The caseload: your cases, or your agency's for coordinators and supervisors."""
    from harbour.cases.reads import caseload
    from harbour.plans.tracking import overdue_of

    app = get_app()
    rows = caseload(app, actor, due=due, overdue=overdue, escalated=escalated)
    late = overdue_of(app, actor, [r.reference for r in rows])
    shown = [
        {
            **r.as_json(),
            "steps_overdue": [s.as_json() for s in late.of(r.reference)],
            "steps_overdue_count": late.count(r.reference),
        }
        for r in rows
    ]
    emit(shown, as_json, _caseload_table)


def _caseload_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No cases."
    head = f"{'case':<14} {'status':<18} {'risk':<9} {'next due':<21} {'worker':<12} flags"
    lines = [head]
    for r in rows:
        steps = r["steps_overdue_count"]
        flags = " ".join(
            f
            for f, on in (
                ("OVERDUE", r["overdue"]),
                ("ESCALATED", r["escalated"]),
                (f"STEPS-OVERDUE:{steps}", steps),
                ("MISSING", r["missing_since"]),
            )
            if on
        )
        due = r["next_due_local"] or "-"
        lines.append(
            f"{r['case'][:12]:<14} {r['status']:<18} {r['risk_level'] or '-':<9} "
            f"{due:<21} {r['caseworker'] or '-':<12} {flags}"
        )
    return "\n".join(lines)


@cli.command()
def assign(ref: str, handle: str, actor: As = None, as_json: Json = False) -> None:
    """Assign a case to a caseworker of its agency."""
    from harbour.cases.reads import assign as do_assign

    app = get_app()
    assigned = do_assign(app, actor, ref, handle)
    committed(app)
    emit(assigned.as_json(), as_json, f"{assigned.case} assigned to {assigned.caseworker}.")


@cli.command()
def audit(
    ref: Annotated[str | None, typer.Argument(help="The case (supervisors).")] = None,
    system: Annotated[
        bool,
        typer.Option(
            "--system",
            help="Instead of a case: the agency's audit rows of no case, such as staff changes "
            "and refusals (admins); operators also see the store's own trail (init, copies, key "
            "rotations, agencies added, unknown actors).",
        ),
    ] = False,
    limit: Annotated[
        int, typer.Option(min=1, max=100_000, help="With --system: the newest N.")
    ] = 500,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Who read or changed a case, and when (supervisors); or, with --system, the rest (admins)."""
    from harbour.cases.reads import audit_trail, system_audit
    from harbour.errors import InvalidInput

    if (ref is None) == (not system):
        raise InvalidInput([("REF", "give a case reference, or --system (not both)")])
    app = get_app()
    rows = system_audit(app, actor, limit) if system else audit_trail(app, actor, ref or "")
    emit(
        [row.as_json() for row in rows],
        as_json,
        lambda rs: (
            "\n".join(
                f"{r['at_local']:<23}  {r['actor'] or '-':<12} {r['action']:<24} {r['outcome']}"
                for r in rs
            )
            or "No audit events."
        ),
    )
