"""Acknowledging an alert settles its pages: nothing still waiting is sent afterwards, the rows
stay (``cancelled``, with why), and no later tier is ever enqueued."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Alert
from harbour.demo.receivers import Receiver, RouteBook, SmtpServer
from harbour.domain.vocab import OutboxStatus
from tests.cli.helpers import answers_file, ok, referred_case
from tests.notify.conftest import FAST
from tests.notify.helpers import TIMEOUT, drain, rows
from tests.support import invoke


def _raise_imminent(app: App, tmp_path: Path) -> Alert:
    ref = referred_case(app, tmp_path, "ACKSET")
    danger = answers_file(app, tmp_path, "danger", immediate_danger="yes")
    ok(app, "assess", ref, "--point", "initial_contact", "--answers", danger, "--as", "cw1")
    [alert] = app.run(lambda uow: list(uow.session.scalars(select(Alert))))
    return alert


def test_acknowledged_before_delivery_nothing_is_sent_and_the_rows_stay(
    seeded: App,
    napp: App,
    clock: FixedClock,
    routes: RouteBook,
    smtp: SmtpServer,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    alert = _raise_imminent(seeded, tmp_path)  # no routes yet: the pages wait
    pages = rows(seeded, alert_id=alert.id)
    assert pages and {r.status for r in pages} == {OutboxStatus.PENDING}
    assert ok(seeded, "ack", alert.id[:8], "--as", "sup")["acknowledged_by"] == "sup"

    routes.email("sup").chat("sup")  # routes configured later
    clock.advance(TIMEOUT * 3)
    assert invoke(napp, "deliver").exit_code == 0
    drain(napp, clock, FAST)

    assert [m.subject for m in smtp.received if alert.id[:8] in m.subject + m.text] == []
    assert receiver.at(RouteBook.chat_path("sup")) == []
    settled = rows(napp, alert_id=alert.id)
    assert {r.id for r in settled} == {r.id for r in pages}  # kept, none added
    assert {(r.status, r.last_error, r.sent_at) for r in settled} == {
        (OutboxStatus.CANCELLED, "acknowledged", None)
    }
    shown = ok(napp, "outbox", "--as", "adm")
    assert shown["counts"]["cancelled"] == len(pages)
    again = invoke(napp, "outbox", "retry", pages[0].id, "--as", "adm")
    assert again.exit_code == 2 and "cancelled" in again.stderr


def test_acknowledged_after_tier_0_was_sent_no_later_tier_is_enqueued(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver, tmp_path: Path
) -> None:
    routes.chat("sup").chat("adm")
    alert = _raise_imminent(napp, tmp_path)
    sent = rows(napp, alert_id=alert.id)
    assert sent and {r.status for r in sent} == {OutboxStatus.SENT}
    assert len(receiver.at(RouteBook.chat_path("sup"))) == 1
    ok(napp, "ack", alert.id[:8], "--as", "sup")

    for _ in range(4):
        clock.advance(TIMEOUT)
        assert invoke(napp, "deliver").exit_code == 0
    after = rows(napp, alert_id=alert.id)
    assert {r.id for r in after} == {r.id for r in sent}
    assert {r.status for r in after} == {OutboxStatus.SENT}  # a sent page stays sent
    assert len(receiver.at(RouteBook.chat_path("sup"))) == 1
    assert receiver.at(RouteBook.chat_path("adm")) == []


def test_a_page_claimed_but_not_yet_sent_when_the_alert_is_taken_is_not_sent(
    napp: App, mail: RouteBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One worker, two pages claimed together: the supervisor takes the alert as the first goes
    # out. The second, whose turn comes after, is not sent; the first is recorded as sent;
    # neither counts as a failure.
    from harbour.notify import alerts, relay
    from tests.notify.helpers import imminent_alert, new_case

    alert = imminent_alert(napp, new_case(napp))  # tier 0: sup, by email and by chat
    assert len(rows(napp, alert_id=alert.id)) == 2
    real, order = relay.send, []

    def send(app: App, routes: Any, row: Any, config: Any) -> Any:
        outcome = real(app, routes, row, config)
        if not order:  # taken just as the first page went out
            alerts.acknowledge(napp, "sup", alert.id)
        order.append(row.channel)
        return outcome

    monkeypatch.setattr(relay, "send", send)
    report = relay.deliver(napp, config=dataclasses.replace(FAST, workers=1, prefetch=2))
    after = {r.channel: (r.status, r.last_error) for r in rows(napp, alert_id=alert.id)}
    assert after[order[0]][0] == OutboxStatus.SENT
    assert after[order[1]] == (OutboxStatus.CANCELLED, "acknowledged"), (order, after)
    assert report.sent == 1 and not report.errors and not report.unsent
