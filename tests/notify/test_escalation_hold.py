"""An escalation digest is held while its pass runs, as a reminder digest is, but a pass that
dies must not leave it held past the alert's climb: the supervisors' digest goes out well
before the acknowledgement window runs out and the alert climbs to the admins. Found by review:
held ``digests.HOLD`` (half an hour), the digest of a sweep killed after its first batch went
out twenty minutes after the admins had been paged."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Alert, OutboxMessage
from harbour.demo.receivers import MAIL_DOMAIN, RouteBook, SmtpServer
from harbour.domain import refs
from harbour.domain.policy import Interval
from harbour.domain.vocab import NotificationKind, OutboxStatus
from harbour.notify import alerts
from harbour.notify.digests import Digests
from harbour.notify.relay import deliver
from harbour.orchestration.sweep import send_reminders
from tests.notify.conftest import FAST
from tests.notify.helpers import TIMEOUT, drain, new_case, open_assessment, rows

ESCALATIONS = NotificationKind.ESCALATION_DIGEST


def _overdue_cases(app: App, clock: FixedClock, n: int) -> list[str]:
    """``n`` cases with an assessment long overdue (the most overdue first): their short
    references, in the order a sweep takes them."""
    found = []
    for k in range(n):
        case = new_case(app)
        open_assessment(app, case, clock.now() - timedelta(days=30 + n - k))
        found.append(refs.short_form(case.reference))
    return found


def _alerts(app: App) -> list[Alert]:
    return app.run(lambda uow: list(uow.session.scalars(select(Alert).order_by(Alert.id))))


def _hold(app: App) -> timedelta:
    return app.run(lambda uow: Digests(kind=ESCALATIONS).hold(uow))


def _killed_sweep(app: App, clock: FixedClock) -> None:
    """A sweep whose process is killed once its first batch has committed: nothing more of the
    pass runs, its digests are never released."""

    def die() -> None:
        raise SystemExit("the sweep's process was killed")

    with pytest.raises(SystemExit):
        send_reminders(app, clock.now(), batch=1, between=die)


def _shorter_window(app: App, monkeypatch: pytest.MonkeyPatch, minutes: int) -> None:
    """An installation's policy with an acknowledgement window of ``minutes``."""
    reference = app.reference
    window = Interval(minutes=minutes)
    policy = reference.policy.model_copy(update={"alert_ack_timeout": window})
    monkeypatch.setattr(app, "reference", dataclasses.replace(reference, policy=policy))


@pytest.mark.parametrize("window", [10, 2])  # minutes: the built-in policy's, and a shorter one
def test_a_killed_sweep_s_digest_reaches_the_supervisors_well_before_the_climb(
    napp: App,
    clock: FixedClock,
    mail: RouteBook,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    window: int,
) -> None:
    if window * 60 != TIMEOUT.total_seconds():
        _shorter_window(napp, monkeypatch, window)
    acknowledgement = timedelta(minutes=window)
    relay_every = min(timedelta(minutes=1), acknowledgement / 4)  # cron: every minute
    _overdue_cases(napp, clock, 2)
    start = clock.now()
    _killed_sweep(napp, clock)
    assert deliver(napp, config=FAST).sent == 0  # held: the pass might still be running
    told: dict[str, timedelta] = {}
    while clock.now() < start + acknowledgement + 2 * relay_every:
        clock.advance(relay_every)
        deliver(napp, config=FAST)
        for who in ("sup", "adm"):
            if smtp.to(f"{who}@{MAIL_DOMAIN}"):
                told.setdefault(who, clock.now() - start)
    assert "sup" in told, "the supervisors' digest was still held when the alert climbed"
    assert told["sup"] <= acknowledgement / 2
    assert told["adm"] >= acknowledgement  # the climb, once the window had run out
    [alert] = _alerts(napp)
    assert alert.tier == 1
    [message] = smtp.to(f"sup@{MAIL_DOMAIN}")
    assert alert.id[:8] in message.plain


