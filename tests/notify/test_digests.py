"""A reminder marked sent is always in a digest: sweeps at the same moment do not collide."""

from __future__ import annotations

from datetime import timedelta

from harbour.app import App
from harbour.clock import FixedClock
from harbour.notify.reminders import sweep
from tests.notify.helpers import new_case, open_assessment, rows
from tests.support import invoke


def _items(app: App) -> list[str]:
    return sorted(
        item["case_ref"] for d in rows(app, kind="reminder_digest") for item in d.context["items"]
    )


def _ref(reference: str) -> str:
    return "-".join(reference.split("-")[:3])


def test_two_sweeps_at_the_same_moment_each_send_their_digest(
    seeded: App, clock: FixedClock
) -> None:
    now = clock.now()
    first = new_case(seeded, "MKA")
    open_assessment(seeded, first, now + timedelta(days=1))
    assert sweep(seeded.run, seeded.reference.policy, now)["digests"] == 1
    second = new_case(seeded, "MKB")
    open_assessment(seeded, second, now + timedelta(days=1))  # comes due at the same moment
    assert sweep(seeded.run, seeded.reference.policy, now)["digests"] == 1
    assert _items(seeded) == sorted([_ref(first.reference), _ref(second.reference)])
    assert sweep(seeded.run, seeded.reference.policy, now)["digests"] == 0  # marks: nothing again


def test_harbour_sweep_at_the_same_time_twice_loses_no_reminder(
    seeded: App, clock: FixedClock
) -> None:
    at = clock.now().isoformat()
    first = new_case(seeded, "MKA")
    open_assessment(seeded, first, clock.now() + timedelta(days=1))
    assert invoke(seeded, "sweep", "--at", at).exit_code == 0
    second = new_case(seeded, "MKB")
    open_assessment(seeded, second, clock.now() + timedelta(days=1))
    assert invoke(seeded, "sweep", "--at", at).exit_code == 0
    assert {_ref(first.reference), _ref(second.reference)} <= set(_items(seeded))
