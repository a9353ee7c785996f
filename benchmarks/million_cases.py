"""The routine sweep at 1,000,000 open cases, on PostgreSQL: with ``benchmarks.sweep``'s 10,000
and 100,000 it shows how the sweep grows (time and peak memory in proportion to the due rows,
each against its floor measured in the same run).

Run by name (``python -m benchmarks --only million_cases``): seeding a million cases takes
several minutes.
"""

from __future__ import annotations

from benchmarks.common import Row
from benchmarks.sweep import BACK, SPREAD, measure


def run(size: int = 1_000_000) -> list[Row]:
    if size < 1:
        return []
    return measure(size, BACK, SPREAD, backends=("postgres",), rounds=1)
