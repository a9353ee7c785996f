"""Keeping SQLite's write lock short for waiting writers: no collection inside a batch."""

from __future__ import annotations

import gc

import pytest

from harbour.db.writer_gap import without_collections


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
