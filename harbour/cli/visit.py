"""`harbour visit start|back|extend|record-back|list|show`: staff visits in the community and their
check-ins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from harbour.cli.base import As, IdempotencyKey, Json, cli, committed, emit, get_app
from harbour.cli.sensitive import sensitive_option

if TYPE_CHECKING:
    from harbour.cases.visits import VisitView

visit_cli = typer.Typer(
    help="Visits in the community: say where you go and when you will be back.",
    no_args_is_help=True,
)
cli.add_typer(visit_cli, name="visit")


@visit_cli.command("start")
def visit_start(
    back_at: Annotated[
        str,
        typer.Option(
            "--back-at", help="When you expect to be back: 16:30, 2026-03-02 16:30, or ISO 8601."
        ),
    ],
    where: Annotated[str | None, sensitive_option("Where you are going (kept encrypted).")] = None,
    buddy: Annotated[
        str | None, typer.Option(help="Your check-in buddy's handle (default: a supervisor).")
    ] = None,
    case: Annotated[str | None, typer.Option("--case", help="The case the visit is for.")] = None,
    escort: Annotated[bool, typer.Option(help="A law-enforcement escort was arranged.")] = False,
    idempotency_key: IdempotencyKey = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Start a visit. Not back (or extended) by --back-at plus the policy's grace, your buddy
    is alerted, then the supervisors, then on-call."""
    from harbour.cases.visits import start_visit

    view = start_visit(
        get_app(),
        actor,
        back_at=back_at,
        location=where,
        buddy=buddy,
        case_ref=case,
        escort=escort,
        idempotency_key=idempotency_key,
    )
    emit(view.as_json(), as_json, lambda _: _started(view))
    if not view.alerted:
        typer.echo(
            f"warning: nobody would be alerted if you are not back by "
            f"{view.local(view.deadline_at)}: you have no buddy, and the agency has nobody but "
            "you among its supervisors, on-call staff and admins. Name a colleague with "
            "--buddy HANDLE (end this visit first: harbour visit back), or ask an admin to put "
            "someone on call.",
            err=True,
        )


def _started(view: VisitView) -> str:
    return (
        f"Visit {view.id[:12]} started; back by {view.local(view.expected_back_at)}.\n"
        f"Not checked in by {view.local(view.deadline_at)}, {_alerted(view)}.\n"
        "Check in: harbour visit back (or harbour visit extend for more time)."
    )


def _alerted(view: VisitView) -> str:
    """Whom the alert would page first, as the ladder stands (``alerts.visit_first_paged``)."""
    people = ", ".join(view.alerted)
    if view.alerted_as == "buddy":
        return f"{people} (your buddy) is alerted"
    if view.alerted:
        return f"no buddy: the {view.alerted_as} ({people}) are alerted"
    return "nobody would be alerted (no buddy, and nobody else to page)"


@visit_cli.command("back")
def visit_back(
    idempotency_key: IdempotencyKey = None, actor: As = None, as_json: Json = False
) -> None:
    """You are back: your visit ends and any alert about it stops (whoever it paged is told you
    are back safe). Run again with its --idempotency-key, it is the check-in it recorded, while
    no visit is out since."""
    from harbour.cases.visits import check_in

    app = get_app()
    view = check_in(app, actor, idempotency_key)
    committed(app)  # the "back safe" notices go with the command: the urgent lane
    emit(view.as_json(), as_json, f"Visit {view.id[:12]} checked in at {view.local(view.back_at)}.")


@visit_cli.command("extend")
def visit_extend(
    minutes: Annotated[int, typer.Option(help="How much more time (1 to 240).")] = 30,
    idempotency_key: IdempotencyKey = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """You need more time: a new time to be back (any alert about the visit stops). Run again
    with its --idempotency-key, it is the extend it recorded (the time given once), while it is
    the latest of the visit out; with other --minutes the key is refused."""
    from harbour.cases.visits import extend

    view = extend(get_app(), actor, minutes, idempotency_key)
    emit(
        view.as_json(),
        as_json,
        f"Visit {view.id[:12]}: back by {view.local(view.expected_back_at)} "
        f"(alert after {view.local(view.deadline_at)}).",
    )


@visit_cli.command("record-back")
def visit_record_back(
    visit_id: Annotated[str, typer.Argument(metavar="VISIT_ID")],
    reason: Annotated[
        str | None, sensitive_option("How you know they are back (kept encrypted).")
    ] = None,
    idempotency_key: IdempotencyKey = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Supervisors: a colleague who cannot check in (a phone dead) reached you: their visit
    ends as `visit back` ends it, and you take its alert; their buddy and whoever it paged are
    told they are back safe. Audited; the reason is sealed."""
    from harbour.cases.visits import record_back

    app = get_app()
    view = record_back(app, actor, visit_id, reason, idempotency_key)
    committed(app)
    emit(
        view.as_json(),
        as_json,
        f"Visit {view.id[:12]} of {view.visitor} recorded back by {view.recorded_by} "
        f"at {view.local(view.back_at)}.",
    )


@visit_cli.command("list")
def visit_list(
    all_: Annotated[bool, typer.Option("--all", help="Visits checked in too.")] = False,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Visits still out (or all), newest first; where they went is in `visit show`."""
    from harbour.cases.visits import list_visits

    views = list_visits(get_app(), actor, include_back=all_)
    emit([v.as_json() for v in views], as_json, lambda _: _table(views))


def _table(views: list[VisitView]) -> str:
    lines = [f"{'visit':<13} {'who':<12} {'buddy':<12} {'back by':<22} {'state':<8} alert"]
    for v in views:
        state = "back" if v.back_at else ("OVERDUE" if v.overdue else "out")
        lines.append(
            f"{v.id[:12]:<13} {v.visitor[:12]:<12} {(v.buddy or '-')[:12]:<12} "
            f"{v.local(v.expected_back_at):<22} {state:<8} {(v.alert_id or '-')[:12]}"
        )
    return "\n".join(lines)


@visit_cli.command("show")
def visit_show(
    visit_id: Annotated[str, typer.Argument(metavar="VISIT_ID")],
    actor: As = None,
    as_json: Json = False,
) -> None:
    """One visit and where it went: for the visitor, their buddy, supervisors, on-call staff
    and an admin its alert paged (audited)."""
    from harbour.cases.visits import show_visit

    view = show_visit(get_app(), actor, visit_id)
    emit(view.as_json(), as_json, lambda _: _shown(view))


def _shown(v: VisitView) -> str:
    return "\n".join(
        [
            f"visit      {v.id}",
            f"who        {v.visitor}",
            f"buddy      {v.buddy or '-'}",
            f"case       {v.case_reference or '-'}",
            f"where      {v.location or '-'}",
            f"escort     {'yes' if v.escort else 'no'}",
            f"started    {v.local(v.started_at)}",
            f"back by    {v.local(v.expected_back_at)} (alert after {v.local(v.deadline_at)})",
            f"back at    {v.local(v.back_at)}"
            + (f" (recorded back by {v.recorded_by}: {v.back_reason})" if v.recorded_by else ""),
            f"alert      {v.alert_id or '-'}",
        ]
    )
