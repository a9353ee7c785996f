"""Moving a store to another database (SQLite to PostgreSQL, say): every table copied row for
row, in dependency order, into an empty, migrated target.

Sealed values move as they are: their associated data names table, row and field, not the
database, so the same keyring opens them in the new place.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, Table, func, insert, inspect, select

from harbour.db import migrate, models  # noqa: F401  (every table registered)
from harbour.db.base import Base
from harbour.db.engine import READ_ONLY
from harbour.errors import Conflict

BATCH = 1000


def copy_store(source: Engine, target: Engine, batch: int = BATCH) -> dict[str, int]:
    """Copy every row of ``source`` into ``target`` (migrated here, and refused unless empty);
    the number of rows per table. One transaction on the target: all or nothing."""
    tables = Base.metadata.sorted_tables
    _refuse_others_tables(target, tables)
    migrate.upgrade(target)
    copied: dict[str, int] = {}
    with source.connect() as reading, target.begin() as writing:
        # One snapshot of every table, keeping no writer waiting: under PostgreSQL's READ
        # COMMITTED each table's read saw the rows committed by then (a case referred mid-copy
        # could arrive with its people but not itself); SQLite's deferred read is one snapshot.
        options: dict[str, object] = {READ_ONLY: True}
        if source.dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        reading = reading.execution_options(**options)
        if any(writing.scalar(select(func.count()).select_from(t)) for t in tables):
            raise Conflict("target_not_empty", "the target database already holds data")
        for table in tables:
            result = reading.execution_options(yield_per=batch).execute(select(table))
            copied[table.name] = 0
            for rows in result.mappings().partitions():
                writing.execute(insert(table), [dict(row) for row in rows])
                copied[table.name] += len(rows)
        _continue_sequences(writing, tables)
    return copied


def _refuse_others_tables(target: Engine, tables: list[Table]) -> None:
    """A database holding tables that are not Harbour's (another application's: a slip of the
    database name) is not an empty one: refused before Harbour's tables are made there."""
    with target.connect() as connection:
        found = set(inspect(connection).get_table_names())
    if found - {t.name for t in tables} - {"alembic_version"}:
        raise Conflict("target_not_empty", "the target database already holds other tables")


def _continue_sequences(writing: Connection, tables: list[Table]) -> None:
    """Rows arrived with their numbers (audit_events.seq): PostgreSQL's sequences, which the
    copy did not advance, go on after them. SQLite's autoincrement follows on its own."""
    if writing.dialect.name != "postgresql":
        return
    for table in tables:
        column = table.autoincrement_column
        if column is not None:
            sequence = func.pg_get_serial_sequence(table.name, column.name)
            after = func.coalesce(func.max(column), 0) + 1
            writing.execute(select(func.setval(sequence, after, False)))
