"""Operator and admin commands: db, agency, staff, keys."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from harbour.cli.app import As, Json, cli, emit, get_app

db_cli = typer.Typer(help="The database schema.", no_args_is_help=True)
agency_cli = typer.Typer(help="Agencies (admins).", no_args_is_help=True)
staff_cli = typer.Typer(help="Staff accounts (admins).", no_args_is_help=True)
keys_cli = typer.Typer(help="Encryption keys.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(agency_cli, name="agency")
cli.add_typer(staff_cli, name="staff")
cli.add_typer(keys_cli, name="keys")


@db_cli.command("upgrade")
def db_upgrade(as_json: Json = False) -> None:
    """Apply schema migrations up to the newest."""
    from harbour.db import migrate

    app = get_app()
    app.settings.home.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(app.engine)
    revision = migrate.current_revision(app.engine)
    emit({"revision": revision}, as_json, f"Database at revision {revision}.")


@agency_cli.command("add")
def agency_add(
    name: str,
    timezone: Annotated[
        str | None, typer.Option(help="IANA zone; default HARBOUR_TIMEZONE.")
    ] = None,
    address: Annotated[str | None, typer.Option(help="Kept encrypted.")] = None,
    phone: Annotated[str | None, typer.Option(help="Kept encrypted.")] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Add an agency."""
    from harbour.staffing import add_agency

    fields = {"name": name, "address": address, "phone": phone}
    if timezone:
        fields["timezone"] = timezone
    agency = add_agency(get_app(), actor, **fields)
    emit(
        {"agency": agency.name, "timezone": agency.timezone},
        as_json,
        f"Agency {agency.name} added.",
    )


@staff_cli.command("add")
def staff_add(
    handle: str,
    agency: Annotated[str, typer.Option(help="The agency's name.")],
    role: Annotated[str, typer.Option(help="coordinator|caseworker|supervisor|admin")],
    on_call: Annotated[bool, typer.Option("--on-call", help="Receives imminent alerts.")] = False,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Add a staff account."""
    from harbour.staffing import add_staff

    staff = add_staff(get_app(), actor, handle=handle, agency=agency, role=role, on_call=on_call)
    emit(
        {"handle": staff.handle, "role": staff.role},
        as_json,
        f"{staff.handle} added as {staff.role}.",
    )


@staff_cli.command("list")
def staff_list(actor: As = None, as_json: Json = False) -> None:
    """Every staff account, with agency, role, status and open caseload."""
    from harbour.staffing import list_staff

    rows = [
        {
            "handle": s.handle,
            "agency": agency,
            "role": s.role,
            "active": s.active,
            "on_call": s.on_call,
            "open_cases": count,
        }
        for s, agency, count in list_staff(get_app(), actor)
    ]
    emit(
        rows,
        as_json,
        lambda rs: "\n".join(
            f"{r['handle']:<16} {r['agency']:<16} {r['role']:<12} "
            f"{'active' if r['active'] else 'inactive':<9} {r['open_cases']:>4} cases"
            f"{'  on call' if r['on_call'] else ''}"
            for r in rs
        ),
    )


@staff_cli.command("deactivate")
def staff_deactivate(handle: str, actor: As = None, as_json: Json = False) -> None:
    """Deactivate a staff account (kept for the audit trail)."""
    from harbour.staffing import deactivate_staff

    staff = deactivate_staff(get_app(), actor, handle)
    emit({"handle": staff.handle, "active": False}, as_json, f"{staff.handle} deactivated.")


@keys_cli.command("rotate")
def keys_rotate(actor: As = None, as_json: Json = False) -> None:
    """Add a key and re-encrypt every sealed value to it; run again to resume after a kill."""
    from harbour.access import audit, authorize, resolve_actor
    from harbour.keys import rotate

    app = get_app()

    def allowed(uow: Any) -> Any:
        who = resolve_actor(uow, actor)
        authorize(uow, who, "keys.rotate")
        audit(uow, who, "keys.rotate.start")
        return who

    who = app.run(allowed)
    version, count = rotate(app, _Progress() if not as_json else lambda done, total: None)
    app.run(lambda uow: audit(uow, who, "keys.rotate.done", primary=version, reencrypted=count))
    emit(
        {"primary_key": version, "reencrypted": count},
        as_json,
        f"Primary key is now version {version}; {count} values re-encrypted.",
    )


class _Progress:
    """A progress line on stderr, at most once a second, and when the work is done."""

    def __init__(self) -> None:
        self.shown = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.shown < 1.0:
            return
        self.shown = now
        typer.echo(f"re-encrypting: {done}/{total} values", err=True)
