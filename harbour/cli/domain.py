"""Commands for assessments, plans and the schedule: instrument show, catalogue, assess, plan ...,
discharge, close, reopen, override, schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from harbour.cli.app import As, Json, cli, emit, get_app

instrument_cli = typer.Typer(help="The safety assessment instrument.", no_args_is_help=True)
plan_cli = typer.Typer(help="A case's safety plan versions.", no_args_is_help=True)
cli.add_typer(instrument_cli, name="instrument")
cli.add_typer(plan_cli, name="plan")

Ref = Annotated[str, typer.Argument(help="The case reference (an unambiguous prefix will do).")]
Item = Annotated[str, typer.Argument(help="The item's key or its number in `plan show`.")]


def _committed(app: Any) -> None:
    from harbour.pipeline import after_commit

    after_commit(app)


@instrument_cli.command("show")
def instrument_show(actor: As = None, as_json: Json = False) -> None:
    """The questions: id, text, type and choices, by concern."""
    from harbour.cli.domain_text import instrument_text
    from harbour.instrument import describe, load_instrument

    emit(describe(load_instrument(get_app().settings)), as_json, instrument_text)


@cli.command("catalogue")
def catalogue_show(actor: As = None, as_json: Json = False) -> None:
    """The strategies (code, phase, staff and youth wording) and the resources."""
    from harbour.catalogue import load_catalogue
    from harbour.cli.domain_text import catalogue_json, catalogue_text

    emit(catalogue_json(load_catalogue(get_app().settings)), as_json, catalogue_text)


@cli.command()
def assess(
    ref: Ref,
    point: Annotated[str, typer.Option("--point", help="initial_contact, planning_meeting, ...")],
    answers: Annotated[
        Path | None, typer.Option("--answers", help="Answers file (.json or .yaml); else prompts.")
    ] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Repeat-safe key.")] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Submit a safety assessment: prints the risk level, the reasons and the plan version."""
    from harbour.assessments import check_can_assess, parse_point, submit_assessment
    from harbour.cli.domain_text import assessment_text, prompt_answers
    from harbour.validation import load_document

    app = get_app()
    parse_point(point)
    if answers is None:
        check_can_assess(app, actor, ref, point)
    data = load_document(answers) if answers is not None else prompt_answers(app.settings)
    outcome = submit_assessment(app, actor, ref, point, data, idempotency_key)
    _committed(app)
    emit(outcome.as_json(), as_json, assessment_text)


