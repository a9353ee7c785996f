"""Keeping SQLite's write lock short for waiting writers: no collection inside a batch."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from harbour.db.engine import make_engine
from harbour.db.writer_gap import WriterGap, without_collections


def test_a_reminder_batch_runs_with_the_collector_paused_and_restores_it() -> None:
    """On SQLite each reminder batch holds the write lock: a full collection inside one doubled
    it. Paused for the transaction only, and enabled again even when the work fails."""

    def run(work):  # type: ignore[no-untyped-def]
        return work(None)

    paused = without_collections(run)
    assert paused(lambda _: gc.isenabled()) is False
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        paused(lambda _: 1 / 0)
    assert gc.isenabled()


def test_a_writer_waiting_behind_batches_gets_in_at_the_next_gap(tmp_path: Path) -> None:
    # A sweep's batches hold SQLite's write lock 50 ms each with a WriterGap between them. A
    # Harbour writer that has waited a while (SQLite's own busy handler would by then sleep
    # 100 ms a try, and miss a gap of a few ms) takes the lock in the next gap.
    engine = make_engine(f"sqlite:///{tmp_path / 'gap.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE written (n INTEGER)")
    batches = sqlite3.connect(tmp_path / "gap.db", timeout=5, isolation_level=None)
    batches.execute("BEGIN IMMEDIATE")
    done = threading.Event()

    def write() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO written VALUES (1)")
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(0.3)
        gaps = 0
        while not done.is_set() and gaps < 3:
            batches.execute("COMMIT")
            WriterGap(engine)()
            gaps += 1
            batches.execute("BEGIN IMMEDIATE")  # the next batch (after the writer's commit)
            time.sleep(0.05)
        assert done.is_set() and gaps == 1
    finally:
        batches.execute("COMMIT")
        writer.join(10)
        batches.close()
        engine.dispose()


def test_a_writer_that_waits_too_long_fails_as_a_locked_database_and_waits_again_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from harbour.db import engine as engines

    monkeypatch.setattr(engines, "BUSY_TIMEOUT", 0.05)
    engine = make_engine(f"sqlite:///{tmp_path / 'held.db'}")
    holder = sqlite3.connect(tmp_path / "held.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked"), engine.begin():
            pass
    finally:
        holder.execute("COMMIT")
        holder.close()
    with engine.begin() as conn:  # the lock free: taken at once, the busy timeout as it was
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 50
    engine.dispose()


def test_a_writer_waits_through_a_busy_recovery_too(tmp_path: Path) -> None:
    # SQLite reports a lock held while another connection recovers the WAL after a crash as
    # SQLITE_BUSY_RECOVERY (an extended code, 261): a writer waits for it as for any BUSY.
    from types import SimpleNamespace

    from harbour.db.engine import begin_immediate

    class Recovering(sqlite3.Connection):
        tries = 0

        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
            if sql == "BEGIN IMMEDIATE" and self.tries < 3:
                self.tries += 1
                busy = sqlite3.OperationalError("database is locked")
                busy.sqlite_errorcode = 261  # type: ignore[attr-defined]
                raise busy
            return super().execute(sql, *args)

    dbapi = sqlite3.connect(tmp_path / "r.db", factory=Recovering, isolation_level=None)
    conn = SimpleNamespace(
        connection=SimpleNamespace(driver_connection=dbapi),
        exec_driver_sql=lambda sql: pytest.fail("gave up waiting out a recovery"),
    )
    begin_immediate(conn)  # type: ignore[arg-type]
    assert dbapi.in_transaction and dbapi.tries == 3
    dbapi.execute("COMMIT")
    dbapi.close()
