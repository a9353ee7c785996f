"""Commands for a case's safety plan: plan show, versions, accept, reject, add, edit, youth-copy, done,
undo, finalize, diff and render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from harbour.cli.base import As, IdempotencyKey, Json, Ref, cli, committed, emit, get_app
from harbour.cli.sensitive import sensitive_option

plan_cli = typer.Typer(help="A case's safety plan versions.", no_args_is_help=True)
cli.add_typer(plan_cli, name="plan")

Item = Annotated[str, typer.Argument(help="The item's key or its number in `plan show`.")]


@plan_cli.command("show")
def plan_show(
    ref: Ref,
    version: Annotated[int | None, typer.Option(help="A version number; default latest.")] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """The plan, by section, with each item's key, state, owner and due date."""
    from harbour.cli.views import plan_text
    from harbour.plans.actions import show
    from harbour.plans.snapshot import as_json as snapshot_json

    view = show(get_app(), actor, ref, version)
    emit(snapshot_json(view) if as_json else view, as_json, plan_text)


def _decide(ref: str, item: str, state: str, actor: str | None, as_json: bool) -> None:
    from harbour.domain.vocab import ItemState
    from harbour.plans.actions import decide

    app = get_app()
    key = decide(app, actor, ref, item, ItemState(state))
    committed(app)
    emit({"item": key, "state": state}, as_json, f"{key}: {state}.")


@plan_cli.command("accept")
def plan_accept(ref: Ref, item: Item, actor: As = None, as_json: Json = False) -> None:
    """Accept a suggested item of the latest draft. A step whose due date has gone by is
    refused until `plan edit --due` gives it a new one (or `--no-due` none)."""
    _decide(ref, item, "accepted", actor, as_json)


@plan_cli.command("reject")
def plan_reject(ref: Ref, item: Item, actor: As = None, as_json: Json = False) -> None:
    """Reject a suggested item of the latest draft (or withdraw one staff added)."""
    _decide(ref, item, "rejected", actor, as_json)


