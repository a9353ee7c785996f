"""Engines for SQLite (the embedded default) and PostgreSQL (psycopg 3), configured for safety."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
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
        engine = create_engine(url, hide_parameters=True, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    connect_args = {"options": _server_options(url)}
    return create_engine(
        url, hide_parameters=True, pool_pre_ping=True, connect_args=connect_args, **kwargs
    )


def _server_options(url: str) -> str:
    """The URL's own server options (``?options=...``), and JIT compilation off: Harbour's
    statements are short, and the planner's estimate for the sweep's query of what is due (its
    row count guessed over every mark) crossed ``jit_above_cost`` once a store had marks, so
    each routine sweep spent 45 ms compiling a 25 ms query (200 ms on its first)."""
    given = make_url(url).query.get("options", "")
    return " ".join([*([given] if isinstance(given, str) else given), "-c jit=off"]).strip()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" hook issue BEGIN itself
        cursor = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
            "synchronous=FULL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
        # instead of failing later with "database is locked" on lock upgrade. A transaction
        # that only reads takes no lock at all (WAL): a long scan keeps no writer waiting.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
