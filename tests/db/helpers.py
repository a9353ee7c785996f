"""Small helpers for tests that look into the store: referral files, row counts, sealed columns."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from harbour.app import App
from harbour.cli import cli
from harbour.cli.base import run, set_app_factory
from harbour.db import models  # noqa: F401  (registers every table)
from harbour.db.base import Base, sealed_columns
from tests.support import CliResult, invoke


def write_referral(folder: Path, data: Any, suffix: str = ".json") -> Path:
    path = folder / f"referral-{uuid.uuid4().hex[:8]}{suffix}"
    path.write_text(json.dumps(data), encoding="utf-8")  # \u escapes carry even lone surrogates
    return path


def refer(app: App, folder: Path, data: Any, *extra: str) -> CliResult:
    path = write_referral(folder, data)
    return invoke(app, "refer", "--file", str(path), "--as", "coord", "--json", *extra)


def row_counts(app: App) -> dict[str, int]:
    """Rows in every table of the schema, in one query (one round trip, where a query a table
    cost 8 ms of CPU a call on SQLite and 22 ms on PostgreSQL; the hostile-input tests call it
    hundreds of times)."""
    tables = Base.metadata.sorted_tables
    counts = (select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables)
    with app.engine.connect() as conn:
        row = conn.execute(select(*counts)).one()
    return {t.name: row[i] or 0 for i, t in enumerate(tables)}


def base64_forms(marker: str) -> list[bytes]:
    """The marker as it reads inside any base64 text, at each of the three byte alignments."""
    raw = marker.encode()
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        start = -(-8 * shift // 6)  # first character made only of the marker's bits
        end = 8 * (shift + len(raw)) // 6
        forms.append(encoded[start:end])
    return forms


class _PerThread(io.TextIOBase):
    """A stream that writes to the calling thread's own buffer (or the original stream)."""

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback
        self.local = threading.local()

    def capture(self) -> io.StringIO:
        self.local.buffer = io.StringIO()
        return self.local.buffer

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return getattr(self.local, "buffer", self.fallback).write(text)


@contextlib.contextmanager
def threaded_cli() -> Iterator[Callable[..., CliResult]]:
    """``call(app, *args)`` runs ``harbour ARGS`` in-process, safe to use from many threads."""
    out, err = _PerThread(sys.stdout), _PerThread(sys.stderr)
    apps = threading.local()
    set_app_factory(lambda: apps.app)

    def call(app: App, *args: str) -> CliResult:
        apps.app = app
        stdout, stderr = out.capture(), err.capture()
        code = run(cli, list(args))
        return CliResult(code, stdout.getvalue(), stderr.getvalue())

    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield call
    finally:
        set_app_factory(None)


def sealed_snapshot(app: App) -> dict[tuple[str, str, str], str]:
    """Every sealed value in the store, opened: {(table, row id, field): plaintext}."""
    from harbour.admin.keys import sealed_tables

    def work(uow: Any) -> dict[tuple[str, str, str], str]:
        opened = {}
        for table in sealed_tables():
            fields = [c.removesuffix("_sealed") for c in sealed_columns(table)]
            for row in uow.session.scalars(select(table)):
                for field in fields:
                    value = uow.unseal(row, field)
                    if value is not None:
                        opened[(table.__tablename__, row.id, field)] = value
        return opened

    return app.run(work)


def store_bytes(app: App) -> bytes:
    """The raw store: the SQLite file with its WAL and journal, or a pg_dump of PostgreSQL."""
    url = make_url(app.settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        base = Path(str(url.database))
        files = [base, *(base.with_name(base.name + s) for s in ("-wal", "-journal", "-shm"))]
        return b"".join(f.read_bytes() for f in files if f.exists())
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(["pg_dump", "--dbname", plain], capture_output=True, check=True)
    assert b"CREATE TABLE public.cases" in dump.stdout  # a real dump, not an empty one
    return dump.stdout


@contextlib.contextmanager
def new_postgres_database(prefix: str) -> Iterator[str]:
    """An empty PostgreSQL database of its own, its URL (password kept); dropped afterwards,
    whoever is still connected. Skipped without HARBOUR_TEST_POSTGRES_URL."""
    from sqlalchemy import text

    from harbour.db.engine import make_engine
    from tests.conftest import POSTGRES_URL

    if not POSTGRES_URL:
        pytest.skip("HARBOUR_TEST_POSTGRES_URL is not set")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
