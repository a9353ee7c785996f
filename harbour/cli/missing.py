"""`harbour missing`, `harbour missing-step`, `harbour returned`: a youth who goes missing;
`harbour missing-withdraw`: an episode recorded in error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from harbour.cli.base import As, Json, Ref, cli, committed, emit, get_app
from harbour.cli.sensitive import sensitive_option
from harbour.cli.views import nobody_paged

if TYPE_CHECKING:
    from harbour.cases.missing import EpisodeView

Moment = "2026-03-02 21:00 (the agency's time), 21:00, or ISO 8601"


@cli.command("missing")
def missing(
    ref: Ref,
    since: Annotated[str, typer.Option("--since", help=f"When last seen: {Moment}.")],
    actor: As = None,
    as_json: Json = False,
) -> None:
    """The youth has gone missing: record it, and open the reporting steps (law enforcement,
    NCMEC, the supervisor told), due within the policy's missing_report_within of when they were
    last seen."""
    from harbour.cases.missing import report_missing
    from harbour.errors import NobodyPaged
    from harbour.notify.alerts import urgent_unreached

    app = get_app()
    view = report_missing(app, actor, ref, since)
    committed(app)  # a youth last seen a day ago: the overdue alert goes at once (urgent lane)
    unpaged = urgent_unreached(app, actor, view.alerts)
    shown = view.as_json() | {"unpaged_alerts": unpaged}
    emit(shown, as_json, lambda _: _text(view, "recorded missing", unpaged))
    if unpaged:
        raise NobodyPaged(
            detail="the youth is recorded missing, but the alert that the reporting deadline "
            "has passed reached nobody: call the on-call staff and a supervisor yourself now"
        )


@cli.command("missing-step")
def missing_step(
    ref: Ref,
    step: Annotated[str, typer.Argument(help="law_enforcement | ncmec | supervisor_told")],
    report_number: Annotated[
        str | None, sensitive_option("The report's number (law_enforcement, ncmec).")
    ] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Record a reporting step of the missing youth done (now, by you)."""
    from harbour.cases.missing import record_step

    app = get_app()
    view = record_step(app, actor, ref, step, report_number)
    committed(app)  # as the console does: nothing it set off waits for a later pass
    emit(view.as_json(), as_json, lambda _: _text(view, f"{step} recorded"))


@cli.command("returned")
def returned(
    ref: Ref,
    at: Annotated[str, typer.Option("--at", help=f"When the youth came back: {Moment}.")],
    actor: As = None,
    as_json: Json = False,
) -> None:
    """The missing youth is back: the episode closes and the return screening (a just_left
    assessment) is opened, due within the policy's return_assessment_within."""
    from harbour.cases.missing import report_return

    app = get_app()
    view = report_return(app, actor, ref, at)
    committed(app)  # the return's events (the episode closed, the screening opened)
    emit(view.as_json(), as_json, lambda _: _text(view, "back"))


@cli.command("missing-withdraw")
def missing_withdraw(
    ref: Ref,
    reason: Annotated[
        str | None, sensitive_option("Why the episode was recorded in error (kept encrypted).")
    ] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Withdraw the open missing episode as recorded in error (supervisors): kept, with the
    reason, but no longer open; its alerts are taken and no return screening is opened."""
    from harbour.cases.missing import withdraw_episode

    app = get_app()
    view = withdraw_episode(app, actor, ref, reason)
    committed(app)  # the alerts it took: nothing waits for a later pass
    emit(view.as_json(), as_json, lambda _: _text(view, "missing episode withdrawn"))


def _text(view: EpisodeView, what: str, unpaged: list[str] | None = None) -> str:
    lines = [f"{view.case_reference}: {what} (last seen {view.local(view.last_seen_at)})."]
    for step in view.steps:
        state = f"done by {step.done_by} {view.local(step.done_at)}" if step.done_at else "OPEN"
        number = ", report number recorded" if step.has_report_number else ""
        lines.append(f"  {step.step:<16} due {view.local(step.due_at)}: {state}{number}")
    if what == "recorded missing":
        raised = [alert[:12] for alert in view.alerts if alert not in (unpaged or [])]
        lines += [f"Alert {alert} raised: harbour ack {alert}" for alert in raised]
    if view.assessment_due_at:
        lines.append(
            f"Return screening: just_left assessment due {view.local(view.assessment_due_at)} "
            "(harbour assess REF --point just_left)."
        )
    for alert in unpaged or []:  # last, where it is seen
        lines += nobody_paged(alert)
    return "\n".join(lines)
