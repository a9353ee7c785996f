"""Moments staff type (``harbour.domain.moments``): a local time of day is the nearest such
moment on the side asked for, the autumn's repeated hour included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from harbour.domain.moments import parse_moment

NEW_YORK = ZoneInfo("America/New_York")
# 2026-11-01: clocks go back from 02:00 EDT to 01:00 EST, so 01:00-01:59 happens twice.
SECOND_ONE_TEN = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)  # 01:10 EST, the repeated hour
FIRST_ONE_TEN = datetime(2026, 11, 1, 5, 10, tzinfo=UTC)  # 01:10 EDT


@pytest.mark.parametrize(
    ("now", "typed", "side", "after"),
    [
        # In the repeated hour, "01:50" ahead is 40 minutes on, not tomorrow (refused as a
        # visit beyond 16 hours), and "01:05" behind is 5 minutes ago, not 65.
        (SECOND_ONE_TEN, "01:50", "future", timedelta(minutes=40)),
        (SECOND_ONE_TEN, "01:05", "past", timedelta(minutes=-5)),
        (SECOND_ONE_TEN, "02:30", "future", timedelta(minutes=80)),
        # In the first pass of that hour, as before: the nearer one.
        (FIRST_ONE_TEN, "01:50", "future", timedelta(minutes=40)),
        (FIRST_ONE_TEN, "01:05", "past", timedelta(minutes=-5)),
        (FIRST_ONE_TEN, "01:30", "future", timedelta(minutes=20)),
        # An hour that never happens (spring forward, 2026-03-08 02:00 EST -> 03:00 EDT) is
        # read as the standard time it was typed in, as before.
        (datetime(2026, 3, 8, 6, 30, tzinfo=UTC), "02:30", "future", timedelta(hours=1)),
        # Across midnight.
        (datetime(2026, 3, 3, 4, 50, tzinfo=UTC), "00:20", "future", timedelta(minutes=30)),
        (datetime(2026, 3, 3, 5, 10, tzinfo=UTC), "23:40", "past", timedelta(minutes=-30)),
    ],
)
def test_a_time_of_day_is_the_nearest_on_its_side(
    now: datetime, typed: str, side: str, after: timedelta
) -> None:
    assert parse_moment(typed, NEW_YORK, now, side) - now == after  # type: ignore[arg-type]