@cli.command()
def override(
    ref: Ref,
    level: Annotated[str, typer.Option("--level", help="low, moderate, high or imminent.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept encrypted).")],
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Set the level of the latest assessment by hand (supervisors); both levels are kept."""
    from harbour.cli.domain_text import assessment_text
    from harbour.overrides import override_level

    app = get_app()
    outcome = override_level(app, actor, ref, level, reason)
    _committed(app)
    emit(outcome.as_json(), as_json, assessment_text)


def _lifecycle(name: str, ref: str, actor: str | None, as_json: bool) -> None:
    from harbour.lifecycle import run_action

    app = get_app()
    result = run_action(app, actor, ref, name)
    _committed(app)
    emit(result, as_json, f"{result['case']} is now {result['status']}.")


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
    from harbour.cli.domain_text import schedule_text
    from harbour.lifecycle import dry_run

    emit(dry_run(get_app(), actor, ref, weeks), as_json, schedule_text)


@plan_cli.command("show")
def plan_show(
    ref: Ref,
    version: Annotated[int | None, typer.Option(help="A version number; default latest.")] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """The plan, by section, with each item's key, state, owner and due date."""
    from harbour.cli.domain_text import plan_text
    from harbour.plan_snapshot import as_json as snapshot_json
    from harbour.plans import show

    view = show(get_app(), actor, ref, version)
    emit(snapshot_json(view) if as_json else view, as_json, plan_text)


def _decide(ref: str, item: str, state: str, actor: str | None, as_json: bool) -> None:
    from harbour.domain.vocab import ItemState
    from harbour.plans import decide

    app = get_app()
    key = decide(app, actor, ref, item, ItemState(state))
    _committed(app)
    emit({"item": key, "state": state}, as_json, f"{key}: {state}.")


@plan_cli.command("accept")
def plan_accept(ref: Ref, item: Item, actor: As = None, as_json: Json = False) -> None:
    """Accept a suggested item of the latest draft."""
    _decide(ref, item, "accepted", actor, as_json)


@plan_cli.command("reject")
def plan_reject(ref: Ref, item: Item, actor: As = None, as_json: Json = False) -> None:
    """Reject a suggested item of the latest draft (or withdraw one staff added)."""
    _decide(ref, item, "rejected", actor, as_json)


@plan_cli.command("add")
def plan_add(
    ref: Ref,
    section: Annotated[str, typer.Option("--section", help="risks, strategies or steps.")],
    text: Annotated[str, typer.Option("--text", help="The wording (kept encrypted).")],
    owner: Annotated[
        str | None, typer.Option(help="Steps: youth, family, caseworker, agency.")
    ] = None,
    due: Annotated[str | None, typer.Option(help="Steps: due date, YYYY-MM-DD.")] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Add an item written with the youth to the latest draft."""
    from harbour.plans import add

    app = get_app()
    key = add(app, actor, ref, section=section, text=text, owner=owner, due=due)
    _committed(app)
    emit({"item": key, "section": section}, as_json, f"Added {key}.")


@plan_cli.command("youth-copy")
def plan_youth_copy(
    ref: Ref,
    title: Annotated[
        str | None,
        typer.Option(help='The youth\'s own title for their copy; "" for the neutral "My plan".'),
    ] = None,
    hotlines: Annotated[
        bool | None,
        typer.Option(
            "--show-hotlines/--hide-hotlines",
            help="Hide hotlines when the youth's phone may be monitored (911 always stays).",
        ),
    ] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """How the youth's copy of the latest draft reads; kept in later versions."""
    from harbour.plans import youth_copy

    app = get_app()
    hide = None if hotlines is None else not hotlines
    result = youth_copy(app, actor, ref, title=title, hide_hotlines=hide)
    _committed(app)
    emit(
        result,
        as_json,
        lambda r: (
            f"Youth copy of version {r['version']}: "
            f"{'their own title' if r['own_title'] else 'the neutral title'}, "
            f"hotlines {'hidden' if r['hide_hotlines'] else 'shown'}."
        ),
    )


@plan_cli.command("done")
def plan_done(ref: Ref, item: Item, actor: As = None, as_json: Json = False) -> None:
    """Record that an emergency protocol step was taken."""
    from harbour.plans import mark_done

    app = get_app()
    key = mark_done(app, actor, ref, item)
    _committed(app)
    emit({"item": key, "done": True}, as_json, f"{key}: done.")


@plan_cli.command("finalize")
def plan_finalize(ref: Ref, actor: As = None, as_json: Json = False) -> None:
    """Freeze the latest draft: the version can no longer change."""
    from harbour.plans import finalize

    app = get_app()
    number = finalize(app, actor, ref)
    _committed(app)
    emit({"version": number, "status": "final"}, as_json, f"Plan version {number} is final.")


@plan_cli.command("diff")
def plan_diff(
    ref: Ref,
    v1: Annotated[int, typer.Argument(help="The earlier version.")],
    v2: Annotated[int, typer.Argument(help="The later version.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="text, html or md: a planning-meeting document.")
    ] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """What changed between two versions: items added, removed and changed, by section."""
    from harbour.cli.domain_text import diff_text
    from harbour.plans import diff

    if fmt is not None:
        from harbour.cli.documents import emit_diff_document

        emit_diff_document(ref, v1, v2, fmt, actor, as_json)
        return
    result = diff(get_app(), actor, ref, v1, v2)
    emit(result.as_json(), as_json, diff_text)
