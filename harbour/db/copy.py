"""Moving a store to another database (SQLite to PostgreSQL, say): every table copied row for
row, in dependency order, into an empty, migrated target.

Sealed values move as they are: their associated data names table, row and field, not the
database, so the same keyring opens them in the new place.
"""

from __future__ import annotations

from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, Table, func, insert, inspect, select
from sqlalchemy.exc import DBAPIError

from harbour.db import migrate, models  # noqa: F401  (every table registered)
from harbour.db.base import Base
from harbour.db.engine import READ_ONLY
from harbour.db.schema import REVISION_TABLE
from harbour.errors import Conflict, HarbourError

BATCH = 1000


def prepare_target(target: Engine) -> None:
    """Make Harbour's tables in ``target``, or refuse it (by a ``HarbourError``'s code) unless
    it is empty: so a copy is refused, and can be recorded as such, before it starts."""
    tables = Base.metadata.sorted_tables
    _refuse_others_tables(target, tables)
    _make_tables(target)
    with target.connect() as connection:
        _refuse_filled(connection, tables)


def copy_store(source: Engine, target: Engine, batch: int = BATCH) -> dict[str, int]:
    """Copy every row of ``source`` into ``target`` (prepared here, and refused unless empty);
    the number of rows per table. One transaction on the target: all or nothing."""
    tables = Base.metadata.sorted_tables
    prepare_target(target)
    copied: dict[str, int] = {}
    with source.connect() as reading, target.begin() as writing:
        # One snapshot of every table, keeping no writer waiting: under PostgreSQL's READ
        # COMMITTED each table's read saw the rows committed by then (a case referred mid-copy
        # could arrive with its people but not itself); SQLite's deferred read is one snapshot.
        options: dict[str, object] = {READ_ONLY: True}
        if source.dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        reading = reading.execution_options(**options)
        _refuse_filled(writing, tables)  # again: written to since it was prepared
        for table in tables:
            result = reading.execution_options(yield_per=batch).execute(select(table))
            copied[table.name] = 0
            for rows in result.mappings().partitions():
                writing.execute(insert(table), [dict(row) for row in rows])
                copied[table.name] += len(rows)
        _continue_sequences(writing, tables)
    return copied


def _refuse_others_tables(target: Engine, tables: list[Table]) -> None:
    """A database holding tables Harbour did not make (another application's: a slip of the
    database name), even one named as one of Harbour's, is not an empty one; nor is a store of
    a schema this Harbour does not know (a newer Harbour's, another application's migrations):
    refused before Harbour's tables are made there."""
    with target.connect() as connection:
        found = set(inspect(connection).get_table_names()) - {REVISION_TABLE}
        revision = MigrationContext.configure(connection).get_current_revision()
    if found - {t.name for t in tables} or (found and revision is None):
        raise Conflict("target_not_empty", "the target database already holds other tables")
    if revision is not None and revision not in migrate.known_revisions():
        raise Conflict(
            "target_other_version",
            "the target database holds a schema this version of Harbour does not know",
        )


def _refuse_filled(connection: Connection, tables: list[Table]) -> None:
    if any(connection.scalar(select(func.count()).select_from(t)) for t in tables):
        raise Conflict("target_not_empty", "the target database already holds data")


def _make_tables(target: Engine) -> None:
    """Harbour's tables made in the target, or the target's refusal said as such (an account
    that may not create tables there): its kind only, never its text, which may name the
    account or the database."""
    try:
        migrate.upgrade(target)
    except DBAPIError as exc:
        reason = f"{type(exc.orig).__name__}: the target database refused to make Harbour's tables"
        raise HarbourError("target_refused", reason) from None


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
