"""The relay against a real SMTP server and a real HTTP receiver, with faults injected.

Every test checks the invariants: nothing lost (enqueued = sent + pending + dead), no duplicate
deliveries, the healthy targets served in the first round, no identifying data in any log line.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import apprise.url
import pytest

from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.db.models import Case
from harbour.demo.receivers import MAIL_DOMAIN, Receiver, RouteBook, SmtpServer, free_port
from harbour.domain.vocab import Lane, NotificationKind, OutboxStatus
from harbour.notify.outbox import enqueue
from harbour.notify.relay import deliver
from tests.notify.conftest import FAST, GIVES_UP
from tests.notify.helpers import (
    assert_clean_logs,
    assert_nothing_lost,
    drain,
    new_case,
    rows,
    status_counts,
)

K = NotificationKind


def _assigned(app: App, case: Case, recipients: list[str], dedupe: str = "t") -> int:
    def work(uow: UnitOfWork) -> int:
        return enqueue(
            uow,
            K.CASE_ASSIGNED,
            recipients=recipients,
            case=case,
            dedupe=dedupe,
            context={},
            lane=Lane.NORMAL,
        )

    return app.run(work)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_email_and_chat_are_delivered_once_and_carry_only_a_pointer(
    napp: App, clock: FixedClock, routes: RouteBook, smtp: SmtpServer, receiver: Receiver, logs
) -> None:
    routes.email("cw1").chat("cw1").email("sup")
    case = new_case(napp)
    enqueued = _assigned(napp, case, ["cw1", "sup"])
    assert enqueued == 3
    report = deliver(napp, config=FAST)
    assert (report.claimed, report.sent, report.retried, report.dead) == (3, 3, 0, 0)
    [mail] = smtp.to(f"cw1@{MAIL_DOMAIN}")
    short = "-".join(case.reference.split("-")[:3])
    assert short in mail.subject and "\n" not in mail.subject
    assert f"https://harbour.test/cases/{case.reference}" in mail.text
    [chat] = receiver.at(RouteBook.chat_path("cw1"))
    assert short in chat["title"] and short in chat["message"]
    for text in (mail.subject, mail.text, chat["title"], chat["message"]):
        assert "MKNOTE" not in text and "north" not in text.lower()
    assert len(smtp.to(f"sup@{MAIL_DOMAIN}")) == 1
    assert_nothing_lost(napp, enqueued)
    assert deliver(napp, config=FAST).claimed == 0  # nothing twice
    assert_clean_logs(logs.records)


def test_the_same_event_enqueues_once(napp: App, routes: RouteBook) -> None:
    routes.email("cw1").chat("cw1")
    case = new_case(napp)
    _assigned(napp, case, ["cw1", "cw1"], dedupe="event-1")
    _assigned(napp, case, ["cw1"], dedupe="event-1")
    assert sorted((r.recipient, r.channel) for r in rows(napp)) == [
        ("cw1", "chat"),
        ("cw1", "email"),
    ]


def test_a_recipient_without_a_route_is_enqueued_for_any_route_and_dead_letters(
    napp: App, clock: FixedClock, routes: RouteBook, smtp: SmtpServer, receiver: Receiver, logs
) -> None:
    routes.chat("adm")
    case = new_case(napp)
    _assigned(napp, case, ["cw2"])
    [row] = rows(napp)
    assert row.channel == "any"
    drain(napp, clock)
    dead = rows(napp, status=OutboxStatus.DEAD)
    assert [(r.recipient, r.last_error) for r in dead] == [("cw2", "no_route")]
    [notice] = receiver.at(RouteBook.chat_path("adm"))
    assert dead[0].id in notice["message"] and "MKNOTE" not in notice["message"]
    assert_nothing_lost(napp, 2)
    assert_clean_logs(logs.records)


SMTP_FAULTS = {
    "refused": None,  # the route points at a port nobody listens on
    "421_then_ok": ["421 4.3.2 Service shutting down"],
    "451_then_ok": ["451 4.3.0 Try again later", "451 4.3.0 Try again later"],
    "554_permanent": ["554 5.7.1 Rejected"] * 10,
}


@pytest.mark.parametrize("fault", list(SMTP_FAULTS))
def test_smtp_faults(
    fault: str,
    napp: App,
    clock: FixedClock,
    routes: RouteBook,
    smtp: SmtpServer,
    receiver: Receiver,
    logs,
) -> None:
    script = SMTP_FAULTS[fault]
    routes.email("cw2", port=free_port() if script is None else None)
    routes.email("cw1").chat("adm")
    if script:
        smtp.script(f"cw2@{MAIL_DOMAIN}", script)
    case = new_case(napp)
    _assigned(napp, case, ["cw1", "cw2"])
    first = deliver(napp, config=FAST)
    assert len(smtp.to(f"cw1@{MAIL_DOMAIN}")) == 1  # the healthy target was not held up
    assert first.retried == 1
    drain(napp, clock)
    permanent = script is None or len(script) >= FAST.max_attempts
    delivered = smtp.to(f"cw2@{MAIL_DOMAIN}")
    assert len(delivered) == (0 if permanent else 1)
    notices = receiver.at(RouteBook.chat_path("adm"))
    assert len(notices) == (1 if permanent else 0)
    assert_nothing_lost(napp, 3 if permanent else 2)
    assert len(smtp.to(f"cw1@{MAIL_DOMAIN}")) == 1
    assert_clean_logs(logs.records)


@pytest.mark.parametrize("fault", ["500", "429", "timeout", "reset"])
def test_webhook_faults_then_recovery(
    fault: str,
    napp: App,
    clock: FixedClock,
    routes: RouteBook,
    receiver: Receiver,
    smtp: SmtpServer,
    logs,
) -> None:
    routes.chat("cw1").chat("cw2").chat("adm")
    faults = [fault] if fault == "timeout" else [fault, fault]  # each timeout costs a wait
    receiver.script(RouteBook.chat_path("cw2"), faults)
    case = new_case(napp)
    _assigned(napp, case, ["cw1", "cw2"])
    first = deliver(napp, config=GIVES_UP)
    assert len(receiver.at(RouteBook.chat_path("cw1"))) == 1
    assert (first.sent, first.retried) == (1, 1)
    drain(napp, clock)
    assert len(receiver.at(RouteBook.chat_path("cw2"))) == 1
    assert receiver.hits[RouteBook.chat_path("cw2")] == len(faults) + 1
    [row] = rows(napp, recipient="cw2")
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.SENT, len(faults) + 1, None)
    assert_nothing_lost(napp, 2)
    assert_clean_logs(logs.records)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the pool, not the store
def test_slow_targets_do_not_hold_up_a_healthy_one(
    napp: App, routes: RouteBook, receiver: Receiver
) -> None:
    slow = ["cw2", "sup", "coord"]
    for handle in [*slow, "cw1"]:
        routes.chat(handle)
    for handle in slow:
        receiver.script(RouteBook.chat_path(handle), ["timeout"])
    case = new_case(napp)
    for handle in [*slow, "cw1"]:  # the healthy row comes last
        _assigned(napp, case, [handle], dedupe=f"slow-{handle}")
    report = deliver(napp, config=GIVES_UP)
    assert (report.sent, report.retried) == (1, 3)
    slow_done = [receiver.settle(("slow_done", RouteBook.chat_path(h))) for h in slow]
    assert receiver.settle(("accepted", RouteBook.chat_path("cw1"))) < min(slow_done)


def test_webhook_redirects_are_not_followed(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver, logs
) -> None:
    routes.chat("cw2").chat("adm")
    receiver.script(RouteBook.chat_path("cw2"), ["redirect"] * 10)
    case = new_case(napp)
    _assigned(napp, case, ["cw2"])
    drain(napp, clock)
    assert receiver.hits["/redirected"] == 0
    assert receiver.hits[RouteBook.chat_path("cw2")] == FAST.max_attempts
    [row] = rows(napp, recipient="cw2")
    assert (row.status, row.last_error) == (OutboxStatus.DEAD, "send_failure")
    assert len(receiver.at(RouteBook.chat_path("adm"))) == 1
    assert_nothing_lost(napp, 2)
    assert_clean_logs(logs.records)


def test_urgent_rows_go_before_a_backlog_and_the_urgent_lane_runs_alone(
    napp: App, routes: RouteBook, receiver: Receiver
) -> None:
    routes.chat("cw1").chat("sup")
    case = new_case(napp)
    for n in range(12):
        _assigned(napp, case, ["cw1"], dedupe=f"backlog-{n}")

    def alert(uow: UnitOfWork) -> None:
        enqueue(
            uow,
            K.IMMINENT_THREAT,
            recipients=["sup"],
            case=case,
            dedupe="urgent",
            context={"alert_id": "ab" * 16},
            lane=Lane.URGENT,
        )

    napp.run(alert)
    urgent_only = deliver(napp, lane=Lane.URGENT, config=FAST)
    assert (urgent_only.sent, dict(urgent_only.sent_by_lane)) == (1, {"urgent": 1})
    napp.run(lambda uow: alert_again(uow, case))
    first = deliver(napp, limit=2, config=FAST)
    assert first.sent_by_lane["urgent"] == 1
    assert status_counts(napp)[OutboxStatus.PENDING] == 11


def alert_again(uow: UnitOfWork, case: Case) -> None:
    enqueue(
        uow,
        K.ALERT_ESCALATED,
        recipients=["sup"],
        case=case,
        dedupe="urgent-2",
        context={"alert_id": "cd" * 16, "tier": 1},
        lane=Lane.URGENT,
    )


def test_a_burst_of_email_is_not_throttled(
    napp: App, routes: RouteBook, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apprise sleeps 5.5 s between sends of one email instance; fresh instances never do."""
    slept: list[float] = []
    real_sleep = apprise.url.time.sleep
    monkeypatch.setattr(apprise.url.time, "sleep", lambda s: (slept.append(s), real_sleep(0)))
    routes.email("cw1")
    case = new_case(napp)
    for n in range(5):
        _assigned(napp, case, ["cw1"], dedupe=f"burst-{n}")
    report = deliver(napp, config=FAST)
    assert report.sent == 5 and len(smtp.to(f"cw1@{MAIL_DOMAIN}")) == 5
    assert [s for s in slept if s > 0.1] == []


