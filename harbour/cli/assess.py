"""Commands for assessing a case and moving it through its lifecycle: instrument show, catalogue,
assess, override, discharge, close, reopen, schedule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from harbour.cli.base import As, IdempotencyKey, Json, Ref, cli, committed, emit, get_app
from harbour.cli.sensitive import sensitive_option

instrument_cli = typer.Typer(help="The safety assessment instrument.", no_args_is_help=True)
cli.add_typer(instrument_cli, name="instrument")


@instrument_cli.command("show")
def instrument_show(actor: As = None, as_json: Json = False) -> None:
    """The questions: id, text, type and choices, by concern."""
    from harbour.cli.views import instrument_text
    from harbour.domain.instrument import describe

    emit(describe(get_app(keys=None).reference.instrument), as_json, instrument_text)


@cli.command("catalogue")
def catalogue_show(actor: As = None, as_json: Json = False) -> None:
    """The strategies (code, phase, staff and youth wording) and the resources."""
    from harbour.cli.views import catalogue_json, catalogue_text

    emit(catalogue_json(get_app(keys=None).reference.catalogue), as_json, catalogue_text)


@cli.command()
def assess(
    ref: Ref,
    point: Annotated[str, typer.Option("--point", help="initial_contact, planning_meeting, ...")],
    answers: Annotated[
        Path | None, typer.Option("--answers", help="Answers file (.json or .yaml); else prompts.")
    ] = None,
    idempotency_key: IdempotencyKey = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Submit a safety assessment: prints the risk level, the reasons and the plan version."""
    from harbour.assessments.submit import check_can_assess, parse_point, submit_assessment
    from harbour.cli.views import assessment_text, prompt_answers
    from harbour.validation import load_document

    app = get_app()
    parse_point(point)
    if answers is None:
        check_can_assess(app, actor, ref, point)
    data = (
        load_document(answers) if answers is not None else prompt_answers(app.reference.instrument)
    )
    outcome = submit_assessment(app, actor, ref, point, data, idempotency_key)
    committed(app)
    _emit_paged(app, actor, outcome.as_json(), as_json, assessment_text)


@cli.command()
def override(
    ref: Ref,
    level: Annotated[str, typer.Option("--level", help="low, moderate, high or imminent.")],
    reason: Annotated[str, sensitive_option("Why (kept encrypted).")],
    idempotency_key: IdempotencyKey = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Set the level of the latest assessment by hand (supervisors); both levels are kept."""
    from harbour.assessments.overrides import override_level
    from harbour.cli.views import override_text

    app = get_app()
    done = override_level(app, actor, ref, level, reason, idempotency_key)
    committed(app)
    _emit_paged(app, actor, done.as_json(), as_json, override_text)


def _emit_paged(
    app: Any,
    actor: str | None,
    shown: dict[str, Any],
    as_json: bool,
    render: Callable[[dict[str, Any]], str],
) -> None:
    """Print an assessment's (or override's) outcome; if it raised an alert that reached nobody
    (no route, every send failed), say so plainly and exit 3: the change is recorded all the same."""
    from harbour.errors import NobodyPaged
    from harbour.notify.alerts import reached_anyone

    if shown["alert"]:
        shown["paged"] = reached_anyone(app, actor, shown["alert"])
    emit(shown, as_json, render)
    if shown.get("paged") is False:
        raise NobodyPaged(
            detail="the assessment is recorded, but the imminent-threat alert reached nobody: "
            "call the on-call staff and a supervisor yourself now"
        )


def _lifecycle(name: str, ref: str, actor: str | None, as_json: bool) -> None:
    from harbour.cases.transitions import run_action

    app = get_app()
    result = run_action(app, actor, ref, name)
    committed(app)
    emit(result.as_json(), as_json, f"{result.case} is now {result.status}.")


@cli.command()
def discharge(ref: Ref, actor: As = None, as_json: Json = False) -> None:
    """Discharge a case after its discharge assessment; schedules the follow-ups."""
    _lifecycle("discharge", ref, actor, as_json)


@cli.command()
def close(ref: Ref, actor: As = None, as_json: Json = False) -> None:
    """Close a discharged case whose follow-ups are done (supervisors)."""
    _lifecycle("close", ref, actor, as_json)


@cli.command()
def reopen(ref: Ref, actor: As = None, as_json: Json = False) -> None:
    """Reopen a discharged or closed case (supervisors)."""
    _lifecycle("reopen", ref, actor, as_json)


@cli.command("schedule")
def schedule_show(
    ref: Ref,
    weeks: Annotated[int, typer.Option(help="How many weeks ahead.")] = 8,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """A dry run: what falls due and which reminders fire in the coming weeks."""
    from harbour.cases.schedule import preview
    from harbour.cli.views import schedule_text

    view = preview(get_app(), actor, ref, weeks)
    emit([e.as_json() for e in view.entries], as_json, lambda _: schedule_text(view))
