"""Moments staff type: when they expect to be back, when a youth was last seen.

Written as ISO 8601 with an offset (``2026-03-02T14:00-05:00``), as a local date and time in the
agency's zone (``2026-03-02 09:00``), or as a local time of day (``09:00``): the latest such time
not after now for a moment in the past, the next one after now for a moment ahead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Side = Literal["past", "future"]
TOO_FAR = timedelta(days=366)


def parse_moment(text: str, zone: ZoneInfo, now: datetime, side: Side) -> datetime:
    """The aware UTC moment ``text`` names; ``ValueError`` (a reason, never the text) if it is
    not one, is on the wrong side of ``now``, or is more than a year away."""
    written = text.strip()
    if len(written) > 40:
        raise ValueError("not a time (write 2026-03-02 09:00, 09:00, or ISO 8601)")
    moment = _time_of_day(written, zone, now, side) or _date_time(written, zone)
    if side == "past" and moment > now:
        raise ValueError("must not be in the future")
    if side == "future" and moment <= now:
        raise ValueError("must be in the future")
    if abs(moment - now) > TOO_FAR:
        raise ValueError("must be within a year of now")
    return moment


def _time_of_day(written: str, zone: ZoneInfo, now: datetime, side: Side) -> datetime | None:
    try:
        clock = time.fromisoformat(written)
    except ValueError:
        return None
    if clock.tzinfo is not None or len(written) > 8:
        return None
    today = now.astimezone(zone).date()
    days = (
        (today - timedelta(days=1), today) if side == "past" else (today, today + timedelta(days=1))
    )
    moments = [moment for day in days for moment in _wall_moments(day, clock, zone)]
    if side == "past":
        return max(moment for moment in moments if moment <= now)
    return min(moment for moment in moments if moment > now)


def _wall_moments(day: date, clock: time, zone: ZoneInfo) -> list[datetime]:
    """The moments (UTC) the wall time ``clock`` on ``day`` names: two in the hour the clocks go
    back, which happens twice; one otherwise (a time in the hour skipped in spring is read in
    the offset before the change, as ``zoneinfo`` reads it)."""
    local = datetime.combine(day, clock, tzinfo=zone)
    both = {local.astimezone(UTC), local.replace(fold=1).astimezone(UTC)}
    real = [
        moment
        for moment in both
        if moment.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None)
    ]
    return real or [local.astimezone(UTC)]


def _date_time(written: str, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(written)
    except ValueError:
        raise ValueError("not a time (write 2026-03-02 09:00, 09:00, or ISO 8601)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # a date at the calendar's edge whose UTC moment is past it
        raise ValueError("must be within a year of now") from None
