"""``INSERT ... ON CONFLICT`` for the store's database: SQLAlchemy builds it per dialect, with
the same interface on PostgreSQL and SQLite. Only the dialect in use is imported: PostgreSQL's
cost a command on the embedded SQLite store about 80 ms to import (an imminent alert's too)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT of ``table`` (a model or a table), for ``session``'s database, on
    which ``on_conflict_do_nothing`` and ``on_conflict_do_update`` can be called."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)
