"""`harbour demo`: the product on this machine with fictional data (`make demo`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from harbour.cli.base import Json, cli, emit

if TYPE_CHECKING:
    from harbour.demo.run import Options


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
    serve: Annotated[
        bool,
        typer.Option(
            "--serve", help="Afterwards, serve the web console on the demo's store (Ctrl-C stops)."
        ),
    ] = False,
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
    if serve:
        _serve_console(options)


def _serve_console(options: Options) -> None:
    """Enrol the demo's staff with fresh passwords and TOTP secrets, print them, and serve."""
    from harbour.demo.accounts import console_app, enrol_demo_staff
    from harbour.web.server import serve

    app = console_app(options)
    accounts = enrol_demo_staff(app)
    settings = app.settings
    typer.echo(
        f"\nThe web console: http://{settings.web_host}:{settings.web_port}/ (fictional accounts):"
    )
    for account in accounts:
        typer.echo(
            f"  {account.handle:<12} {account.role:<11} password {account.password}  "
            f"TOTP secret {account.totp_secret}"
        )
    typer.echo(
        'Add a secret to a code app (or run: python -c "import pyotp; '
        "print(pyotp.TOTP('SECRET').now())\"); wait for the next code before signing in."
    )
    serve(app)
