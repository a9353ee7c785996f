"""The sweep: what the policy says is due is reminded, once; batches change nothing."""

from __future__ import annotations

import pytest

from benchmarks.sweep import check_due_set, outbox_rows, seed_cases
from harbour.app import App
from harbour.clock import FixedClock
from harbour.sweep import sweep
from tests.conftest import START


@pytest.mark.parametrize("batch", [7, 500])
def test_the_due_set_is_the_policy_s_and_a_second_sweep_adds_nothing(
    app: App, clock: FixedClock, batch: int
) -> None:
    clock.set(START)
    seed_cases(app, 120)
    report = sweep(app, batch=batch)
    assert report.reminders > 0 and report.escalated == 0  # alerts: none yet to re-escalate
    check_due_set(app, START)
    enqueued = outbox_rows(app)
    assert sweep(app, batch=batch).reminders == 0
    assert outbox_rows(app) == enqueued
