"""The sweep's worst case: every case due from 10 days ago to 30 days ahead and nothing reminded
yet (a sweep after a long outage, or the first after an import): 30% of the cases have
one or more thresholds passed at once, some of them overdue for escalation.

Run by name (``python -m benchmarks --only sweep_backlog``): at 100,000 cases it takes several
minutes.
"""

from __future__ import annotations

from datetime import timedelta

from benchmarks.common import Row
from benchmarks.sweep import measure


def run(size: int = 100_000) -> list[Row]:
    if size < 1:
        return []
    return measure(size, back=timedelta(days=10), spread=timedelta(days=40))
