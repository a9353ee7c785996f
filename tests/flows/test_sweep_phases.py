"""The sweep flow runs every phase even when one fails, escalation included, then fails."""

from __future__ import annotations

from datetime import timedelta

import pytest

import flows.sweep as sweep_flow
from flows.tasks import StepFailed
from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Alert
from harbour.orchestration.sweep import SweepIncomplete
from tests.notify.helpers import imminent_alert, new_case


def test_a_failing_phase_stops_neither_escalation_nor_delivery(
    flow_app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = new_case(flow_app)
    alert = imminent_alert(flow_app, case)
    clock.advance(timedelta(minutes=10))

    def broken(at: object) -> int:
        raise StepFailed("open_due_assessments", "RuntimeError")

    def unknown(at: object) -> list[str]:
        raise StepFailed("idle_phases", "ConfigError")

    monkeypatch.setattr(sweep_flow, "open_due_assessments", broken)
    # The probe failing too: every phase runs (the broken one included, which the probe would
    # have left idle, having no case to open here) and reports for itself.
    monkeypatch.setattr(sweep_flow, "idle_phases", unknown)
    with pytest.raises(SweepIncomplete) as failed:
        sweep_flow.reassessment_sweep(clock.now())
    assert failed.value.failed == {"opened": "RuntimeError"}
    assert failed.value.report.escalated == 1
    assert flow_app.run(lambda uow: uow.session.get_one(Alert, alert.id).tier) == 1
