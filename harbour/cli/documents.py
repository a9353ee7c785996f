"""``harbour plan render``: a plan version as a document for staff, the youth or the family."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harbour.cli.app import As, Json, emit, get_app
from harbour.cli.domain import Ref, plan_cli


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
    from harbour.documents.service import plan_document

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
    from harbour.documents.service import format_diff
    from harbour.plans import diff

    check(fmt, DIFF_FORMATS, "--format")  # before anything is read
    app = get_app()
    result = diff(app, actor, ref, v1, v2)
    document = format_diff(result, fmt, settings=app.settings)
    emit({**result.as_json(), "document": document}, as_json, lambda _: document.rstrip("\n"))
