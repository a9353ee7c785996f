"""Helpers shared by tests: a seeded agency, referrals with marker strings, an in-process CLI."""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import tempfile
import unittest.mock
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from harbour.admin.staffing import AgencyIn, StaffIn, create_agency, create_staff
from harbour.app import App
from harbour.cli import cli
from harbour.cli.base import run, set_app_factory
from harbour.domain.vocab import Role

STAFF = {
    "north": [
        ("adm", Role.ADMIN),
        ("coord", Role.COORDINATOR),
        ("cw1", Role.CASEWORKER),
        ("cw2", Role.CASEWORKER),
        ("sup", Role.SUPERVISOR),
    ],
    "south": [("coord2", Role.COORDINATOR), ("cw3", Role.CASEWORKER), ("sup2", Role.SUPERVISOR)],
}


def seed_agencies(app: App) -> None:
    def work(uow: Any) -> None:
        for agency, members in STAFF.items():
            create_agency(
                uow,
                AgencyIn(name=agency, timezone="America/New_York", address=f"MARK-{agency}-ADDR"),
            )
            for handle, role in members:
                on_call, operator = role == Role.SUPERVISOR, role == Role.ADMIN  # as `init` made
                create_staff(
                    uow,
                    StaffIn(
                        handle=handle, agency=agency, role=role, on_call=on_call, operator=operator
                    ),
                )

    app.run(work)


def agency_admin(app: App, handle: str = "nadm", agency: str = "north") -> str:
    """An admin of ``agency`` who is not one of the installation's operators."""

    def work(uow: Any) -> None:
        create_staff(uow, StaffIn(handle=handle, agency=agency, role=Role.ADMIN))

    app.run(work)
    return handle


def referral(
    marker: str = "MK", situation: str = "considering_leaving", **extra: Any
) -> dict[str, Any]:
    """A referral whose every identifying field holds a unique marker string."""
    data: dict[str, Any] = {
        "youth": {
            "name": f"{marker}youthname",
            "preferred_name": f"{marker}prefname",
            "date_of_birth": "2009-04-01",
            "phone": f"{marker}youthphone",
            "address": f"{marker}youthaddress",
            "notes": f"{marker}youthnotes",
        },
        "situation": situation,
        "persons_at_risk": ["youth", "family"],
        "family": [
            {
                "name": f"{marker}auntname",
                "relationship": f"{marker}aunt",
                "phone": f"{marker}auntphone",
                "non_offending": True,
                "approved_by_youth": True,
                "caretaker": True,
            }
        ],
        "trusted_contacts": [{"name": f"{marker}friendname", "phone": f"{marker}friendphone"}],
        "threats": [
            {
                "kind": "trafficker",
                "name": f"{marker}traffickername",
                "description": f"{marker}threatdesc",
                "protective_order": True,
                "protective_order_expires_on": "2027-01-31",
                "protective_order_details": f"{marker}orderdetails",
            }
        ],
        "referral_source": f"{marker}source",
    }
    data.update(extra)
    return data


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def recorded_unpaged(result: CliResult) -> bool:
    """An assessment (or override) recorded whose imminent-threat alert paged nobody: exit 3,
    the outcome printed with ``paged`` false, the error ``nobody_paged`` (with ``--json``)."""
    return (
        result.exit_code == 3
        and '"error": "nobody_paged"' in result.stderr
        and json.loads(result.stdout).get("paged") is False
    )


def invoke(app: App, *args: str, stdin: str | None = None) -> CliResult:
    """Run ``harbour ARGS`` in-process against ``app`` (its store, keys and clock), with
    ``stdin``, if given, as what is piped in."""
    out, err = io.StringIO(), io.StringIO()
    piped = contextlib.nullcontext()
    if stdin is not None:
        text = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
        piped = unittest.mock.patch("sys.stdin", text)
    set_app_factory(lambda: app)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), piped:
            code = run(cli, list(args))
    finally:
        set_app_factory(None)
    return CliResult(code, out.getvalue(), err.getvalue())


_VALUES = Path(tempfile.mkdtemp(prefix="harbour-test-values-"))
atexit.register(shutil.rmtree, _VALUES, ignore_errors=True)


def given(value: str) -> str:
    """``@FILE`` for a file holding ``value``: how sensitive options take their text."""
    fd, path = tempfile.mkstemp(dir=_VALUES, suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return f"@{path}"


@contextlib.contextmanager
def executed(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements ``engine`` runs inside the block, each with its parameters, in order."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)
