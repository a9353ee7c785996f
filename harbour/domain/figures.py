"""Program figures from counts: a median over a histogram and a share as a percentage. The
database counts (``harbour.cases.report``); these turn its small aggregated sets into figures."""

from __future__ import annotations

from collections.abc import Iterable


def median_of_counts(counts: Iterable[tuple[float, int]]) -> float | None:
    """The median of the values a histogram holds, ``(value, how many)`` pairs in any order
    (the mean of the two middle values when there is an even number), or None when empty."""
    pairs = sorted((value, n) for value, n in counts if n > 0)
    total = sum(n for _, n in pairs)
    if total == 0:
        return None
    wanted = (total - 1) // 2, total // 2  # 0-based positions of the middle value(s)
    found: list[float] = []
    seen = 0
    for value, n in pairs:
        found += [value for position in wanted if seen <= position < seen + n]
        seen += n
    return (found[0] + found[1]) / 2


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` as a percentage with one decimal, or None of nothing."""
    return round(100 * part / whole, 1) if whole else None
