"""Time as the domain sees it: aware UTC, from a clock that tests and the demo can move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, overload
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that moves only when told to: for tests and the demo's simulated weeks."""

    def __init__(self, at: datetime) -> None:
        self._at = as_utc(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = as_utc(at)

    def advance(self, delta: timedelta) -> datetime:
        self._at += delta
        return self._at


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: Harbour only handles aware times")
    return moment.astimezone(UTC)


@overload
def local_time(moment: datetime, zone: ZoneInfo, *, seconds: bool = False) -> str: ...
@overload
def local_time(moment: None, zone: ZoneInfo, *, seconds: bool = False) -> None: ...
def local_time(moment: datetime | None, zone: ZoneInfo, *, seconds: bool = False) -> str | None:
    """A moment as the agency reads it: local wall-clock time with the zone's abbreviation."""
    shape = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return moment.astimezone(zone).strftime(shape) if moment else None
