"""`harbour serve` against a real Prefect server of its own that goes away while it serves, then
comes back on the same address: serve waits it out and serves again, rather than exiting."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows import local_server as servers
from flows.local_server import (
    free_port,
    local_server,
    serve_process,
    server_environment,
    stop,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def wait_for(log: Path, text: bytes, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 240
    while log.read_bytes().count(text) < count:
        assert process.poll() is None, f"harbour serve exited ({process.returncode})"
        assert time.monotonic() < deadline, f"no {text!r} in the log"
        time.sleep(0.5)


def test_serve_waits_out_a_server_that_went_away_while_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its runner gives up after three failed polls in a row (no client retries here, to be
    # quick), raising RuntimeError("Service exceeded error threshold."), no connection error:
    # serve took it for a bug and exited, leaving the deployments to nobody.
    port = free_port()
    monkeypatch.setattr(servers, "free_port", lambda: port)  # the server comes back there
    env = {
        **server_environment(tmp_path / "client"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_CLIENT_MAX_RETRIES": "0",
        "HARBOUR_HOME": str(tmp_path / "harbour"),
        "HARBOUR_ORCHESTRATION": "prefect",
    }
    init = [sys.executable, "-m", "harbour", "init", "--agency", "north", "--admin", "adm"]
    subprocess.run(init, env=env, check=True, capture_output=True, timeout=60)
    log = tmp_path / "serve.log"
    process = serve_process(env, log)
    try:
        with local_server(tmp_path / "server"):
            wait_for(log, b"being served", 1, process)
        wait_for(log, b"Failed the last", 1, process)  # the runner gave up
        time.sleep(3)
        assert process.poll() is None, "harbour serve exited when its runner gave up"
        with local_server(tmp_path / "server"):
            wait_for(log, b"being served", 2, process)
    finally:
        stop(process)
