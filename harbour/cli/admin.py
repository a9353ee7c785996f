"""Operator and admin commands: db, agency, staff, keys."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from harbour.cli.base import As, Json, cli, committed, emit, get_app, say_home_narrowed
from harbour.cli.sensitive import sensitive_option

db_cli = typer.Typer(help="The database schema.", no_args_is_help=True)
agency_cli = typer.Typer(help="Agencies (operators).", no_args_is_help=True)
staff_cli = typer.Typer(
    help="Staff accounts (admins; listing also coordinators and supervisors).", no_args_is_help=True
)
keys_cli = typer.Typer(help="Encryption keys (operators).", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(agency_cli, name="agency")
cli.add_typer(staff_cli, name="staff")
cli.add_typer(keys_cli, name="keys")


@db_cli.command("upgrade")
def db_upgrade(as_json: Json = False) -> None:
    """Apply schema migrations up to the newest."""
    from harbour.admin.init import private_home
    from harbour.cases import duplicates
    from harbour.db import migrate

    app = get_app(creating=True)
    say_home_narrowed(app, private_home(app.settings))
    migrate.upgrade(app.engine)
    revision = migrate.current_revision(app.engine)
    rematched = duplicates.rematch(app)  # names this Harbour matches differently
    shown = f"Database at revision {revision}."
    if rematched:
        shown += f" Recomputed {rematched} youth indexes for the duplicate check."
    emit({"revision": revision, "youth_indexes_recomputed": rematched}, as_json, shown)


@agency_cli.command("add")
def agency_add(
    name: str,
    timezone: Annotated[
        str | None, typer.Option(help="IANA zone; default HARBOUR_TIMEZONE.")
    ] = None,
    address: Annotated[str | None, sensitive_option("Kept encrypted.")] = None,
    phone: Annotated[str | None, sensitive_option("Kept encrypted.")] = None,
    admin: Annotated[
        str | None,
        typer.Option(
            help="Its first admin's handle: admins manage their own agency's staff. Their "
            "one-time link to set up sign-in to the web console is printed to hand over."
        ),
    ] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Add an agency (operators), and with --admin the admin who will add its staff (and their
    enrolment link)."""
    from harbour.admin.staffing import add_agency

    fields = {"name": name, "address": address, "phone": phone, "admin": admin}
    if timezone:
        fields["timezone"] = timezone
    agency = add_agency(get_app(), actor, enrol=True, **fields)
    shown: dict[str, Any] = {"agency": agency.name, "timezone": agency.timezone, "admin": admin}
    said = f"Agency {agency.name} added" + (f", with admin {admin}." if admin else ".")
    if agency.enrolment is not None:
        shown |= _link_json(agency.enrolment)
        said += f"\n{_link_text(agency.enrolment)}"
    emit(shown, as_json, said)


@agency_cli.command("list")
def agency_list(actor: As = None, as_json: Json = False) -> None:
    """The agencies (operators; an agency's admin sees their own): time zone, active staff and
    admins, and whether mail and chat are set (scheme and host only)."""
    from harbour.admin.staffing import list_agencies

    _, rows = list_agencies(get_app(), actor)
    emit([r.as_json() for r in rows], as_json, _agencies_table)


def _agencies_table(rows: list[dict[str, Any]]) -> str:
    header = f"{'agency':<16} {'timezone':<20} {'staff':>5} {'admins':>6}  mail / chat"
    lines = [
        f"{r['name']:<16} {r['timezone']:<20} {r['staff']:>5} {r['admins']:>6}  "
        f"{r['mail'] or 'not set'} / {r['chat'] or 'not set'}"
        for r in rows
    ]
    return "\n".join([header, *lines])


