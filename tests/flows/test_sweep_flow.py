"""The reassessment sweep under Prefect: one flow run for every case, in batches."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from benchmarks.sweep import check_due_set, outbox_rows, seed_cases
from flows.sweep import reassessment_sweep
from harbour.app import App
from harbour.cases.intake import refer
from harbour.crypto import Keyring
from tests.conftest import START
from tests.db.helpers import row_counts
from tests.flows.conftest import PrefectServer
from tests.support import referral


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


def test_the_sweep_and_relay_flows_refuse_another_stores_keyring(
    prefect_server: PrefectServer,
    seeded: App,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker whose key file is another store's ran the sweep (its reminders enqueued) and
    the relay as if nothing were wrong: the flows' App is checked when it is built (once a
    process), so every task refuses, with the code only, and nothing changes."""
    from flows.context import harbour_app, use_app
    from flows.relay import deliver_notifications
    from flows.tasks import StepFailed

    refer(seeded, "coord", referral("Fw"), None)
    other = tmp_path / "other-keys.json"
    Keyring.generate().save(other)
    monkeypatch.setenv("HARBOUR_HOME", str(seeded.settings.home))
    monkeypatch.setenv("HARBOUR_DATABASE_URL", seeded.settings.resolved_database_url)
    monkeypatch.setenv("HARBOUR_KEY_FILE", str(other))
    before = row_counts(seeded)
    use_app(None)
    try:
        for run in (lambda: reassessment_sweep(START), deliver_notifications):
            with pytest.raises(StepFailed) as refused:
                run()
            assert refused.value.cause == "wrong_keyring"
        assert row_counts(seeded) == before
        monkeypatch.setenv("HARBOUR_KEY_FILE", str(seeded.settings.resolved_key_file))
        own = harbour_app()  # the store's own key file: built, checked, and kept
        assert harbour_app() is own
        assert reassessment_sweep(START)["reminders"] > 0
    finally:
        app = harbour_app.__globals__["_app"]
        use_app(None)
        if app is not None:
            app.dispose()


def test_the_sweep_flow_fails_once_when_there_is_no_store(
    prefect_server: PrefectServer,
    app: App,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No store where the flows' App looks (an SQLite file that is not there, a PostgreSQL
    database without Harbour's tables): the sweep fails once, with that code, rather than
    reporting its six phases failed alike, and no phase runs."""
    import logging

    from sqlalchemy.engine import make_url

    from flows.context import use_app
    from flows.tasks import StepFailed
    from harbour.clock import FixedClock

    if app.engine.dialect.name == "sqlite":
        nowhere = app.settings.model_copy(
            update={"home": tmp_path / "nowhere", "database_url": None}
        )
    else:  # the test database, seen through a schema that holds no table
        url = make_url(app.settings.resolved_database_url).update_query_dict(
            {"options": "-csearch_path=no_store_here"}
        )
        nowhere = app.settings.model_copy(
            update={"database_url": SecretStr(url.render_as_string(hide_password=False))}
        )
    missing = App(nowhere, FixedClock(START), app.cipher.keyring)
    use_app(missing)
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(StepFailed) as failed:
            reassessment_sweep(START)
    finally:
        use_app(None)
        missing.dispose()
    assert (failed.value.step, failed.value.cause) == ("idle_phases", "store_not_initialised")
    assert "sweep phase" not in caplog.text
