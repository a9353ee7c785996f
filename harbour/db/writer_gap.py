"""Keeping SQLite's one write lock short for the writers waiting on it, during a long piece of
work done in batches (a sweep, a run of escalations): a pause between two batches long enough for
a waiting writer to get in, and no garbage collection inside one. Nothing changes on PostgreSQL."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine

from harbour.db.engine import RETRY_EVERY

# Seconds: a waiting writer's longest pause between tries for the lock (``begin_immediate``),
# twice over and a margin, so it tries at least twice in the gap whatever its pace.
GAP = 2 * RETRY_EVERY + 0.001


class WriterGap:
    """Called between two batches: on SQLite, leaves the write lock free long enough for a
    connection waiting for it to take it. SQLite queues nobody: a waiting connection tries
    again and again, and a sweep that began its next batch at once would keep a command
    waiting (an imminent-threat ``harbour assess`` too) to its end. Harbour's writers try every
    millisecond or two (``harbour.db.engine.begin_immediate``), so a gap of a few milliseconds
    lets one in; SQLite's own busy handler, which sleeps up to 100 ms a try, needed gaps of
    25 ms after each 50 ms batch, and a sweep of 10,000 due spent a quarter of its time in them."""

    def __init__(self, engine: Engine) -> None:
        self.sqlite = engine.dialect.name == "sqlite"

    def __call__(self) -> None:
        if self.sqlite:
            time.sleep(GAP)


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
