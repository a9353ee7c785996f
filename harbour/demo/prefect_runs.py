"""The demo's Prefect side: a temporary local Prefect server and real flow runs in this process.

``harbour demo --orchestration prefect`` (the default) starts ``prefect server start`` with its
home in the demo folder, points this process's Prefect client at it, hands the flows the demo's
App (with its simulated clock), and calls Harbour's flows as the deployments' triggers and
schedules would: ``initial_contact`` for a referral, the assessment point's flow for a submitted
assessment, ``reassessment_sweep`` on the sweep's ticks, ``deliver_notifications`` for the relay.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from flows.context import use_app
from flows.lifecycle import (
    discharge,
    follow_up,
    initial_contact,
    planning_meeting,
    safety_assessment,
)
from flows.local_server import drain_clients, local_server
from flows.relay import deliver_notifications
from flows.settings import without_heartbeat
from flows.sweep import reassessment_sweep
from harbour.app import App
from harbour.demo.failure import DemoFailure
from harbour.demo.orchestrator import triggered

FLOWS: dict[str, Callable[[str], Any]] = {
    "initial_contact": initial_contact,
    "safety_assessment": safety_assessment,
    "planning_meeting": planning_meeting,
    "discharge": discharge,
    "follow_up": follow_up,
}
# The server's background services the demo does not use. The task-run recorder and the event
# persister stay on, writing in batches (``local_server``): the leak check then searches the task
# runs and events Prefect keeps, as a deployment's server keeps them.
IDLE_SERVICES = (
    "SCHEDULER",
    "LATE_RUNS",
    "FOREMAN",
    "REPOSSESSOR",
    "CANCELLATION_CLEANUP",
    "PAUSE_EXPIRATIONS",
    "TRIGGERS",
)


class PrefectRuns:
    """The orchestrator of ``harbour.demo.orchestrator`` as Prefect flow runs."""

    name = "prefect"

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()

    def process(self, app: App) -> list[str]:
        names = []
        for name, event in triggered(app):
            FLOWS[name](event.subject_id)
            self.runs[name] += 1
            names.append(name)
        return names

    def sweep(self, app: App, at: datetime) -> dict[str, int]:
        self.runs["reassessment_sweep"] += 1
        report: dict[str, int] = reassessment_sweep(now=at)
        return report

    def deliver(self, app: App) -> int:
        self.runs["deliver_notifications"] += 1
        sent: int = deliver_notifications()
        return sent


@contextmanager
def prefect_runs(app: App, home: Path) -> Iterator[PrefectRuns]:
    """A local Prefect server under ``home`` for the duration, and the flows on ``app``."""
    from prefect.settings import temporary_settings

    local = {"home": home / "client", "results.local_storage_path": home / "results"}
    with ExitStack() as stack:
        url = stack.enter_context(_server(home / "server"))
        client = {"api.url": url, **local}
        with temporary_settings(updates=client), without_heartbeat():  # type: ignore[arg-type]
            use_app(app)
            try:
                yield PrefectRuns()
            finally:
                use_app(None)
                drain_clients()


@contextmanager
def _server(home: Path) -> Iterator[str]:
    """``local_server`` with the idle services off; a failed start as the demo's own error."""
    with ExitStack() as stack:
        stack.enter_context(_idle_services())
        try:
            url = stack.enter_context(local_server(home))
        except (RuntimeError, TimeoutError) as exc:
            detail = f"{type(exc).__name__}; see {home / 'server.log'}"
            raise DemoFailure(
                "prefect_server", f"the local Prefect server did not start: {detail}"
            ) from None
        yield url


@contextmanager
def _idle_services() -> Iterator[None]:
    """The server inherits this process's environment (``local_server``): switch services off
    there for as long as it starts."""
    names = [f"PREFECT_SERVER_SERVICES_{name}_ENABLED" for name in IDLE_SERVICES]
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, "false"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
