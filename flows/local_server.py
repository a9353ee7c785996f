"""A Prefect server on this machine, as a subprocess: for the end-to-end test, the benchmarks and
the demo. Telemetry off, bound to 127.0.0.1, its home and logs in a folder of the caller's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from flows.settings import FORCED


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# The server records task runs and events in batches, at least every second, rather than a write
# per task run as it arrives. On SQLite those writes collided with creating the next flow run: the
# server answered 503 "database is locked" and the client waited 2 s before retrying (13 times in
# one module of tests, half its time). Whole seconds: Prefect 3.9 reads the task-run recorder's
# interval through int(), and 0.5 became 0, a loop that kept a core busy. An operator's own values
# win.
_FLUSH_INTERVALS = (
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL",
)
_SERVER_DEFAULTS = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "500",
    **dict.fromkeys(_FLUSH_INTERVALS, "1"),
}


def with_server_defaults(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with Harbour's server defaults where it sets none."""
    return {**_SERVER_DEFAULTS, **env}


def flush_seconds(env: Mapping[str, str]) -> float:
    """The longest a server started with ``env`` holds a task run or an event before writing it."""
    merged = with_server_defaults(env)
    return max(float(merged[name]) for name in _FLUSH_INTERVALS)


def server_environment(home: Path, database_url: str | None = None) -> dict[str, str]:
    """The environment a local server runs with (and clients of it may reuse)."""
    env = {
        **with_server_defaults(os.environ),
        **FORCED,
        "PREFECT_HOME": str(home),
        "PREFECT_UI_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    if database_url is not None:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    return env


@contextmanager
def local_server(
    home: Path, *, database_url: str | None = None, timeout: float = 180
) -> Iterator[str]:
    """Start ``prefect server start`` on a free port; yields its API URL, stops it after.

    Args:
        home: PREFECT_HOME for the server (its SQLite database unless ``database_url``).
        database_url: e.g. ``postgresql+asyncpg://user@127.0.0.1:5432/prefect``.
    """
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    with (home / "server.log").open("ab") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env=server_environment(home, database_url),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}/api"
        wait_healthy(url, process, timeout)
        yield url
    finally:
        stop(process)


@contextmanager
def harbour_serve(env: dict[str, str], log: Path, timeout: float = 120) -> Iterator[None]:
    """``harbour serve`` as a subprocess with ``env`` (HARBOUR_* and PREFECT_API_URL), until
    its deployments are served; stopped (SIGTERM) afterwards."""
    process = serve_process(env, log)
    try:
        deadline = time.monotonic() + timeout
        while b"being served" not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("harbour serve did not start; see its log")
            time.sleep(0.25)
        yield
    finally:
        stop(process)


def serve_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``harbour serve`` started as a subprocess with ``env``, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "harbour", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def drain_clients() -> None:
    """Send this process's queued Prefect logs and events now: call before a server stops, or
    the workers keep retrying them against a closed port and the process hangs at exit."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30, at_exit=False)
    EventsWorker.drain_all(timeout=30, at_exit=False)


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the Prefect server exited while starting; see its server.log")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError("the Prefect server did not answer in time")


def stop(process: subprocess.Popen[bytes], grace: float = 20) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
