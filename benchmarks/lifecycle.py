"""The lifecycle through Prefect against the same steps called directly: per case, the
initial_contact flow after the referral and the safety_assessment flow after the first assessment
(assessment, plan, documents rendered, notifications enqueued and sent), run against a local
Prefect server on PostgreSQL (the recommended set-up), with Harbour's store on SQLite and
PostgreSQL; against two baselines: the same step calls in-process
(``harbour.orchestration.pipeline.process``), and bare Prefect flows with as many tasks (each
doing nothing, with the same flow and task options) run on the same server.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import BACKENDS, Row, seed_agency, temp_store
from benchmarks.orchestration import _postgres_database
from flows.context import use_app
from flows.local_server import drain_clients, local_server
from harbour import events
from harbour.app import App
from harbour.assessments.submit import submit_assessment
from harbour.cases.intake import refer
from harbour.db.models import Case
from harbour.orchestration import pipeline


def run(size: int = 20) -> list[Row]:
    if size < 1:
        return []  # needs a Prefect server: not at smoke size
    rows = []
    with _prefect() as url:
        for backend in BACKENDS:
            with temp_store(backend) as app:
                seed_agency(app)
                flows_seconds, direct_seconds, bare_seconds = _per_case(app, url, size)
            rows.append(
                Row(
                    f"lifecycle flows per case, store on {backend}",
                    flows_seconds,
                    direct_seconds,
                    "s/case",
                    "same steps called directly",
                )
            )
            rows.append(
                Row(
                    f"lifecycle flows per case vs bare flows, {backend}",
                    flows_seconds,
                    bare_seconds,
                    "s/case",
                    "bare Prefect flows, as many tasks, same server",
                )
            )
    return rows


@contextmanager
def _prefect() -> Iterator[str]:
    from prefect.settings import temporary_settings

    with (
        tempfile.TemporaryDirectory(prefix="harbour-prefect-") as home,
        _postgres_database() as database,
        local_server(Path(home), database_url=database) as url,
        temporary_settings(updates={"api.url": url}),  # type: ignore[dict-item]
    ):
        quiet = logging.getLogger("prefect")  # a few lines per run and task: not for the table
        level = quiet.level
        quiet.setLevel(logging.WARNING)
        try:
            yield url
        finally:
            drain_clients()
            quiet.setLevel(level)


def _per_case(app: App, url: str, size: int) -> tuple[float, float, float]:
    """(median seconds per case through the flows, the same directly, bare flows)."""
    from flows.lifecycle import initial_contact, safety_assessment

    prefect = _in_mode(app, "prefect")
    bare_referral, bare_assessment = _bare_flows()
    use_app(prefect)
    try:
        initial_contact(_referral(prefect))  # warm-up: the flows' first run registers them
        bare_referral("warm-up")
        through_flows = [_one(prefect, initial_contact, safety_assessment) for _ in range(size)]
        direct = [_one(prefect, _direct_referral, _direct_assessment) for _ in range(size)]
        bare = [_one(prefect, bare_referral, bare_assessment) for _ in range(size)]
    finally:
        use_app(None)
        prefect.dispose()
    return statistics.median(through_flows), statistics.median(direct), statistics.median(bare)


def _bare_flows() -> tuple[Any, Any]:
    """Two Prefect flows with as many tasks as initial_contact and safety_assessment (at the
    initial_contact point) run, each task doing nothing; the same flow and task options."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    from flows.lifecycle import FLOW_OPTIONS
    from harbour.orchestration import pipeline, steps

    @task(cache_policy=NO_CACHE, persist_result=False, log_prints=False)
    def nothing(subject_id: str) -> None:
        return None

    # is_pending, the steps, mark_processed, deliver_pending; the assessment also point_of, and
    # the steps its shared flow runs for every point it takes
    referral_tasks = len(steps.INITIAL_CONTACT) + 3
    assessment_tasks = len(steps.ASSESSMENT) + len(pipeline.STEPS_OF_OTHER_POINTS) + 4

    @flow(name="bare_referral", **FLOW_OPTIONS)  # type: ignore[call-overload]
    def bare_referral(case_id: str) -> None:
        for _ in range(referral_tasks):
            nothing(case_id)

    @flow(name="bare_assessment", **FLOW_OPTIONS)  # type: ignore[call-overload]
    def bare_assessment(assessment_id: str) -> None:
        for _ in range(assessment_tasks):
            nothing(assessment_id)

    return bare_referral, bare_assessment


def _one(app: App, on_referral: Any, on_assessment: Any) -> float:
    case_id = _referral(app)
    started = time.perf_counter()
    on_referral(case_id)
    elapsed = time.perf_counter() - started
    assessment_id = _assessment(app, case_id)
    started = time.perf_counter()
    on_assessment(assessment_id)
    return elapsed + time.perf_counter() - started


def _direct_referral(case_id: str) -> None:
    from flows.context import harbour_app

    pipeline.process(harbour_app(), events.CASE_REFERRED, case_id)


def _direct_assessment(assessment_id: str) -> None:
    from flows.context import harbour_app

    pipeline.process(harbour_app(), events.ASSESSMENT_SUBMITTED, assessment_id)


def _in_mode(app: App, mode: str) -> App:
    settings = app.settings.model_copy(update={"orchestration": mode})
    return App(settings, app.clock, app.cipher.keyring)


def _referral(app: App) -> str:
    data = {"youth": {"name": "Bench Youth"}, "situation": "just_left", "caseworker": "cw1"}
    return refer(app, "coord", data, None, allow_duplicate=True).id


def _assessment(app: App, case_id: str) -> str:
    reference = app.run(lambda uow: uow.session.get_one(Case, case_id).reference)
    outcome = submit_assessment(app, "cw1", reference, "initial_contact", _safest(app))
    return outcome.assessment_id


def _safest(app: App, **changed: str) -> dict[str, Any]:
    questions = app.reference.instrument.questions.values()
    return {q.id: q.answers()[0] for q in questions if q.type != "text"} | changed
