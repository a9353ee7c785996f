"""A person's undelivered messages are theirs: dead-lettered when they leave, and never printed
in another person's command (issue 12, item 8); `harbour outbox` is where they show."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from harbour.app import App
from harbour.clock import FixedClock
from harbour.demo.receivers import RouteBook
from harbour.domain.vocab import Lane, OutboxStatus
from harbour.notify.relay import deliver
from tests.cli.helpers import answers_file, referred_case
from tests.notify.conftest import FAST
from tests.notify.helpers import digest_waiting_for, new_case, rows
from tests.support import invoke, referral


def test_deactivation_dead_letters_what_still_waits_for_the_person(
    napp: App, routes: RouteBook, clock: FixedClock
) -> None:
    routes.chat("adm")  # a usable routes file with no route for cw2
    new_case(napp, caseworker="cw2")  # handed over as they leave
    # A message of theirs about no case given away (a notice about the case handed over is
    # withdrawn by the reassignment itself: test_alerts, "given back before its notices").
    digest_waiting_for(napp, "cw2")
    assert deliver(napp, config=FAST).retried == 1
    args = ("staff", "deactivate", "cw2", "--reassign-to", "cw1", "--as", "adm")
    result = invoke(napp, *args)
    assert result.exit_code == 0, result.stderr
    assert "1 message(s) still waiting for them dead-lettered" in result.stdout
    [row] = rows(napp, recipient="cw2")
    assert (row.status, row.last_error) == (OutboxStatus.DEAD, "recipient_deactivated")
    clock.advance(timedelta(hours=2))
    assert not [r for r in rows(napp, status=OutboxStatus.PENDING) if r.recipient == "cw2"]
    dead = invoke(napp, "outbox", "--status", "dead", "--as", "adm", "--json")
    assert row.id in {r["id"] for r in json.loads(dead.stdout)["rows"]}


def test_another_persons_delivery_problems_stay_out_of_a_commands_output(
    napp: App, routes: RouteBook, clock: FixedClock, tmp_path: Path
) -> None:
    routes.chat("adm")  # nobody the imminent alert pages has a route
    ref = referred_case(napp, tmp_path, "OP")
    danger = answers_file(napp, tmp_path, "danger", immediate_danger="yes")
    raised = invoke(napp, "assess", ref, "--point", "incident", "--answers", danger, "--as", "cw1")
    assert raised.exit_code == 3, raised.stderr  # recorded, but nobody was paged: loud
    assert "warning: urgent alert not sent to" in raised.stderr  # its own page: said
    clock.advance(timedelta(minutes=12))  # the pages are due again, and the alert escalates
    referral_file = tmp_path / "other.json"
    referral_file.write_text(json.dumps(referral("OQ")))
    other = invoke(napp, "refer", "--file", str(referral_file), "--as", "coord")
    assert other.exit_code == 0, other.stderr
    assert other.stderr == ""  # neither the relay's failures nor the alert's pages
    retried = [r for r in rows(napp, lane=Lane.URGENT) if r.attempts > 1]
    assert retried  # the relay did retry them meanwhile: the outbox has it
