"""Escalation keeps the acknowledgement timeout: every relay pass escalates what is due, and a
failing sweep phase holds back no other phase."""

from __future__ import annotations

from datetime import timedelta

import pytest

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Alert
from harbour.demo.receivers import Receiver, RouteBook
from harbour.notify.relay import deliver
from harbour.orchestration import sweep as sweeping
from tests.notify.conftest import FAST
from tests.notify.helpers import MARKER, TIMEOUT, imminent_alert, new_case, open_assessment, rows
from tests.support import invoke

RELAY_EVERY = timedelta(minutes=1)  # the deliver_notifications schedule, or `* * * * * deliver`
FIELDS = {
    "open_due_assessments": "opened",
    "send_reminders": "reminders",
    "finish_events": "events",
}


def _tier(app: App, alert: Alert) -> int:
    return app.run(lambda uow: uow.session.get_one(Alert, alert.id).tier)


def test_every_relay_pass_escalates_so_the_timeout_holds(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    routes.chat("sup").chat("adm")
    alert = imminent_alert(napp, new_case(napp))
    opened = clock.now()
    climbed_at: dict[int, timedelta] = {}
    while len(climbed_at) < 2 and clock.now() - opened < 3 * TIMEOUT:
        clock.advance(RELAY_EVERY)
        report = deliver(napp, config=FAST)  # no sweep runs at all
        if report.escalated:
            climbed_at[_tier(napp, alert)] = clock.now() - opened
            assert report.sent_by_lane["urgent"] >= 1  # sent in the same pass
    assert climbed_at[1] <= TIMEOUT + RELAY_EVERY
    assert climbed_at[2] <= 2 * TIMEOUT + 2 * RELAY_EVERY
    assert len(receiver.at(RouteBook.chat_path("adm"))) == 1


def test_harbour_deliver_escalates_and_says_so(napp: App, clock: FixedClock) -> None:
    alert = imminent_alert(napp, new_case(napp))
    clock.advance(TIMEOUT)
    result = invoke(napp, "deliver", "--lane", "urgent", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["escalated"] == 1
    assert _tier(napp, alert) == 1
    assert {r.recipient for r in rows(napp, kind="alert_escalated")} == {"sup"}


def test_a_command_s_own_delivery_escalates(napp: App, clock: FixedClock) -> None:
    case = new_case(napp)
    alert = imminent_alert(napp, case)
    clock.advance(TIMEOUT)
    moved = invoke(napp, "assign", case.reference, "cw2", "--as", "coord")  # any command
    assert moved.exit_code == 0, moved.stderr
    assert _tier(napp, alert) == 1


@pytest.mark.parametrize("phase", list(FIELDS))
def test_a_failing_sweep_phase_stops_no_other(
    napp: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, phase: str
) -> None:
    case = new_case(napp)
    open_assessment(napp, case, clock.now() + timedelta(days=1))
    alert = imminent_alert(napp, case)
    clock.advance(TIMEOUT)

    def broken(*_: object) -> int:
        raise RuntimeError(f"a value {MARKER} the phase choked on")

    monkeypatch.setattr(sweeping, phase, broken)
    monkeypatch.setattr(sweeping, "idle_phases", lambda *_: [])  # as when each has work
    with pytest.raises(sweeping.SweepIncomplete) as failed:
        sweeping.sweep(napp)
    report = failed.value.report
    assert report.escalated == 1 and _tier(napp, alert) == 1
    assert list(failed.value.failed) == [FIELDS[phase]]
    assert (report.reminders > 0) == (phase != "send_reminders")
    assert MARKER not in str(failed.value)


def test_harbour_sweep_delivers_and_fails_when_a_phase_fails(
    napp: App,
    clock: FixedClock,
    routes: RouteBook,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routes.chat("sup")
    alert = imminent_alert(napp, new_case(napp))
    deliver(napp, config=FAST)
    clock.advance(TIMEOUT)

    def broken(*_: object) -> int:
        raise RuntimeError(MARKER)

    monkeypatch.setattr(sweeping, "open_due_assessments", broken)
    monkeypatch.setattr(sweeping, "idle_phases", lambda *_: [])  # as when each has work
    result = invoke(napp, "sweep", "--json")
    assert result.exit_code == 1
    shown = result.json()
    assert (shown["escalated"], shown["delivered"]) == (1, 1)
    assert "opened (RuntimeError)" in result.stderr and MARKER not in result.stderr
    assert _tier(napp, alert) == 1
    assert len(receiver.at(RouteBook.chat_path("sup"))) == 2  # the alert, then its escalation
