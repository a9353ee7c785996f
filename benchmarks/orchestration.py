"""Prefect settings, measured: what a flow run costs with and without the heartbeat, on a server
backed by SQLite and by PostgreSQL, and how long a served deployment takes to start a triggered
run with the runner polling every second against the default ten.

Each figure is beside the baseline it is compared with; docs/orchestration.md explains the choices.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text

import flows  # noqa: F401  (Harbour's Prefect settings first)
from benchmarks.common import POSTGRES_URL, Row, temp_store
from flows.local_server import drain_clients, harbour_serve, local_server, server_environment
from harbour.admin.staffing import AgencyIn, StaffIn, create_agency, create_staff
from harbour.app import App, UnitOfWork
from harbour.cases.intake import refer
from harbour.db.engine import make_engine
from harbour.domain.vocab import Role

TASKS = 3


def run(size: int = 20) -> list[Row]:
    if size < 1:
        return []  # starts Prefect servers: not at smoke size
    rows = []
    for backend in ("sqlite", "postgres"):
        with _server(backend) as url:
            on = _flow_seconds(url, size, heartbeat=180)
            off = _flow_seconds(url, size, heartbeat=None)
            rows.append(
                Row(
                    f"flow run, {TASKS} tasks, server on {backend}",
                    off,
                    on,
                    "s/run, heartbeat off",
                    "heartbeat on (default)",
                )
            )
            if backend == "postgres":
                fast = _trigger_latency(url, 1, max(3, size // 4))
                default = _trigger_latency(url, 10, max(3, size // 4))
                rows.append(
                    Row(
                        "referral to initial_contact start, served",
                        fast,
                        default,
                        "s, runner poll 1 s",
                        "poll 10 s (default)",
                    )
                )
    return rows


@contextmanager
def _server(backend: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="harbour-prefect-") as folder:
        if backend == "sqlite":
            with local_server(Path(folder)) as url:
                yield url
            return
        with (
            _postgres_database() as database_url,
            local_server(Path(folder), database_url=database_url) as url,
        ):
            yield url


@contextmanager
def _postgres_database() -> Iterator[str]:
    name = f"prefect_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_engine(POSTGRES_URL).url.set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _flow_seconds(url: str, size: int, heartbeat: int | None) -> float:
    """Median seconds per run of a flow of trivial tasks, after one warm-up run."""
    from prefect.settings import temporary_settings

    updates = {"api.url": url, "flows.heartbeat_frequency": heartbeat}
    with temporary_settings(updates=updates):  # type: ignore[arg-type]
        _trivial()
        times = []
        for _ in range(size):
            started = time.perf_counter()
            _trivial()
            times.append(time.perf_counter() - started)
        drain_clients()
    return statistics.median(times)


def _trigger_latency(url: str, poll: int, n: int) -> float:
    """Median seconds from a committed referral to its triggered flow run's start, with
    ``harbour serve`` polling every ``poll`` seconds (publisher at 1 s)."""
    with temp_store("sqlite") as app:
        _seed(app)
        env = {
            **server_environment(app.settings.home),
            "PREFECT_API_URL": url,
            "PREFECT_RUNNER_POLL_FREQUENCY": str(poll),
            "HARBOUR_HOME": str(app.settings.home),
            "HARBOUR_DATABASE_URL": app.settings.resolved_database_url,
            "HARBOUR_KEY_FILE": str(app.settings.resolved_key_file),
            "HARBOUR_ORCHESTRATION": "prefect",
        }
        with harbour_serve(env, app.settings.home / "serve.log"):
            latencies = [_one_referral(app, url) for _ in range(n)]
    return statistics.median(latencies)


def _seed(app: App) -> None:
    def work(uow: UnitOfWork) -> None:
        create_agency(uow, AgencyIn(name="bench", timezone="America/New_York"))
        create_staff(uow, StaffIn(handle="coord", agency="bench", role=Role.COORDINATOR))
        create_staff(uow, StaffIn(handle="cw1", agency="bench", role=Role.CASEWORKER))

    app.run(work)


def _one_referral(app: App, url: str, timeout: float = 120) -> float:
    data = {"youth": {"name": "Bench Youth"}, "situation": "just_left"}
    case = refer(app, "coord", data, None, allow_duplicate=True)
    committed = datetime.now(UTC)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = _run_started(url, case.id)
        if started is not None:
            return (started - committed).total_seconds()
        time.sleep(0.2)
    raise TimeoutError("no initial_contact run started")


def _run_started(url: str, case_id: str) -> datetime | None:
    body = {"flows": {"name": {"any_": ["initial_contact"]}}, "limit": 20, "sort": "ID_DESC"}
    for found in httpx.post(f"{url}/flow_runs/filter", json=body, timeout=10).json():
        if found["parameters"].get("case_id") == case_id and found["start_time"]:
            return datetime.fromisoformat(found["start_time"])
    return None


def _trivial() -> None:
    _trivial_flow()


def _make_flow():  # type: ignore[no-untyped-def]
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    @task(cache_policy=NO_CACHE, persist_result=False)
    def step(i: int) -> int:
        return i

    @flow(persist_result=False)
    def trivial() -> None:
        for i in range(TASKS):
            step(i)

    return trivial


_trivial_flow = _make_flow()
