"""Keeping SQLite's one write lock short for the writers waiting on it, during a long piece of
work done in batches (a sweep, a run of escalations): a pause between two batches long enough for
a waiting writer to get in, and no garbage collection inside one. Nothing changes on PostgreSQL."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine

SQLITE_GAP = 0.1  # seconds: the longest a waiting SQLite connection sleeps between tries


class WriterGap:
    """Called between two batches: on SQLite, leaves the write lock free long enough for a
    connection that waited through the last batch to take it. SQLite queues nobody: a waiting
    connection sleeps and retries (its busy handler's sleeps grow from 1 ms to 100 ms with the
    time waited, ``BUSY_SLEEPS``), and a sweep that began its next batch at once would keep a
    command waiting (an imminent-threat ``harbour assess`` too) to its end. So the gap is the
    sleep a connection that has waited as long as the batch held the lock is in, plus a margin:
    25 ms after a batch of 50 to 100 ms, not the batch's length again."""

    def __init__(self, engine: Engine) -> None:
        self.sqlite = engine.dialect.name == "sqlite"
        self.since = time.monotonic()

    def __call__(self) -> None:
        if self.sqlite:
            time.sleep(busy_sleep(time.monotonic() - self.since) + GAP_MARGIN)
        self.since = time.monotonic()


# SQLite's default busy handler (sqlite3_busy_timeout): after waiting at least the first
# figure (seconds), a connection sleeps the second before it tries again.
BUSY_SLEEPS = (
    (0.0, 0.001),
    (0.001, 0.002),
    (0.003, 0.005),
    (0.008, 0.010),
    (0.018, 0.015),
    (0.033, 0.020),
    (0.053, 0.025),
    (0.078, 0.025),
    (0.103, 0.025),
    (0.128, 0.050),
    (0.178, 0.050),
    (0.228, SQLITE_GAP),
)
GAP_MARGIN = 0.005


def busy_sleep(waited: float) -> float:
    """The longest a SQLite connection that has waited ``waited`` seconds sleeps before its
    next try."""
    return max(sleep for after, sleep in BUSY_SLEEPS if after <= max(waited, 0.0))


T = TypeVar("T")
W = TypeVar("W")


def without_collections(run: Callable[[W], T]) -> Callable[[W], T]:
    """``run`` with Python's cyclic garbage collector paused for each transaction. A full
    collection over a large sweep's objects took 40 to 60 ms; one that fell inside a batch
    doubled how long it held SQLite's write lock, and a writer then waited 0.18 s rather than
    0.13 (a catch-up sweep over 30,000 due). Collections run between the batches instead."""

    def paused(work: W) -> T:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return run(work)
        finally:
            if enabled:
                gc.enable()

    return paused
