"""deployments/prefect.yaml: one deployment per flow, each naming a flow that exists, with its
schedule (in UTC) or its event trigger passing ids from the event."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import pytest

from flows.serve import deployment_specs, load_flow, runner_deployment
from harbour.app import App
from tests.support import invoke

FLOWS = {
    "flows.lifecycle:initial_contact",
    "flows.lifecycle:safety_assessment",
    "flows.lifecycle:planning_meeting",
    "flows.lifecycle:discharge",
    "flows.lifecycle:follow_up",
    "flows.sweep:reassessment_sweep",
    "flows.relay:deliver_notifications",
}


def test_one_deployment_per_flow_on_the_process_pool() -> None:
    specs = deployment_specs()
    assert {s["entrypoint"] for s in specs} == FLOWS and len(specs) == len(FLOWS)
    for spec in specs:
        assert spec["enforce_parameter_schema"] is True
        assert spec["work_pool"]["name"] == "harbour"
        assert hasattr(load_flow(spec["entrypoint"]), "to_deployment")


def test_schedules_have_a_zone_and_triggers_pass_ids() -> None:
    for spec in deployment_specs():
        for schedule in spec.get("schedules", []):
            assert schedule["timezone"] == "UTC"
        for trigger in spec.get("triggers", []):
            assert trigger["match"]["prefect.resource.id"] == "harbour.case.*"
            assert all(v.startswith("{{ event.payload.") for v in trigger["parameters"].values())
            flow = load_flow(spec["entrypoint"])
            assert set(trigger["parameters"]) == set(flow.parameters.properties)


def test_serve_refuses_a_deployments_file_it_cannot_use_before_serving(
    seeded: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`harbour serve --prefect-file` naming a file that is not there, not YAML, or not a
    deployments file is refused by its path and problem (exit 2) before anything is served,
    not as an internal error after "Serving Harbour's flows."."""
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")  # never reached
    files = {
        "missing.yaml": None,
        "broken.yaml": "deployments: [\n",
        "no-list.yaml": "deployments: 5\n",
        "no-entrypoint.yaml": "deployments:\n  - name: sweep\n",
        "no-such-flow.yaml": "deployments:\n  - {name: sweep, entrypoint: flows.sweep:nothing}\n",
    }
    for name, text in files.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        result = invoke(seeded, "serve", "--prefect-file", str(path))
        assert result.exit_code == 2, (name, result)
        assert "--prefect-file" in result.stderr and "internal" not in result.stderr, name
        assert "Serving" not in result.stdout, name


def test_every_assessment_point_starts_exactly_one_flow() -> None:
    """Each flow an assessment can start has one deployment whose trigger matches it."""
    from harbour import events
    from harbour.domain.vocab import AssessmentPoint
    from harbour.orchestration.pipeline import flow_of

    started = []
    for spec in deployment_specs():
        for trigger in spec.get("triggers", []):
            if trigger["expect"] == ["harbour.assessment.submitted"]:
                started.append(trigger["match"]["harbour.flow"])
                assert spec["entrypoint"].endswith(f":{started[-1]}")
    flows = {flow_of(events.ASSESSMENT_SUBMITTED, point) for point in AssessmentPoint}
    assert sorted(started) == sorted(flows)


def test_schedules_keep_their_pace_when_the_clocks_go_back() -> None:
    # In UTC, as served: in a local zone the hour the clocks went back was skipped (the sweep
    # went 75 minutes without running, the relay 61, on the first Sunday of November).
    from datetime import UTC, datetime, timedelta

    from prefect.server.schemas.schedules import CronSchedule

    built = [runner_deployment(s) for s in deployment_specs()]
    assert all(d.enforce_parameter_schema for d in built)
    night = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # New York: 00:00 EDT to 03:00 EST
    for deployment in (d for d in built if d.schedules):
        cron = deployment.schedules[0].schedule
        assert cron.timezone == "UTC"
        schedule = CronSchedule(cron=cron.cron, timezone=cron.timezone)
        runs = asyncio.run(schedule.get_dates(start=night, end=night + timedelta(hours=4)))
        gaps = {(later - earlier).total_seconds() for earlier, later in itertools.pairwise(runs)}
        assert len(gaps) == 1, (deployment.name, gaps)


