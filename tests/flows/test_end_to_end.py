"""End to end as an operator runs it: `harbour serve` and the CLI as processes against a Prefect
server (the session's test server), a referral through the CLI, the triggered initial_contact run
served by `harbour serve`, and the caseworker's email.

It used to start a Prefect server of its own with ``flows.local_server.local_server``: about 70 s
of CPU on a two-core machine, and past its 180 s start-up limit on a busy one. That function is
still run on every CI build: ``make demo`` (.ci/run, after ``make test``) runs the demo in Prefect
mode, which starts its server with it (``harbour.demo.prefect_runs``) and fails if it does not
answer. Marked slow, so ``pytest -m "not slow"`` leaves it out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.local_server import harbour_serve, server_environment
from harbour.demo.receivers import RouteBook
from tests.flows.conftest import PrefectServer
from tests.support import referral

pytestmark = pytest.mark.slow
M = "Zq8e2e"


def harbour(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "harbour", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def completed_runs(url: str, flow_name: str) -> list[dict[str, Any]]:
    body = {
        "flows": {"name": {"any_": [flow_name]}},
        "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        "deployments": {"name": {"any_": ["initial-contact"]}},  # served, not called by a test
    }
    runs: list[dict[str, Any]] = httpx.post(f"{url}/flow_runs/filter", json=body).json()
    return runs


def wait_for(check: Any, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)
    return found


@pytest.fixture
def served_then_forgotten(prefect_server: PrefectServer) -> Iterator[str]:
    """The session's server for ``harbour serve``; its deployments and their triggers deleted
    after, so the other tests' events start no runs."""
    from prefect.client.orchestration import get_client

    yield prefect_server.api_url
    with get_client(sync_client=True) as client:
        for automation in client.read_automations():
            client.delete_automation(automation.id)
        for deployment in client.read_deployments():
            client.delete_deployment(deployment.id)


def _store_with_a_caseworker(url: str, tmp_path: Path, mail: RouteBook) -> dict[str, str]:
    """A Harbour store under ``tmp_path`` (agency north: adm, coord, cw1) in Prefect mode on the
    server at ``url``, mail to ``mail``, and a referral's file at ``r.json``: its environment."""
    env = {
        **server_environment(tmp_path / "prefect"),  # the processes' own PREFECT_HOME
        "PREFECT_API_URL": url,
        "HARBOUR_HOME": str(tmp_path / "harbour"),
        "HARBOUR_ORCHESTRATION": "prefect",
        "HARBOUR_APPRISE_CONFIG": str(mail.path),
    }
    harbour(env, "init", "--agency", "north", "--admin", "adm")
    for handle, role in (("coord", "coordinator"), ("cw1", "caseworker")):
        harbour(env, "staff", "add", handle, "--agency", "north", "--role", role, "--as", "adm")
    (tmp_path / "r.json").write_text(json.dumps(referral(M)))
    return env


def test_a_referral_starts_initial_contact_and_the_caseworker_hears(
    served_then_forgotten: str, tmp_path: Path, mail: RouteBook
) -> None:
    url = served_then_forgotten
    env = _store_with_a_caseworker(url, tmp_path, mail)
    with harbour_serve(env, tmp_path / "serve.log"):
        case = harbour(env, "refer", "--file", str(tmp_path / "r.json"), "--as", "coord")
        (run,) = wait_for(lambda: completed_runs(url, "initial_contact"))
        # cw1 also received their enrolment link when their account was added.
        (notice,) = wait_for(
            lambda: [m for m in mail.smtp.to("cw1@staff.test") if case["case"][:12] in m.text]
        )
    assert set(run["parameters"]) == {"case_id"}
    assert M not in notice.subject + notice.text


def test_a_referral_recorded_while_serve_was_down_starts_initial_contact_when_it_starts(
    served_then_forgotten: str, tmp_path: Path, mail: RouteBook
) -> None:
    """What was recorded while `harbour serve` was stopped (a restart, a first start on a new
    Prefect server) is published once it starts: only after its deployments' triggers are
    there, or the event starts nothing and the referral waits for a sweep, 5 to 20 minutes."""
    url = served_then_forgotten
    env = _store_with_a_caseworker(url, tmp_path, mail)
    case = harbour(env, "refer", "--file", str(tmp_path / "r.json"), "--as", "coord")
    with harbour_serve(env, tmp_path / "serve.log"):
        (run,) = wait_for(lambda: completed_runs(url, "initial_contact"), timeout=90)
        (notice,) = wait_for(
            lambda: [m for m in mail.smtp.to("cw1@staff.test") if case["case"][:12] in m.text]
        )
    assert run["parameters"] == {"case_id": run["parameters"]["case_id"]}
    assert M not in notice.subject + notice.text
