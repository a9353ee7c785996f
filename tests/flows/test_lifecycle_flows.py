"""The lifecycle flows under Prefect: once per event, and nothing but codes when a step fails."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from flows.lifecycle import initial_contact
from flows.sweep import reassessment_sweep
from flows.tasks import StepFailed
from harbour import events, pipeline, steps
from harbour.app import App
from harbour.clock import FixedClock
from tests.pipeline.helpers import case_by_reference, lifecycle_events, refer


def test_initial_contact_twice_assigns_and_notifies_once(flow_app: App, tmp_path: Path) -> None:
    case = refer(flow_app, tmp_path)
    initial_contact(case.id)
    initial_contact(case.id)
    assert case_by_reference(flow_app, case.reference).caseworker_id is not None
    assert len(lifecycle_events(flow_app, events.CASE_ASSIGNED)) == 1
    assert lifecycle_events(flow_app, events.CASE_REFERRED)[0].processed_at is not None


def test_a_flow_killed_midway_is_finished_by_the_sweep(
    flow_app: App, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(uow: object, agency_id: str) -> None:
        raise RuntimeError("CANARYvalue")

    case = refer(flow_app, tmp_path)
    monkeypatch.setattr(steps, "least_loaded_caseworker", crash)
    with pytest.raises(StepFailed) as failed:
        initial_contact(case.id)
    assert "CANARY" not in str(failed.value) and "RuntimeError" in str(failed.value)
    assert lifecycle_events(flow_app, events.CASE_REFERRED)[0].processed_at is None
    monkeypatch.undo()
    clock.advance(pipeline.PREFECT_GRACE + timedelta(seconds=1))
    assert reassessment_sweep()["events"] == 1
    assert case_by_reference(flow_app, case.reference).caseworker_id is not None
    assert reassessment_sweep()["events"] == 0
