"""End to end as an operator runs it: a real Prefect server and `harbour serve` as processes, a
referral through the CLI, the triggered initial_contact run, and the caseworker's email.

About 30 s on a two-core machine (a Prefect server's start is most of it); marked slow, so
``pytest -m "not slow"`` leaves it out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.local_server import harbour_serve, local_server, server_environment
from harbour.demo.receivers import RouteBook
from tests.support import referral

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
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
    }
    runs: list[dict[str, Any]] = httpx.post(f"{url}/flow_runs/filter", json=body).json()
    return runs


def wait_for(check: Any, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)
    return found


def test_a_referral_starts_initial_contact_and_the_caseworker_hears(
    tmp_path: Path, mail: RouteBook
) -> None:
    home = tmp_path / "prefect"
    with local_server(home) as url:
        env = {
            **server_environment(home),
            "PREFECT_API_URL": url,
            "HARBOUR_HOME": str(tmp_path / "harbour"),
            "HARBOUR_ORCHESTRATION": "prefect",
            "HARBOUR_APPRISE_CONFIG": str(mail.path),
        }
        harbour(env, "init", "--agency", "north", "--admin", "adm")
        for handle, role in (("coord", "coordinator"), ("cw1", "caseworker")):
            harbour(env, "staff", "add", handle, "--agency", "north", "--role", role, "--as", "adm")
        (tmp_path / "r.json").write_text(json.dumps(referral(M)))
        with harbour_serve(env, tmp_path / "serve.log"):
            case = harbour(env, "refer", "--file", str(tmp_path / "r.json"), "--as", "coord")
            (run,) = wait_for(lambda: completed_runs(url, "initial_contact"))
            # cw1 also received their enrolment link when their account was added.
            (notice,) = wait_for(
                lambda: [m for m in mail.smtp.to("cw1@staff.test") if case["case"][:12] in m.text]
            )
    assert set(run["parameters"]) == {"case_id"}
    assert M not in notice.subject + notice.text