@plan_cli.command("add")
def plan_add(
    ref: Ref,
    section: Annotated[str, typer.Option("--section", help="risks, strategies or steps.")],
    text: Annotated[str, sensitive_option("The wording (kept encrypted).")],
    owner: Annotated[
        str | None, typer.Option(help="Steps: youth, family, caseworker, agency.")
    ] = None,
    due: Annotated[str | None, typer.Option(help="Steps: due date, YYYY-MM-DD.")] = None,
    idempotency_key: IdempotencyKey = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Add an item written with the youth to the latest draft."""
    from harbour.plans.actions import add

    app = get_app()
    key = add(
        app,
        actor,
        ref,
        idempotency_key=idempotency_key,
        section=section,
        text=text,
        owner=owner,
        due=due,
    )
    committed(app)
    what = {"risks": "A risk", "strategies": "A strategy", "steps": "A step"}[
        section.strip().lower()
    ]
    said = f"{what} written with the youth is in the draft plan, as item {key} (harbour plan show)."
    emit({"item": key, "section": section}, as_json, said)


@plan_cli.command("edit")
def plan_edit(
    ref: Ref,
    item: Item,
    owner: Annotated[
        str | None,
        typer.Option(help="youth, family, caseworker or agency; left out: unchanged."),
    ] = None,
    due: Annotated[
        str | None, typer.Option(help="Due date, YYYY-MM-DD; left out: unchanged.")
    ] = None,
    no_due: Annotated[bool, typer.Option("--no-due", help="Take the due date off.")] = False,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Change who does a step of the latest draft, or by when (what is left out stays)."""
    from harbour.errors import InvalidInput
    from harbour.plans.actions import edit_step

    if due is not None and no_due:
        raise InvalidInput([("--due", "a due date, or --no-due: not both")])
    app = get_app()
    step = edit_step(
        app, actor, ref, item, owner=owner, due=due, keep_due=due is None and not no_due
    )
    committed(app)
    shown = {
        "item": step.key,
        "owner": step.owner,
        "due": step.due.isoformat() if step.due else None,
    }
    emit(shown, as_json, f"{step.key}: {step.owner or '-'}, due {shown['due'] or '-'}.")


@plan_cli.command("youth-copy")
def plan_youth_copy(
    ref: Ref,
    title: Annotated[
        str | None,
        sensitive_option('The youth\'s own title for their copy; "" for the neutral "My plan".'),
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
    from harbour.plans.actions import youth_copy

    app = get_app()
    hide = None if hotlines is None else not hotlines
    result = youth_copy(app, actor, ref, title=title, hide_hotlines=hide)
    committed(app)
    emit(
        result.as_json(),
        as_json,
        lambda r: (
            f"Youth copy of version {r['version']}: "
            f"{'their own title' if r['own_title'] else 'the neutral title'}, "
            f"hotlines {'hidden' if r['hide_hotlines'] else 'shown'}."
        ),
    )


StepVersion = Annotated[
    int | None,
    typer.Option(
        "--version",
        help="The version the step is on (ITEM numbered as there); default the latest, or for "
        "an emergency step's key the newest version holding it. An earlier version: for an "
        "emergency step only.",
    ),
]


@plan_cli.command("done")
def plan_done(
    ref: Ref, item: Item, version: StepVersion = None, actor: As = None, as_json: Json = False
) -> None:
    """Record that a step of the plan was done (any step; emergency steps too), by you, now.
    Progress is kept apart from the version: a final version can be worked through, and an
    emergency step stays recordable on its version after a newer one is drafted."""
    _mark(ref, item, True, version, actor, as_json)


@plan_cli.command("undo")
def plan_undo(
    ref: Ref, item: Item, version: StepVersion = None, actor: As = None, as_json: Json = False
) -> None:
    """A step marked done by mistake: open again (both records are kept)."""
    _mark(ref, item, False, version, actor, as_json)


def _mark(
    ref: str, item: str, done: bool, version: int | None, actor: str | None, as_json: bool
) -> None:
    from harbour.plans.actions import mark_done

    app = get_app()
    marked = mark_done(app, actor, ref, item, done=done, version=version)
    committed(app)
    said = f"{marked.key}: {'done' if done else 'not done'}"
    said += "." if marked.latest else f", on plan version {marked.version}."
    emit(marked.as_json(done), as_json, said)


@plan_cli.command("finalize")
def plan_finalize(
    ref: Ref,
    accept_rest: Annotated[
        bool, typer.Option("--accept-rest", help="Accept every suggestion still undecided.")
    ] = False,
    leave_out: Annotated[
        list[str] | None,
        typer.Option("--leave-out", help="Leave this undecided suggestion out (repeatable)."),
    ] = None,
    leave_out_rest: Annotated[
        bool, typer.Option("--leave-out-rest", help="Leave out every suggestion still undecided.")
    ] = False,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Freeze the latest draft: the version can no longer change. Suggestions still undecided
    are never dropped silently: finalizing is refused with their list unless you accept the rest
    or leave them out by name (or all); the emergency protocol cannot be left out. A step
    --accept-rest would accept past its due date is refused, as `plan accept` refuses it."""
    from harbour.plans.actions import finalize
    from harbour.plans.store import Undecided

    app = get_app()
    choice = Undecided(accept_rest, tuple(leave_out or ()), leave_out_rest)
    done = finalize(app, actor, ref, choice)
    committed(app)
    data = {
        "version": done.version,
        "status": "final",
        "accepted": list(done.accepted),
        "left_out": list(done.left_out),
    }
    emit(data, as_json, finalized_text)


def finalized_text(data: dict[str, Any]) -> str:
    lines = [f"Plan version {data['version']} is final."]
    if data["accepted"]:
        lines.append(f"Accepted {len(data['accepted'])} undecided: {', '.join(data['accepted'])}")
    if data["left_out"]:
        lines.append(
            f"Left out {len(data['left_out'])} (suggested again next version): "
            + ", ".join(data["left_out"])
        )
    return "\n".join(lines)


@plan_cli.command("versions")
def plan_versions(ref: Ref, actor: As = None, as_json: Json = False) -> None:
    """Every version of the case's plan: number, point, status, risk, when and by whom
    (finalised, or drafted for a version never finalised)."""
    from harbour.plans.actions import versions

    lines = versions(get_app(), actor, ref)
    emit([line.as_json() for line in lines], as_json, versions_text)


def versions_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "The case has no plan yet."
    lines = [f"{'version':<8} {'point':<20} {'status':<11} {'risk':<9} {'when':<22} by"]
    lines += [
        f"{r['number']:<8} {r['point'] or '-':<20} {r['status']:<11} {r['risk_level'] or '-':<9} "
        f"{r['at_local']:<22} {r['by'] or '-'}"
        for r in rows
    ]
    return "\n".join(lines)


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
    from harbour.cli.views import diff_text
    from harbour.plans.actions import diff

    if fmt is not None:
        emit_diff_document(ref, v1, v2, fmt, actor, as_json)
        return
    result = diff(get_app(), actor, ref, v1, v2)
    emit(result.as_json(), as_json, diff_text)


@plan_cli.command("render")
def plan_render(
    ref: Ref,
    audience: Annotated[
        str, typer.Option("--audience", help="staff (everything), youth (discreet) or family.")
    ],
    fmt: Annotated[str, typer.Option("--format", help="html, text or md.")] = "html",
    version: Annotated[int | None, typer.Option(help="A version number; default latest.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write here (mode 0600), not to stdout.")
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the document's own words.")
    ] = "en",
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Render a plan version; the same version always renders to the same bytes."""
    from harbour.documents.output import write_private
    from harbour.plans.rendering import plan_document

    number, document = plan_document(
        get_app(), actor, ref, audience=audience, fmt=fmt, version=version, lang=lang
    )
    summary = {"audience": audience, "format": fmt, "version": number}
    if output is None:
        emit({**summary, "document": document}, as_json, lambda _: document.rstrip("\n"))
        return
    write_private(output, document)
    emit({**summary, "output": str(output)}, as_json, f"Wrote {output} (version {number}).")


def emit_diff_document(
    ref: str, v1: int, v2: int, fmt: str, actor: str | None, as_json: bool
) -> None:
    """``plan diff --format``: the diff rendered for a planning meeting (staff only)."""
    from harbour.documents.render import DIFF_FORMATS, check
    from harbour.plans.actions import diff
    from harbour.plans.rendering import format_diff

    check(fmt, DIFF_FORMATS, "--format")  # before anything is read
    app = get_app()
    result = diff(app, actor, ref, v1, v2)
    document = format_diff(result, fmt, settings=app.settings)
    emit({**result.as_json(), "document": document}, as_json, lambda _: document.rstrip("\n"))
