"""The sweep's exact cutoffs (``reminders.Cutoffs``): where a zone keeps its UTC offset around
the sweep's moment, "due_at <= now - offset" decides each threshold exactly as
``reminder_times`` does; elsewhere the cutoffs are loose and Python decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from harbour.domain.policy import Policy, Thresholds, reminder_times
from harbour.notify.reminders import _steady
from harbour.reference import load_policy
from harbour.settings import Settings

ZONES = ("America/New_York", "Australia/Lord_Howe", "Europe/London", "UTC", "Asia/Kolkata")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(Settings())


@pytest.mark.parametrize("zone_name", ZONES)
def test_steady_cutoffs_decide_as_the_policy_does(policy: Policy, zone_name: str) -> None:
    zone, thresholds = ZoneInfo(zone_name), Thresholds.of(policy)
    offsets = [offset for *_, offset in thresholds.specs]
    steady = unsteady = 0
    # Every 5 hours through March and April 2026 (both hemispheres change in early April, the
    # US in March, Europe at the end of March), each due time every 15 minutes within 2 hours of
    # each cutoff: a zone's change moves a local time by an hour at most (Lord Howe's by half an
    # hour), so a disagreement would show there; further out both sides of it are plain.
    now = datetime(2026, 3, 1, tzinfo=UTC)
    while now < datetime(2026, 5, 1, tzinfo=UTC):
        if not _steady(zone, now, offsets):
            unsteady += 1
            now += timedelta(hours=5)
            continue
        steady += 1
        for offset in offsets:
            cutoff = now - offset
            for step in range(-8, 9):
                due = cutoff + timedelta(minutes=15 * step)
                passed = {name for name, at in reminder_times(policy, due, zone) if at <= now}
                by_cutoff = {
                    name
                    for name, off in zip(thresholds.names, offsets, strict=True)
                    if due <= now - off
                }
                assert by_cutoff == passed, (zone_name, now, due)
        now += timedelta(hours=5)
    assert steady
    assert unsteady or zone_name in ("UTC", "Asia/Kolkata")