def test_apprise_stays_quiet_even_when_asked_for_debug(
    napp: App, routes: RouteBook, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("apprise").setLevel(logging.DEBUG)
    routes.chat("cw2")
    receiver.script(RouteBook.chat_path("cw2"), ["500"])
    case = new_case(napp)
    _assigned(napp, case, ["cw2"])
    deliver(napp, config=FAST)
    assert logging.getLogger("apprise").level == logging.WARNING
    apprise_lines = [r for r in caplog.records if r.name == "apprise"]
    assert apprise_lines and all("withheld" in r.getMessage() for r in apprise_lines)
    relay_lines = [r.getMessage() for r in caplog.records if r.name == "harbour.notify.relay"]
    assert relay_lines and "cw2" in relay_lines[0] and "send_failure" in relay_lines[0]
    assert_clean_logs(caplog.records)


def test_backoff_grows_and_the_lease_keeps_a_claimed_row(
    napp: App, clock: FixedClock, routes: RouteBook
) -> None:
    routes.chat("adm")  # a usable routes file with no route for cw2: no_route failures
    case = new_case(napp)
    _assigned(napp, case, ["cw2"])
    deliver(napp, config=FAST)
    [row] = rows(napp)
    first_wait = row.next_attempt_at - clock.now()
    assert timedelta(seconds=30) <= first_wait <= timedelta(seconds=36)
    clock.advance(first_wait)
    deliver(napp, config=FAST)
    [row] = rows(napp)
    assert timedelta(seconds=60) <= row.next_attempt_at - clock.now() <= timedelta(seconds=72)


def test_without_a_routes_setting_rows_wait_untouched(seeded: App) -> None:
    case = new_case(seeded)
    _assigned(seeded, case, ["cw1"])
    report = deliver(seeded, config=FAST)
    assert (report.claimed, dict(report.errors)) == (0, {"no_config": 1})
    [row] = rows(seeded)
    assert (row.status, row.attempts, row.channel) == (OutboxStatus.PENDING, 0, "any")
