"""The relay process killed at each step, then restarted: nothing lost, at most one duplicate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.domain.vocab import Lane, NotificationKind, OutboxStatus
from harbour.notify.outbox import enqueue
from tests.notify.conftest import Receiver, RouteBook
from tests.notify.helpers import assert_nothing_lost, drain, new_case, status_counts

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = ["cw1", "cw2", "sup", "coord"]


def _run_relay(app: App, clock: FixedClock, point: str) -> int:
    settings = app.settings
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CRASH_AT": point,
        "HARBOUR_HOME": str(settings.home),
        "HARBOUR_DATABASE_URL": settings.resolved_database_url,
        "HARBOUR_KEY_FILE": str(settings.resolved_key_file),
        "HARBOUR_APPRISE_CONFIG": str(settings.apprise_config),
        "HARBOUR_BASE_URL": settings.base_url,
        "HARBOUR_FROZEN_TIME": clock.now().isoformat(),
    }
    script = Path(__file__).with_name("crash_relay.py")
    return subprocess.run([sys.executable, str(script)], env=env, timeout=120).returncode


@pytest.mark.parametrize(
    ("point", "sent_before_restart", "duplicates"),
    [("before_send", 0, 0), ("after_send", 0, 1), ("after_mark", 1, 0)],
)
def test_a_killed_relay_loses_nothing_and_repeats_at_most_one(
    point: str,
    sent_before_restart: int,
    duplicates: int,
    napp: App,
    clock: FixedClock,
    routes: RouteBook,
    receiver: Receiver,
) -> None:
    for handle in PEOPLE:
        routes.chat(handle)
    case = new_case(napp)

    def work(uow: UnitOfWork) -> int:
        return enqueue(
            uow,
            NotificationKind.CASE_ASSIGNED,
            recipients=PEOPLE,
            case=case,
            dedupe="crash",
            context={},
            lane=Lane.NORMAL,
        )

    enqueued = napp.run(work)
    assert _run_relay(napp, clock, point) == -signal.SIGKILL
    assert status_counts(napp)[OutboxStatus.SENT] == sent_before_restart
    assert len(receiver.received) == sent_before_restart + duplicates
    drain(napp, clock)  # the restart: advances past the dead relay's lease
    assert_nothing_lost(napp, enqueued)
    assert status_counts(napp)[OutboxStatus.SENT] == enqueued
    per_person = Counter(path.rsplit("/", 1)[1] for path, _ in receiver.received)
    assert set(per_person) == set(PEOPLE)
    assert sum(per_person.values()) == enqueued + duplicates
    assert max(per_person.values()) <= 1 + duplicates
