"""The reassessment sweep under Prefect: one flow run for every case, in batches."""

from __future__ import annotations

from benchmarks.sweep import check_due_set, outbox_rows, seed_cases
from flows.sweep import reassessment_sweep
from harbour.app import App
from tests.conftest import START


def _sweep_runs() -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    named = FlowFilter(name=FlowFilterName(any_=["reassessment_sweep"]))
    with get_client(sync_client=True) as client:
        return client.count_flow_runs(flow_filter=named)


def test_one_flow_run_sweeps_every_case_once(flow_app: App) -> None:
    seed_cases(flow_app, 300)
    before = _sweep_runs()
    report = reassessment_sweep(START)
    assert _sweep_runs() == before + 1
    assert report["reminders"] > 0
    check_due_set(flow_app, START)
    enqueued = outbox_rows(flow_app)
    assert reassessment_sweep(START)["reminders"] == 0 and outbox_rows(flow_app) == enqueued