@agency_cli.command("delivery")
def agency_delivery(
    mail: Annotated[
        str | None,
        sensitive_option(
            "An Apprise mailto:// or mailtos:// URL: the server, login and from= (each person's "
            "address is added as to=)."
        ),
    ] = None,
    chat: Annotated[
        str | None,
        sensitive_option(
            "An Apprise URL of the chat service with {address} where each person's chat address goes."
        ),
    ] = None,
    clear: Annotated[
        list[str] | None, typer.Option(help="mail|chat: remove it (repeatable).")
    ] = None,
    agency: Annotated[
        str | None, typer.Option(help="Another agency's (operators); default your own.")
    ] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Your agency's mail and chat settings (kept encrypted): with a staff record's email or
    chat address, they make that person's route."""
    from harbour.admin.contacts import set_delivery

    fields = {"mail": mail, "chat": chat}
    done = set_delivery(get_app(), actor, fields, clear or [], agency=agency)
    said = f"{done.agency}: mail {done.mail or 'not set'}; chat {done.chat or 'not set'}."
    emit(done.as_json(), as_json, said + (f"\n{done.warning}" if done.warning else ""))


@staff_cli.command("add")
def staff_add(
    handle: str,
    agency: Annotated[str, typer.Option(help="The agency's name.")],
    role: Annotated[str, typer.Option(help="coordinator|caseworker|supervisor|admin")],
    on_call: Annotated[bool, typer.Option("--on-call", help="Receives imminent alerts.")] = False,
    operator: Annotated[
        bool,
        typer.Option("--operator", help="An admin who is also an operator (by operators only)."),
    ] = False,
    email: Annotated[str | None, EMAIL] = None,
    chat: Annotated[str | None, CHAT] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Add a staff account of your agency, and its one-time link to set up sign-in to the web
    console (sent to the person's own route if they have one, otherwise printed here to hand
    over). With --email or --chat, the agency's mail or chat settings (`agency delivery`) give
    them a route."""
    from harbour.admin.staffing import add_staff

    app = get_app()
    staff = add_staff(
        app,
        actor,
        enrol=True,
        handle=handle,
        agency=agency,
        role=role,
        on_call=on_call,
        operator=operator,
        email=email,
        chat=chat,
    )
    committed(app)  # the link, to their own route
    assert staff.enrolment is not None
    emit(
        {"handle": staff.handle, "role": staff.role, **_link_json(staff.enrolment)},
        as_json,
        f"{staff.handle} added as {staff.role}.\n{_link_text(staff.enrolment)}",
    )


@staff_cli.command("operator")
def staff_operator(
    handle: str,
    revoke: Annotated[bool, typer.Option("--revoke", help="Take it back.")] = False,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Name an admin (of any agency) one of the installation's operators, who copy the store,
    rotate keys, add agencies and read the store's audit trail (operators only)."""
    from harbour.admin.staffing import set_operator

    done = set_operator(get_app(), actor, handle, not revoke)
    emit(
        {"handle": done.handle, "operator": done.operator},
        as_json,
        f"{done.handle} is {'now' if done.operator else 'no longer'} an operator.",
    )


EMAIL = sensitive_option("Their email address (kept encrypted): their email route.")
CHAT = sensitive_option(
    "Their chat address (kept encrypted): goes in the agency's chat URL, their chat route."
)


@staff_cli.command("contact")
def staff_contact(
    handle: str,
    email: Annotated[str | None, EMAIL] = None,
    chat: Annotated[str | None, CHAT] = None,
    clear: Annotated[
        list[str] | None, typer.Option(help="email|chat: remove it (repeatable).")
    ] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Set or change where a person is reached: their email and chat address, sealed on their
    staff record; the agency's settings (`agency delivery`) make them routes."""
    from harbour.admin.contacts import set_contact

    done = set_contact(get_app(), actor, handle, {"email": email, "chat": chat}, clear or [])
    routes = ", ".join(done.channels) or "none yet (see harbour notify check)"
    said = f"{done.handle}: contact details saved; routes: {routes}."
    emit(done.as_json(), as_json, said + (f"\n{done.warning}" if done.warning else ""))


@staff_cli.command("reset")
def staff_reset(handle: str, actor: As = None, as_json: Json = False) -> None:
    """Clear a person's password and code app, end their console sessions, lift any sign-in
    lock, and issue a new one-time enrolment link (a lost phone, a forgotten password)."""
    from harbour.auth.enrolment import reset

    app = get_app()
    link = reset(app, actor, handle)
    committed(app)  # the link, to their own route
    emit(
        {"handle": link.handle, **_link_json(link)},
        as_json,
        f"{link.handle}: sessions ended, sign-in cleared.\n{_link_text(link)}",
    )


def _link_json(link: Any) -> dict[str, Any]:
    return {"enrolment_link": link.url, "link_sent": link.url is None, "expires": link.expires_at}


def _link_text(link: Any) -> str:
    if link.url is None:
        return "Their enrolment link went to their own route (valid 24 hours, once)."
    return (
        "They have no route of their own: hand them this enrolment link in person "
        f"(valid 24 hours, once):\n  {link.url}"
    )


@staff_cli.command("list")
def staff_list(actor: As = None, as_json: Json = False) -> None:
    """Your agency's staff. Admins: every account, with role, status and open caseload.
    Coordinators and supervisors: the active accounts' handles and roles (whom to assign)."""
    from harbour.admin.staffing import list_staff
    from harbour.domain.vocab import Role

    who, found = list_staff(get_app(), actor)
    full = who.role == Role.ADMIN
    rows = [row.as_json(full) for row in found]
    emit(rows, as_json, _staff_table if full else _handles_table)


def _staff_table(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'handle':<16} {'agency':<16} {'role':<12} {'status':<9} {'open cases':>10}  "
        "on call  operator"
    )
    lines = [
        (
            f"{r['handle']:<16} {r['agency']:<16} {r['role']:<12} "
            f"{'active' if r['active'] else 'inactive':<9} {r['open_cases']:>10}  "
            f"{'yes' if r['on_call'] else '':<7}  {'yes' if r['operator'] else ''}"
        ).rstrip()
        for r in rows
    ]
    return "\n".join([header, *lines])


def _handles_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{r['handle']:<16} {r['role']}" for r in rows]
    return "\n".join([f"{'handle':<16} role", *lines])


@staff_cli.command("role")
def staff_role(
    handle: str,
    role: Annotated[str, typer.Argument(help="coordinator|caseworker|supervisor|admin")],
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Give an account of your agency another role (not your own). Refused while open cases are
    assigned to someone who would no longer take cases: reassign them first."""
    from harbour.admin.staffing import change_role

    app = get_app()
    done = change_role(app, actor, handle, role)
    committed(app)  # their pages about the alerts their new role is counted for
    said = f"{done.handle} is now {done.role} (was {done.previous})."
    if done.warning:
        said += f" {done.warning}"
    emit(
        {"handle": done.handle, "role": done.role, "previous": done.previous,
         "warning": done.warning},
        as_json,
        said if done.changed else f"{done.handle} is already {done.role}: nothing changed.",
    )  # fmt: skip


@staff_cli.command("on-call")
def staff_on_call(
    handle: str,
    off: Annotated[bool, typer.Option("--off", help="Take them off call.")] = False,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Put an account of your agency on call for imminent alerts (your own too), or take it off
    with --off: the on-call rota. Put on, they are paged about the alerts waiting for on-call
    staff; taken off, an alert left with nobody on call climbs at once."""
    from harbour.admin.staffing import set_on_call

    app = get_app()
    done = set_on_call(app, actor, handle, not off)
    committed(app)  # their pages, or an alert's climb, go out with the command
    state = "on call" if done.on_call else "off call"
    said = f"{done.handle} is {'now' if done.changed else 'already'} {state}."
    if done.warning:
        said += f" {done.warning}"
    emit(
        {"handle": done.handle, "on_call": done.on_call, "changed": done.changed,
         "nobody_on_call": done.nobody_on_call, "warning": done.warning},
        as_json,
        said,
    )  # fmt: skip


@staff_cli.command("deactivate")
def staff_deactivate(
    handle: str,
    reassign_to: Annotated[
        str | None,
        typer.Option(help="Give their open cases to this caseworker (each is told, as by assign)."),
    ] = None,
    actor: As = None,
    as_json: Json = False,
) -> None:
    """Deactivate a staff account (kept for the audit trail). Refused while open cases are
    assigned to them, unless --reassign-to takes them."""
    from harbour.admin.staffing import deactivate_staff

    app = get_app()
    done = deactivate_staff(app, actor, handle, reassign_to)
    committed(app)
    moved = (
        f"; {done.reassigned} open case(s) now {done.reassigned_to}'s" if done.reassigned else ""
    )
    dead = (
        f"; {done.dead_lettered} message(s) still waiting for them dead-lettered "
        "(harbour outbox --status dead)"
        if done.dead_lettered
        else ""
    )
    emit(
        {
            "handle": done.handle,
            "active": False,
            "reassigned": done.reassigned,
            "reassigned_to": done.reassigned_to,
            "dead_lettered": done.dead_lettered,
            "warning": done.warning,
        },
        as_json,
        f"{done.handle} deactivated{moved}{dead}." + (f" {done.warning}" if done.warning else ""),
    )


@keys_cli.command("rotate")
def keys_rotate(actor: As = None, as_json: Json = False) -> None:
    """Add a key and re-encrypt every sealed value to it; run again to resume after a kill.
    Operators only (every agency's data moves to the new key)."""
    from harbour.access import audit_store, store_operation
    from harbour.admin.keys import rotate

    app = get_app()
    who = app.run(lambda uow: store_operation(uow, actor, "keys.rotate"))
    version, count = rotate(app, _Progress() if not as_json else lambda done, total: None)
    done = {"primary": version, "reencrypted": count}
    app.run(lambda uow: audit_store(uow, who, "keys.rotate.done", **done))
    emit(
        {"primary_key": version, "reencrypted": count},
        as_json,
        f"Primary key is now version {version}; {count} values re-encrypted.",
    )


@keys_cli.command("status")
def keys_status(actor: As = None, as_json: Json = False) -> None:
    """Where a rotation stands: the primary key's version, the keyring's, and how many values
    are still under an older key (operators only; `keys rotate` finishes them)."""
    from harbour.admin.keys import key_status

    done = key_status(get_app(), actor)
    left = (
        "every value is under it."
        if done.finished
        else f"{done.stale} value(s) still under an older key: run `harbour keys rotate` to finish."
    )
    versions = ", ".join(str(v) for v in done.versions)
    emit(
        done.as_json(), as_json, f"Primary key version {done.primary} (keyring: {versions}); {left}"
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
