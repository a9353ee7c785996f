"""`harbour demo`: the product on this machine with fictional data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harbour.cli.app import Json, cli, emit


@cli.command()
def demo(
    reset: Annotated[bool, typer.Option("--reset", help="Start from an empty demo store.")] = False,
    home: Annotated[Path, typer.Option(help="Demo store folder.")] = Path("var/demo"),
    as_json: Json = False,
) -> None:
    """Walk a fictional caseload through Harbour on this machine."""
    from harbour.demo.run import run_demo

    say = (lambda line: None) if as_json else (lambda line: typer.echo(f"demo: {line}"))
    summary = run_demo(home, reset, say)
    emit(summary, as_json, lambda s: f"demo: done; store in {s['home']}, {len(s['cases'])} case(s)")
