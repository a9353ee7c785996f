"""Commands for notifications: notify check/test, outbox (and retry), alerts, ack.

Delivery and the reminder sweep run through ``harbour deliver`` and ``harbour sweep``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from harbour.cli.base import As, Json, cli, emit, get_app

if TYPE_CHECKING:
    from harbour.errors import HarbourError
    from harbour.notify.alerts import AlertRow
    from harbour.notify.console import OutboxView, RoutesCheck

notify_cli = typer.Typer(help="Notification routes: check them, send a test.", no_args_is_help=True)
cli.add_typer(notify_cli, name="notify")
outbox_cli = typer.Typer(help="The notification outbox: counts and rows, no content.")
cli.add_typer(outbox_cli, name="outbox")


@notify_cli.command("check")
def notify_check(actor: As = None, as_json: Json = False) -> None:
    """Check the routes: the staff records' (their email and chat address through the agency's
    settings) and the Apprise routes file's (shared routes, and overrides of a person's); list
    staff and roles with no route, agencies with nobody to page for an imminent threat, open
    alerts that reached nobody (nobody left to page, or every send failed so far), routes
    that keep failing while another route of the same person gets their notifications, and
    cases whose background work (a lifecycle event's steps) keeps failing. Fails naming each
    problem found by its code: routes_problem, nobody_to_page and route_failing (exit 2, the
    configuration), events_failing (exit 1 when it is the only one)."""
    from harbour.notify.console import check

    report = check(get_app(), actor)
    emit(report.as_json(), as_json, lambda _: _check_text(report))
    found = _problems(report)
    if found:
        from harbour.errors import Problems

        raise Problems(found)


def _problems(report: RoutesCheck) -> list[HarbourError]:
    """Each kind of problem the check found, under its own code: the configuration's (exit 2)
    and a failure's (exit 1: background work that keeps failing)."""
    from harbour.errors import ConfigError, HarbourError

    found: list[HarbourError] = []
    if report.problems:
        found.append(ConfigError("routes_problem", "the routes have problems (listed above)"))
    if report.nobody_to_page or report.alerts_paging_nobody:
        found.append(ConfigError("nobody_to_page", "an alert reaches nobody (listed above)"))
    if report.partly_delivered:
        found.append(ConfigError("route_failing", "a route keeps failing (listed above)"))
    if report.events_failing:
        found.append(HarbourError("events_failing", "background work keeps failing (listed above)"))
    return found


def _check_text(report: RoutesCheck) -> str:
    from harbour.notify.routes import explained

    lines = [f"{len(report.routes)} route(s)."]
    lines += [
        f"  {r.channel:<6} {','.join(r.tags)}  {r.service}  ({r.source.replace('_', ' ')})"
        for r in report.routes
    ]
    lines += [f"problem: {explained(p)}" for p in report.problems]
    if report.staff_without_route:
        lines.append("staff without a route: " + ", ".join(report.staff_without_route))
    if report.roles_without_route:
        lines.append("roles without a route: " + ", ".join(report.roles_without_route))
    if report.nobody_to_page:
        lines.append(
            "nobody to page for an imminent threat (no on-call staff, supervisor or admin) in: "
            + ", ".join(report.nobody_to_page)
        )
    lines += [
        f"alert {a.alert} ({a.kind}, {a.agency}) "
        + (
            "found nobody to page"
            if a.why == "nobody_left"
            else "reached nobody: every send failed"
        )
        for a in report.alerts_paging_nobody
    ]
    lines += [
        f"{p.count} notification(s) to {p.recipient} ({p.agency or 'no agency'}) reached another "
        f"route but not their {p.channel} route: {p.error}"
        for p in report.partly_delivered
    ]
    lines += [
        f"case {e.case_ref} ({e.agency}): {e.event} keeps failing: {e.error} "
        f"({e.tries} tries since {e.since:%Y-%m-%d %H:%M} UTC; tried again by every sweep)"
        for e in report.events_failing
    ]
    return "\n".join(lines)


@notify_cli.command("test")
def notify_test(
    to: Annotated[str, typer.Option("--to", help="A routing tag: handle, or role/agency.")],
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Send a harmless test message to every route of a tag."""
    from harbour.notify.console import send_test

    results = send_test(get_app(), actor, to)
    emit(
        [r.as_json() for r in results],
        as_json,
        lambda _: "\n".join(
            f"{r.channel:<6} {'ok' if r.ok else r.error:<14} {r.service}" for r in results
        ),
    )
    if not all(r.ok for r in results):
        from harbour.errors import DeliveryError

        raise DeliveryError("test_failed", "a route did not accept the test message")


@outbox_cli.callback(invoke_without_command=True)
def outbox_show(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="pending, sent, dead, cancelled or bundled.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many rows to list.")] = 20,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Pending, sent, dead-lettered and cancelled counts and the latest rows (no content)."""
    if ctx.invoked_subcommand is not None:
        return
    from harbour.notify.console import outbox

    view = outbox(get_app(), actor, status, limit)
    emit(view.as_json(), as_json, lambda _: _outbox_text(view))


def _outbox_text(view: OutboxView) -> str:
    c = view.counts
    lines = [
        f"pending {c['pending']}, sent {c['sent']}, dead {c['dead']}, cancelled {c['cancelled']}"
        f", bundled {c['bundled']} (pages an escalation digest carries)"
    ]
    for r in view.rows:
        lines.append(
            f"{r.id}  {r.status:<7} {r.lane:<6} {r.kind:<20} "
            f"{r.recipient}/{r.channel}  tries {r.attempts}  {r.last_error or ''}"
        )
    return "\n".join(lines)


@outbox_cli.command("retry")
def outbox_retry(
    row_id: Annotated[str, typer.Argument(metavar="ID")], actor: As = None, as_json: Json = False
) -> None:
    """Requeue a dead-lettered row: due now, attempts from zero."""
    from harbour.notify.console import retry

    row = retry(get_app(), actor, row_id)
    emit(row.as_json(), as_json, f"{row.id} requeued.")


@cli.command("alerts")
def alerts(
    show_all: Annotated[
        bool, typer.Option("--all", help="Acknowledged alerts too, not only open ones.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many to list.")] = 50,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Alerts waiting for someone to take them (imminent threats, escalations), newest first."""
    from harbour.notify.alerts import list_alerts

    rows = list_alerts(get_app(), actor, include_acknowledged=show_all, limit=limit)
    emit([r.as_json() for r in rows], as_json, lambda _: _alerts_text(rows))


def _alerts_text(rows: list[AlertRow]) -> str:
    from harbour.clock import local_time

    if not rows:
        return "No open alerts."
    lines = [f"{'alert':<13} {'case':<13} {'kind':<19} {'tier':<4} {'opened':<21} state"]
    for r in rows:
        state = (
            f"acknowledged by {r.acknowledged_by}"
            if r.acknowledged_at
            else f"escalates {local_time(r.next_escalation_at, r.zone)}"
            if r.next_escalation_at
            else "open (top of the ladder)"
        )
        lines.append(
            f"{r.id[:12]:<13} {(r.case_reference or '-')[:12]:<13} {r.kind:<19} {r.tier:<4} "
            f"{local_time(r.opened_at, r.zone):<21} {state}"
        )
    return "\n".join(lines)


@cli.command("ack")
def ack(alert_id: str, actor: As = None, as_json: Json = False) -> None:
    """Acknowledge an alert: records who and when, and stops its escalation."""
    from harbour.clock import local_time
    from harbour.notify.alerts import acknowledge

    alert = acknowledge(get_app(), actor, alert_id)
    shown = {
        "alert": alert.id,
        "kind": alert.kind,
        "tier": alert.tier,
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": alert.acknowledged_at,
        "already_acknowledged": alert.already_acknowledged,
    }
    human = None
    if not as_json:  # in the agency's local time, with its zone
        when = local_time(alert.acknowledged_at, alert.zone)
        said = "was already acknowledged" if alert.already_acknowledged else "acknowledged"
        human = f"Alert {alert.id[:12]} {said} by {alert.acknowledged_by} at {when}."
    emit(shown, as_json, human)
