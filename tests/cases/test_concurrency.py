"""Concurrent referrals: none lost, none duplicated, no lock error reaching anyone.

Several Apps stand for several processes (each its own engine and pool); threads sharing an App
stand for a server's workers. The store is driven through ``harbour.cases.intake.refer`` (what
``harbour refer`` calls) at full load, and through the whole CLI command at a smaller one.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from harbour.app import App
from harbour.cases import intake
from harbour.db.models import Case
from tests.db.helpers import threaded_cli, write_referral
from tests.support import referral

T = TypeVar("T")

# (referrals, processes): SQLite gives every writer its own engine, as separate CLI calls would.
LOAD = {"sqlite": (50, 50), "postgresql": (200, 3)}
# Threads for 300 idempotent referrals: each key's three copies still start together. SQLite
# writers queue on the lock, so more threads there only add busy-wait sleeps.
WIDTH = {"sqlite": 30, "postgresql": 300}


def _processes(app: App, count: int) -> list[App]:
    """``count`` Apps on ``app``'s store, keys and clock; the caller disposes them."""
    return [App(app.settings, app.clock) for _ in range(count)]


def _at_once(jobs: list[Callable[[], T]], width: int | None = None) -> list[T | str]:
    """Run the jobs on ``width`` threads (all of them, released together, by default), in order;
    a raised error becomes its text."""
    width = width or len(jobs)
    start = threading.Barrier(width)

    def go(job: Callable[[], T]) -> T | str:
        if width == len(jobs):
            start.wait()
        try:
            return job()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=width) as pool:
        return list(pool.map(go, jobs))


def _refer(app: App, data: dict[str, Any], key: str | None = None) -> Callable[[], str]:
    return lambda: intake.refer(app, "coord", data, key).reference


def _case_count(app: App) -> int:
    with app.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Case)) or 0


def _references(results: list[str]) -> list[str]:
    failures = [r for r in results if not r.startswith("HB-")]
    assert failures == []
    return results


def test_concurrent_referrals(seeded: App) -> None:
    count, processes = LOAD[seeded.engine.dialect.name]
    apps = _processes(seeded, processes)
    try:
        results = _at_once([_refer(apps[i % processes], referral(f"Cc{i}")) for i in range(count)])
    finally:
        for app in apps:
            app.dispose()
    assert len(set(_references(results))) == count
    assert _case_count(seeded) == count


def test_same_idempotency_key_three_times_at_once(seeded: App) -> None:
    processes = LOAD[seeded.engine.dialect.name][1]
    apps = _processes(seeded, processes)
    jobs = [
        _refer(apps[(i + n) % processes], referral(f"Ik{i}"), f"key-{i}")
        for i in range(100)
        for n in range(3)
    ]
    try:
        references = _references(_at_once(jobs, WIDTH[seeded.engine.dialect.name]))
    finally:
        for app in apps:
            app.dispose()
    assert all(len(set(references[i : i + 3])) == 1 for i in range(0, 300, 3))
    assert set(Counter(references).values()) == {3}
    assert _case_count(seeded) == 100


def test_concurrent_cli_referrals_show_no_lock_error(seeded: App, tmp_path: Path) -> None:
    """The whole `harbour refer` (the inline pipeline included), as separate processes would."""
    apps = _processes(seeded, 12)
    paths = [write_referral(tmp_path, referral(f"Cl{i}")) for i in range(12)]
    try:
        with threaded_cli() as call:
            jobs = [
                lambda app=app, path=path: call(app, "refer", "--file", str(path), "--as", "coord")
                for app, path in zip(apps, paths, strict=True)
            ]
            results = _at_once(jobs)
    finally:
        for app in apps:
            app.dispose()
    assert [(r.exit_code, r.stderr) for r in results if not isinstance(r, str)] == [(0, "")] * 12
    assert len({r.stdout for r in results if not isinstance(r, str)}) == 12
    assert _case_count(seeded) == 12


# -- writes that commute: retried inside the service, never refused as stale ------------------


def test_concurrent_plan_adds_all_land(seeded: App, tmp_path: Path) -> None:
    """Ten people adding an item to one draft at once (as ten processes): every item is kept.
    Adding commutes, so a write that finds the draft changed since it read it is retried."""
    from harbour.assessments.submit import submit_assessment
    from harbour.plans.actions import add, show
    from tests.cli.helpers import referred_case, safest

    ref = referred_case(seeded, tmp_path, "PA")
    submit_assessment(seeded, "cw1", ref, "initial_contact", safest(seeded))
    apps = _processes(seeded, 10)
    jobs = [
        lambda app=app, i=i: add(app, "cw1", ref, section="strategies", text=f"PAstep{i}")
        for i, app in enumerate(apps)
    ]
    try:
        keys = _at_once(jobs)
    finally:
        for app in apps:
            app.dispose()
    assert [k for k in keys if not k.startswith("added:")] == []
    texts = {item.staff_text for item in show(seeded, "cw1", ref).items if item.key in keys}
    assert texts == {f"PAstep{i}" for i in range(10)}


REFERRALS_AT_ONCE = 30


def test_concurrent_cli_referrals_are_assigned_when_refer_returns(
    seeded: App, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Thirty `harbour refer` at once (more than a command processes after its own), each as its own process: each case has its caseworker and
    its initial assessment when its command returns, and no event is left unprocessed as stale."""
    caplog.set_level(logging.WARNING)
    apps = _processes(seeded, REFERRALS_AT_ONCE)
    paths = [write_referral(tmp_path, referral(f"Ca{i}")) for i in range(REFERRALS_AT_ONCE)]

    def refer_and_look(app: App, path: Path, call: Callable[..., Any]) -> tuple[Any, ...]:
        result = call(app, "refer", "--file", str(path), "--as", "coord")
        case = app.run(lambda uow: _case(uow, result.stdout.strip()))
        return (result.exit_code, result.stderr, *case)

    try:
        with threaded_cli() as call:
            jobs = [
                lambda app=app, path=path: refer_and_look(app, path, call)
                for app, path in zip(apps, paths, strict=True)
            ]
            results = _at_once(jobs)
    finally:
        for app in apps:
            app.dispose()
    assert results == [(0, "", True, True)] * REFERRALS_AT_ONCE
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def _case(uow: Any, reference: str) -> tuple[bool, bool]:
    """(has a caseworker, has its initial assessment open)."""
    from harbour.db.models import Assessment

    case = uow.session.scalar(select(Case).where(Case.reference == reference))
    opened = uow.session.scalar(
        select(func.count())
        .select_from(Assessment)
        .where(Assessment.case_id == case.id, Assessment.point == "initial_contact")
    )
    return case.caseworker_id is not None, opened == 1
