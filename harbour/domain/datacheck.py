"""Cross-checks of a reference data model, failing with the path of the offending entry."""

from __future__ import annotations

from collections.abc import Sequence


class DataProblem(Exception):
    """Raised by a data model's cross-checks with the path of the offending entry.

    Not a ValueError on purpose: pydantic lets it through, keeping the path we give it.
    """

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = [str(part) for part in loc]
        self.message = message


def no_repeats(entries: Sequence[tuple[tuple[str | int, ...], str]]) -> None:
    """Refuse the second use of a code or id, naming where it is."""
    seen: set[str] = set()
    for loc, value in entries:
        if value in seen:
            raise DataProblem(loc, f"{value} is used more than once")
        seen.add(value)
