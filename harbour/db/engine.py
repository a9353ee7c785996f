"""Engines for SQLite (the embedded default) and PostgreSQL (psycopg 3), configured for safety."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url


def normalise_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


READ_ONLY = "harbour_read_only"  # execution option of a transaction that only reads


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine whose errors never carry bound values (``hide_parameters``)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, hide_parameters=True, connect_args={"timeout": BUSY_TIMEOUT}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, hide_parameters=True, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" hook issue BEGIN itself
        cursor = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            f"busy_timeout={int(BUSY_TIMEOUT * 1000)}",
            "synchronous=FULL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers wait for it at the start
        # instead of failing later with "database is locked" on lock upgrade. A transaction
        # that only reads takes no lock at all (WAL): a long scan keeps no writer waiting.
        if conn.get_execution_options().get(READ_ONLY, False):
            conn.exec_driver_sql("BEGIN")
        else:
            begin_immediate(conn)


BUSY_TIMEOUT = 30.0  # seconds a statement waits for a lock before "database is locked"
RETRY_EVERY = 0.002  # seconds, at most, between a waiting writer's tries for the write lock


def begin_immediate(conn: Connection) -> None:
    """Take the write lock, trying again every millisecond or two while another writer holds
    it, for up to ``BUSY_TIMEOUT``. SQLite's own busy handler sleeps longer the longer it has
    waited (up to 100 ms a try): a writer behind a sweep's batches missed the short gaps left
    between them, and those gaps had to be as long as its sleeps (``harbour.db.writer_gap``).
    A writer that is not Harbour's (the ``sqlite3`` shell) still sleeps so, and may wait
    seconds during a sweep: the store is Harbour's to write."""
    dbapi_conn = conn.connection.driver_connection
    assert isinstance(dbapi_conn, sqlite3.Connection)
    dbapi_conn.execute("PRAGMA busy_timeout = 0")
    try:
        deadline, pause = time.monotonic() + BUSY_TIMEOUT, RETRY_EVERY / 4
        while time.monotonic() < deadline:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # extended codes too
                    break
            time.sleep(pause)
            pause = min(pause * 2, RETRY_EVERY)
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the last try: its error is SQLAlchemy's
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
