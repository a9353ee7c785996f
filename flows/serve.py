"""``harbour serve``: every deployment of ``deployments/prefect.yaml`` served from one process,
with its schedules and event triggers, and the event publisher beside it (or, with workers
running the deployments, the publisher alone)."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from importlib import import_module
from pathlib import Path
from typing import Any

import yaml

from flows import publisher
from harbour.app import App
from harbour.shipped import shipped

PREFECT_FILE = shipped("flows", "prefect.yaml")  # deployments/prefect.yaml of the repository
AGAIN_AFTER = 10.0  # seconds between two tries to serve, while the Prefect server is away

log = logging.getLogger(__name__)


def deployment_specs(path: Path = PREFECT_FILE) -> list[dict[str, Any]]:
    """The ``deployments`` of a prefect.yaml (anchors and merge keys resolved), each naming a
    flow that exists; a file that is not that is refused by its path and problem."""
    from harbour.errors import InvalidInput

    def refuse(problem: str) -> InvalidInput:
        return InvalidInput([("--prefect-file", f"{path}: {problem}")])

    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise refuse(f"cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise refuse(
            f"line {mark.line + 1}: not valid YAML" if mark else "not valid YAML"
        ) from None
    specs = document.get("deployments") if isinstance(document, dict) else None
    if not isinstance(specs, list) or not specs:
        raise refuse("not a deployments file (a `deployments` list)")
    for number, spec in enumerate(specs, 1):
        if not isinstance(spec, dict) or not all(
            isinstance(spec.get(key), str) for key in ("name", "entrypoint")
        ):
            raise refuse(f"deployment {number}: needs a name and an entrypoint")
        try:
            load_flow(spec["entrypoint"])
        except (ImportError, AttributeError, ValueError):
            raise refuse(f"deployment {number}: no flow at {spec['entrypoint']}") from None
    return specs


def load_flow(entrypoint: str) -> Any:
    """``package.module:flow`` (a module entrypoint) to the flow object."""
    module, _, name = entrypoint.partition(":")
    return getattr(import_module(module), name)


def runner_deployment(spec: dict[str, Any]) -> Any:
    """A served deployment from its prefect.yaml entry, its schedules in their zone (UTC)."""
    from prefect.deployments.runner import EntrypointType
    from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
    from prefect.schedules import Cron

    return load_flow(spec["entrypoint"]).to_deployment(
        name=spec["name"],
        description=spec.get("description"),
        tags=spec.get("tags"),
        schedules=[
            Cron(s["cron"], timezone=s.get("timezone", "UTC")) for s in spec.get("schedules", [])
        ],
        triggers=[DeploymentEventTrigger(**t) for t in spec.get("triggers", [])],
        concurrency_limit=spec.get("concurrency_limit"),
        enforce_parameter_schema=spec.get("enforce_parameter_schema", True),
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


# What Prefect's runner raises once its polls of the server failed several times in a row
# (``prefect.utilities.services.critical_service_loop``, which counts only connection errors and
# 5xx answers): the server went away while serving. It carries no connection error of its own.
RUNNER_GAVE_UP = "Service exceeded error threshold."


def unreachable(exc: BaseException, seen: frozenset[int] = frozenset()) -> str | None:
    """What says the Prefect server could not be reached (a connection refused or timed out, a
    5xx answer, the runner giving up its polls), found in ``exc``, the errors it groups, or the
    one it was raised from: applying a deployment, Prefect wraps a server still starting up in
    a ``DeploymentApplyError`` (``from`` its HTTP error), or, reading a 502's HTML as JSON, fails
    with a ``ValueError`` while handling it (then the error handled counts; for any other error,
    raised while handling a connection error, it does not: a bug there is not waited out). None
    for anything else."""
    import httpx

    seen |= {id(exc)}
    if isinstance(exc, BaseExceptionGroup):
        return next(filter(None, (unreachable(e, seen) for e in exc.exceptions)), None)
    handled = _handled(exc) if isinstance(exc, ValueError) else []
    earlier = {id(e): e for e in (exc.__cause__, *handled) if e is not None and id(e) not in seen}
    if why := next(filter(None, (unreachable(e, seen) for e in earlier.values())), None):
        return why
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500:
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError)):
        return type(exc).__name__
    if isinstance(exc, RuntimeError) and str(exc) == RUNNER_GAVE_UP:
        return "its polls kept failing"
    return None


def _handled(exc: BaseException, most: int = 8) -> list[BaseException]:
    """The errors ``exc`` was raised while handling, innermost first (the JSON reader's own
    ``StopIteration`` comes before the HTTP error it was reading), each once."""
    found: list[BaseException] = []
    context = exc.__context__
    while context is not None and context not in found and len(found) < most:
        found.append(context)
        context = context.__context__
    return found


def serve_deployments(deployments: list[Any], applied: threading.Event) -> None:
    """``prefect.serve(*deployments)``, its schedules left running when it stops, with
    ``applied`` set once every deployment and its triggers are on the server (``prefect.serve``
    applies them and starts serving at once, with no moment in between to be told of)."""
    from prefect.exceptions import TerminationSignal
    from prefect.flows import _display_serve_start_message
    from prefect.runner import Runner

    runner = Runner(pause_on_shutdown=False)
    for deployment in deployments:
        runner.add_deployment(deployment)
    applied.set()
    _display_serve_start_message(*deployments)
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal) as exc:  # as prefect.serve: a clean stop
        log.info("%s received, shutting down", type(exc).__name__)


def publish_only(app: App, poll: float = publisher.POLL_SECONDS) -> None:
    """Only the event publisher, until SIGINT or SIGTERM: for deployments run by workers."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    asyncio.run(publisher.run(app, stop, poll))


def serve(
    app: App,
    path: Path = PREFECT_FILE,
    poll: float = publisher.POLL_SECONDS,
    again_after: float = AGAIN_AFTER,
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM). Stopping leaves the deployments' schedules
    running (another ``harbour serve``, or this one restarted, serves them); a Prefect server
    that cannot be reached (down at the start, or for more than the runner's few polls) is
    waited for, and served again once it answers."""
    deployments = [runner_deployment(s) for s in deployment_specs(path)]
    # The publisher emits nothing until the deployments' triggers are on the server: what was
    # recorded while serve was stopped (a restart, a first start on a new Prefect server) was
    # emitted before them, started no flow, and waited for a sweep (5 to 20 minutes).
    applied = threading.Event()
    thread, stop = publisher.start_thread(app, poll, applied)
    try:
        while True:
            try:
                applied.clear()  # applying again deletes each trigger before making it anew
                serve_deployments(deployments, applied)
                return
            except Exception as exc:
                why = unreachable(exc)
                if why is None:  # not the server being away (a refusal, a bug): no looping on it
                    raise
                log.warning(
                    "the Prefect server is out of reach (%s); serving again in %.0f s",
                    why,
                    again_after,
                )
                time.sleep(again_after)
    finally:
        stop.set()
        thread.join(timeout=10)
