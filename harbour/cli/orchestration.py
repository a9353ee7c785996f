"""Operator commands for the lifecycle's background work (serve, sweep, deliver) and for moving
a store to another database (db copy).

Only ``serve`` imports Prefect; ``sweep`` and ``deliver`` run the same plain steps the flows run,
in-process, for cron or the demo.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from harbour.cli.admin import db_cli
from harbour.cli.base import As, Json, cli, emit, get_app
from harbour.cli.sensitive import url_option


@cli.command()
def serve(
    prefect_file: Annotated[
        Path | None,
        typer.Option(
            help="Deployments file; default the deployments/prefect.yaml shipped with Harbour."
        ),
    ] = None,
    poll: Annotated[
        float, typer.Option(min=0.1, max=60, help="Seconds between event-publisher polls.")
    ] = 1.0,
    publish_only: Annotated[
        bool, typer.Option("--publish-only", help="Only publish events (workers run the flows).")
    ] = False,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Serve every flow deployment (schedules, event triggers) and publish lifecycle events to
    the Prefect server at PREFECT_API_URL, until interrupted."""
    from harbour.errors import ConfigError

    if not os.environ.get("PREFECT_API_URL"):
        raise ConfigError("prefect_api_url", "set PREFECT_API_URL to a running Prefect server")
    app = get_app(keys="write")  # not left publishing and relaying in a loop of warnings
    _audit_operator(app, actor, "orchestration.serve")
    if app.settings.orchestration != "prefect":
        typer.echo("note: set HARBOUR_ORCHESTRATION=prefect for CLI commands", err=True)
    from flows import serve as serving

    if publish_only:
        emit({"publishing": True}, as_json, "Publishing Harbour's lifecycle events.")
        serving.publish_only(app, poll)
        return
    path = prefect_file or serving.PREFECT_FILE
    serving.deployment_specs(path)  # a file it cannot use is refused before anything is served
    emit({"serving": str(path)}, as_json, "Serving Harbour's flows.")
    serving.serve(app, path, poll)


@cli.command()
def sweep(
    at: Annotated[
        str | None, typer.Option(help="Sweep as of this aware ISO time; default now.")
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(min=1, max=10_000, help="Rows per transaction; default each phase's own."),
    ] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """One reassessment sweep now (for cron, or without a Prefect server), then deliver.

    A phase that fails does not stop the others: the counts are shown, what was enqueued is
    delivered, and the command then fails naming the phases."""
    from harbour.orchestration.pipeline import deliver
    from harbour.orchestration.sweep import SweepIncomplete
    from harbour.orchestration.sweep import sweep as do_sweep

    app = get_app(keys="write")
    _audit_operator(app, actor, "orchestration.sweep")
    incomplete: SweepIncomplete | None = None
    try:
        report = do_sweep(app, _moment(at), batch).as_json()
    except SweepIncomplete as exc:
        incomplete, report = exc, exc.report.as_json()
    report["delivered"] = deliver(app)
    emit(report, as_json, _counts)
    if incomplete is not None:
        raise incomplete


@cli.command()
def deliver(
    lane: Annotated[str | None, typer.Option(help="urgent or normal; default both.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Relay the outbox once: escalate unacknowledged alerts that are due, then send what is
    pending, urgent lane first."""
    from harbour.domain.vocab import Lane
    from harbour.errors import InvalidInput
    from harbour.notify.relay import deliver as relay

    if lane is not None and lane not in set(Lane):
        raise InvalidInput([("--lane", "must be urgent or normal")])
    app = get_app(keys="write")
    _audit_operator(app, actor, "orchestration.deliver")
    done = relay(app, lane=Lane(lane) if lane else None, limit=limit or 500)
    emit({"escalated": done.escalated, "delivered": done.sent}, as_json, _counts)


def _moment(at: str | None) -> datetime | None:
    from harbour.errors import InvalidInput

    if at is None:
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput([("--at", "must be an ISO time with a UTC offset")])
    if not 1970 <= moment.year <= 2200:  # the sweep adds weeks and years to it
        raise InvalidInput([("--at", "must be a time from 1970 to 2200")])
    return moment


def _audit_operator(app: Any, handle: str | None, action: str) -> None:
    """With ``--as``, the run is recorded against that supervisor or admin; cron runs without."""
    if handle is None:
        return
    from harbour.access import audit, authorize, resolve_actor

    def work(uow: Any) -> None:
        actor = resolve_actor(uow, handle)
        authorize(uow, actor, "notify.manage")
        audit(uow, actor, action)

    app.run(work)


def _counts(report: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in report.items())


@db_cli.command("copy")
def db_copy(
    to: Annotated[str, url_option("The target database's URL.", "HARBOUR_COPY_TO")],
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Copy the whole store into another, empty database (e.g. SQLite to PostgreSQL); then
    point HARBOUR_DATABASE_URL at it. It copies the store as it was when it started: stop the
    CLI users, `harbour web` and `harbour serve` first. Operators
    only; recorded in the store's audit trail (the copy holds the record of its start). A
    target it cannot use is refused untouched, by its code, and the refusal recorded:
    target_unavailable, target_not_empty, target_other_version, target_refused."""
    from functools import partial
    from urllib.parse import urlsplit

    from harbour.access import audit_store, operator, refuse_in_store_trail
    from harbour.db.copy import copy_store, prepare_target
    from harbour.db.engine import make_engine
    from harbour.errors import HarbourError, InvalidInput
    from harbour.settings import check_database_url

    try:
        check_database_url(to)
    except ValueError as exc:
        raise InvalidInput([("--to", str(exc))]) from None
    app = get_app()
    who = app.run(lambda uow: operator(uow, actor, "store.copy"))
    scheme = urlsplit(to).scheme
    target = make_engine(to)
    try:
        try:
            _reach(target)
            prepare_target(target)  # refused before its start is recorded
            app.run(lambda uow: audit_store(uow, who, "store.copy", to=scheme))
            copied = copy_store(app.engine, target)
        except HarbourError as error:  # recorded by its code, and raised again
            app.run(
                partial(
                    refuse_in_store_trail, actor=who, action="store.copy", error=error, to=scheme
                )
            )
    finally:
        target.dispose()
    rows = sum(copied.values())
    app.run(lambda uow: audit_store(uow, who, "store.copy.done", rows=rows))
    emit(copied, as_json, lambda rows: f"Copied {sum(rows.values())} rows.")


def _reach(target: Any) -> None:
    """The target opens, or the operator is told that it is the target that does not (a folder
    that is not there, a server not listening, a database not created), not an internal error."""
    from sqlalchemy.exc import DBAPIError

    from harbour.errors import HarbourError

    try:
        with target.connect():
            pass
    except DBAPIError as exc:
        reason = f"{type(exc.orig).__name__}: the target database cannot be reached or opened"
        raise HarbourError("target_unavailable", reason) from None