def test_serve_waits_for_a_server_that_went_away_and_never_pauses_the_schedules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Prefect's runner gives up after a few failed polls of its server: `harbour serve` serves
    # again once it answers, instead of exiting with the deployments paused; and stopping
    # leaves the schedules running for another serve (a rolling restart).
    import threading

    from flows import publisher, serve

    calls: list[bool] = []  # whether the publisher was let go when an attempt began
    stop, ready = threading.Event(), threading.Event()
    standing_in = threading.Thread(target=stop.wait)
    standing_in.start()

    def serving(deployments: object, applied: threading.Event) -> None:
        assert applied is ready
        calls.append(applied.is_set())
        if len(calls) < 3:
            raise ExceptionGroup("unreachable", [ConnectionError("all attempts failed")])

    def publishing(app: object, poll: float, applied: threading.Event) -> object:
        nonlocal ready
        ready = applied
        applied.set()  # as if an earlier attempt had applied them
        return standing_in, stop

    monkeypatch.setattr(serve, "serve_deployments", serving)
    monkeypatch.setattr(publisher, "start_thread", publishing)
    serve.serve(None, again_after=0)  # type: ignore[arg-type]  # the publisher is stood in for
    # Each attempt holds the publisher until its deployments' triggers are applied again.
    assert calls == [False, False, False] and stop.is_set()

    # Anything else (a refusal, a bug) is not waited out: it ends serve, for its supervisor.
    def refused(deployments: object, applied: threading.Event) -> None:
        raise ExceptionGroup("refused", [RuntimeError("401 Unauthorized")])

    monkeypatch.setattr(serve, "serve_deployments", refused)
    with pytest.raises(ExceptionGroup):
        serve.serve(None, again_after=0)  # type: ignore[arg-type]


def test_served_deployments_keep_their_schedules_when_serve_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The runner serve_deployments starts leaves the schedules running when it stops, and
    the publisher is let go only once every deployment is applied."""
    import threading

    from prefect import runner as runners

    from flows import serve

    applied = threading.Event()
    made: list[dict[str, object]] = []
    added: list[tuple[object, bool]] = []

    class Runner:
        def __init__(self, **options: object) -> None:
            made.append(options)

        def add_deployment(self, deployment: object) -> None:
            added.append((deployment, applied.is_set()))

        async def start(self) -> None:
            assert applied.is_set()

    monkeypatch.setattr(runners, "Runner", Runner)
    deployments = [runner_deployment(s) for s in deployment_specs()]
    serve.serve_deployments(deployments, applied)
    assert made == [{"pause_on_shutdown": False}]
    assert added == [(d, False) for d in deployments] and applied.is_set()


def test_a_deployment_not_applied_because_the_server_was_away_is_waited_out() -> None:
    # Prefect applies the deployments before it serves them, and wraps what failed in a
    # DeploymentApplyError (``raise ... from exc``): a server still starting up (refusing
    # connections, answering 503) is waited out as any other absence was; a refusal is not.
    # Seen in CI: serve exited (1) on a server that came up a moment later.
    import httpx
    from prefect.deployments.runner import DeploymentApplyError

    from flows.serve import unreachable

    request = httpx.Request("POST", "http://127.0.0.1/api/deployments/")

    def applying(cause: BaseException) -> DeploymentApplyError:
        try:
            raise DeploymentApplyError("Error while applying deployment") from cause
        except DeploymentApplyError as exc:
            return exc

    starting = httpx.HTTPStatusError("503", request=request, response=httpx.Response(503))
    refused = httpx.HTTPStatusError("422", request=request, response=httpx.Response(422))
    assert unreachable(applying(httpx.ConnectError("refused"))) == "ConnectError"
    assert unreachable(applying(starting)) == "HTTP 503"
    assert unreachable(applying(refused)) is None
    assert unreachable(DeploymentApplyError("a bad deployment")) is None

    # A 502 from a proxy, its body HTML: Prefect reads it as JSON for its detail while handling
    # the error, and that fails with the 502 only as the error it was handling.
    bad_gateway = httpx.HTTPStatusError("502", request=request, response=httpx.Response(502))
    try:
        try:
            raise bad_gateway
        except httpx.HTTPStatusError:
            json.loads("<html>")
    except ValueError as unreadable:
        assert unreachable(unreadable) == "HTTP 502"
    # Any other error raised while handling a connection error is a bug there, not waited out.
    try:
        try:
            raise httpx.ConnectError("refused")
        except httpx.ConnectError:
            {}["missing"]
    except KeyError as bug:
        assert unreachable(bug) is None


def test_the_sweep_and_the_relay_give_up_a_hung_run_before_it_holds_their_slot() -> None:
    """Each runs one at a time, a run that collides queued: a relay hung on a socket would
    hold the slot, and no alert would climb its ladder again until someone killed it (nor
    would anything be sent but what commands send themselves). A run is timed out
    far above what one takes (a relay pass with 500 due, or moving 7,501 alerts up, takes
    seconds; a sweep's worst case measured 78 s), and soon enough that a hung sweep never
    delays the next quarter hour's, nor a hung relay an alert's climb by a rung. A worker and
    `harbour serve` both run the flow their entrypoint names: the timeout is the flow's."""
    from datetime import timedelta

    periods = {"reassessment-sweep": timedelta(minutes=15), "deliver-notifications": None}
    ack_timeout = timedelta(minutes=10)  # harbour/data/policy.yaml's alert_ack_timeout
    singles = {s["name"]: s for s in deployment_specs() if s.get("concurrency_limit") == 1}
    assert set(singles) == set(periods)
    for name, spec in singles.items():
        timeout = load_flow(spec["entrypoint"]).timeout_seconds
        assert timeout is not None and timeout >= 120, name
        bound = periods[name] or ack_timeout / 2
        assert timedelta(seconds=timeout) <= bound, name