def test_the_hold_is_well_within_the_acknowledgement_window(
    napp: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renewed by each batch, short enough to be over long before a climb, whatever the
    policy's window; a reminder digest's is the long one (no climb waits on it)."""
    assert _hold(napp) <= TIMEOUT / 5
    for minutes in (5, 1):
        _shorter_window(napp, monkeypatch, minutes)
        assert _hold(napp) <= timedelta(minutes=minutes) / 5
    reminders = napp.run(lambda uow: Digests().hold(uow))
    assert reminders == timedelta(minutes=30)


def test_a_sweep_still_running_keeps_its_escalation_digest_held_to_its_end(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer
) -> None:
    """Each batch holds the pass's digests on: a pass whose batches keep coming, however far
    apart within the hold, sends each supervisor one message, at its end."""
    cases = _overdue_cases(napp, clock, 4)
    hold, sent = _hold(napp), []

    def slow_batches() -> None:
        clock.advance(hold * 0.75)
        sent.append(deliver(napp, config=FAST).sent)

    send_reminders(napp, clock.now(), batch=1, between=slow_batches)
    assert sent == [0, 0, 0]  # the pass took 2.25 holds
    digests = rows(napp, kind=ESCALATIONS)
    assert sorted((d.channel, d.status, d.context["count"]) for d in digests) == [
        ("chat", OutboxStatus.PENDING, 4),
        ("email", OutboxStatus.PENDING, 4),
    ]
    drain(napp, clock)
    [message] = smtp.to(f"sup@{MAIL_DOMAIN}")
    assert all(ref in message.plain for ref in cases)


def test_a_batch_slower_than_the_hold_leaves_the_digest_the_relay_took_and_loses_nothing(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer
) -> None:
    """The relay takes a digest whose hold ran out (the pass might have died); the pass's next
    batch leaves it as it went and starts another: each case in one message, each alert's pages
    carried by the digest that names it, and each reaches the supervisor."""
    cases = _overdue_cases(napp, clock, 2)
    hold, sent = _hold(napp), []

    def too_slow() -> None:
        clock.advance(hold + timedelta(seconds=1))
        sent.append(deliver(napp, config=FAST).sent)

    send_reminders(napp, clock.now(), batch=1, between=too_slow)
    assert sent == [2]  # the supervisor's digests (email, chat), naming the first case
    drain(napp, clock)
    digests = {d.id: d for d in rows(napp, kind=ESCALATIONS)}
    assert {d.status for d in digests.values()} == {OutboxStatus.SENT}
    email = sorted(
        (d for d in digests.values() if d.channel == "email"), key=lambda d: d.created_at
    )
    assert [[item["case_ref"] for item in d.context["items"]] for d in email] == [
        [cases[0]],
        [cases[1]],
    ]
    assert len(smtp.to(f"sup@{MAIL_DOMAIN}")) == 2
    pages: list[OutboxMessage] = rows(napp, kind="overdue_escalation")
    assert len(pages) == 4  # two alerts, to sup by email and chat
    for page in pages:
        carrier = digests[page.carrier_id]
        assert page.alert_id in [item["alert_id"] for item in carrier.context["items"]]
        assert (carrier.recipient, carrier.channel) == (page.recipient, page.channel)
        assert page.sent_at == carrier.sent_at

    assert all(alerts.reached_anyone(napp, "sup", a.id) for a in _alerts(napp))


def test_a_killed_climb_pass_s_digest_goes_once_its_short_hold_is_past(
    napp: App,
    clock: FixedClock,
    mail: RouteBook,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A relay pass climbing overdue escalations is killed after its first batch: the next pass
    climbs the rest, in a digest of its own, and the killed pass's digest to the admins, held,
    goes with what its batch committed once the escalation digests' hold is past (not half an
    hour later)."""
    _overdue_cases(napp, clock, 2)
    send_reminders(napp, clock.now())
    drain(napp, clock)
    clock.advance(TIMEOUT)
    monkeypatch.setattr(alerts, "ESCALATION_BATCH", 1)

    def die() -> None:
        raise SystemExit("the relay's process was killed")

    with pytest.raises(SystemExit):
        alerts.escalate_due(napp, clock.now(), between=die)
    report = deliver(napp, config=FAST)
    assert (report.escalated, report.sent) == (1, 1)  # the rest; the killed pass's is held
    clock.advance(_hold(napp))
    assert deliver(napp, config=FAST).sent == 1
    told = smtp.to(f"adm@{MAIL_DOMAIN}")
    assert len(told) == 2 and all("1 overdue" in message.subject for message in told)
    assert {a.tier for a in _alerts(napp)} == {1}
