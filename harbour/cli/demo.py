"""`harbour demo`: the product on this machine with fictional data (`make demo`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from harbour.cli.base import Json, cli, emit


@cli.command()
def demo(
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete the demo's store and output folder first.")
    ] = False,
    home: Annotated[
        Path, typer.Option(help="Demo folder: store, routes file, Prefect server home.")
    ] = Path("var/demo"),
    output: Annotated[
        Path, typer.Option(help="Where plans, messages and the summary are written.")
    ] = Path("demo-output"),
    seed: Annotated[int, typer.Option(help="Same seed, same case references and plans.")] = 2026,
    orchestration: Annotated[
        str,
        typer.Option(help="prefect: flow runs on a temporary local server; inline: no Prefect."),
    ] = "prefect",
    weeks: Annotated[
        int | None, typer.Option(min=0, max=27, help="Simulate fewer weeks (default 27).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Walk five fictional youth through 27 simulated weeks of Harbour: referrals, assessments,
    plans, alerts, reminders and escalations, every notification really delivered on 127.0.0.1."""
    from harbour.demo.run import Options, run_demo
    from harbour.demo.story import DAYS
    from harbour.demo.summary import as_text

    started = time.monotonic()
    days = DAYS if weeks is None else weeks * 7
    options = Options(home, output, seed, orchestration, reset, days)
    say = (lambda line: None) if as_json else (lambda line: typer.echo(f"demo: {line}"))
    summary = run_demo(options, say)
    seconds = time.monotonic() - started
    emit(
        summary,
        as_json,
        lambda s: f"\n{as_text(s)}\nDone in {seconds:.0f} s; everything is in {output.resolve()}",
    )
