"""Every benchmark still runs (tiny sizes); the figures themselves are for `make bench`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Part of a row each smoke run must print (the lifecycle's flows need a Prefect server: not here).
EXPECTED = (
    "sqlite: time",  # the sweep
    "sqlite: memory",
    "`harbour refer`, small store",  # the one command the startup benchmark times at smoke size
    "imminent alert: email after assess returned, inline",
    "imminent alert: assess start to email, prefect",
    "imminent alert: assess start to email, prefect, same imports",
    "missed visit check-in: relay pass to buddy's email, sqlite",
    "notifications: 100 deliveries",
    "imminent alert while the relay is busy",
    "render youth copy",
    "intake, 8 threads, sqlite",
    "dashboard: page, 50 cases (sqlite)",
)


@pytest.mark.timeout(300)  # about 30 s on an idle two-core machine
def test_benchmarks_run_at_smoke_size() -> None:
    env = dict(os.environ)
    postgres = os.environ.get("HARBOUR_TEST_POSTGRES_URL")
    env["HARBOUR_BENCH_BACKENDS"] = "sqlite,postgres" if postgres else "sqlite"
    if postgres:
        env["HARBOUR_BENCH_POSTGRES_URL"] = postgres
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [
        line
        for line in done.stdout.splitlines()
        if line.startswith("| ") and "benchmark" not in line
    ]
    assert rows and all(line.count("|") >= 6 for line in rows)
    for name in EXPECTED:
        assert any(name in line for line in rows), name
