"""A relay that stalls past its lease while another takes its rows over: what each one delivered
is kept on the row, whichever records first, so a retry never goes again to a route that has the
message, and a row that reached one is never dead-lettered. Two relays (two Apps, one clock)
driven step by step through claim, send and record, against a real HTTP receiver, on both
databases."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import OutboxMessage
from harbour.demo.receivers import WEBHOOK_TOKEN, Receiver, RouteBook
from harbour.domain.vocab import Lane, NotificationKind, OutboxStatus
from harbour.notify.alerts import reached_anyone
from harbour.notify.directory import routes_of
from harbour.notify.outbox import settle
from harbour.notify.relay import Claimed, DeliveryReport, Outcome, claim, record, send
from harbour.orchestration.sweep import send_reminders
from tests.notify.conftest import FAST
from tests.notify.helpers import drain, imminent_alert, new_case, open_assessment, rows

HEALTHY = RouteBook.chat_path("sup")
PAGER = f"/{WEBHOOK_TOKEN}/sup-pager"  # sup's second chat route, on the same receiver
URGENT = (Lane.URGENT,)


@pytest.fixture
def stalled(napp: App) -> Iterator[App]:
    """The relay that stalls: another process on the same store and clock."""
    other = App(napp.settings, napp.clock)
    yield other
    other.dispose()


def _page_to_two_routes(napp: App, routes: RouteBook, receiver: Receiver) -> str:
    """An imminent alert paging sup on chat, where sup has two routes; its alert's id."""
    routes.chat("sup").chat("adm")
    routes.add(f"json://127.0.0.1:{receiver.port}{PAGER}", "sup", "chat")
    return imminent_alert(napp, new_case(napp)).id


def _sent(app: App, row: Claimed, receiver: Receiver, *failing: str) -> Outcome:
    """``row`` sent by ``app``'s relay while the routes at ``failing`` answer 500."""
    for path in failing:
        receiver.script(path, ["500"])
    return send(app, app.read(routes_of), row, FAST)


def _taken_over(
    stalled: App, clock: FixedClock, receiver: Receiver, lanes: tuple[Lane, ...] = URGENT
) -> Outcome:
    """The stalled relay claims the page and reaches the healthy route (the pager fails), then
    stalls past its lease; the outcome it has yet to record."""
    [row] = claim(stalled, lanes, 1, FAST)
    late = _sent(stalled, row, receiver, PAGER)
    assert (late.error, len(late.delivered)) == ("send_failure", 1)
    clock.advance(FAST.lease + timedelta(seconds=1))
    return late


@pytest.mark.parametrize("stale_records", ["first", "last"])
def test_what_a_relay_past_its_lease_delivered_is_kept_whoever_records_first(
    stale_records: str,
    napp: App,
    stalled: App,
    clock: FixedClock,
    routes: RouteBook,
    receiver: Receiver,
) -> None:
    """The relay that took the page over reaches the pager (the healthy route fails for it):
    between the two relays both routes have the page, and the row says so, so the retry sends
    nothing. Before, the stalled relay's record of the healthy route was dropped (its claim was
    stale), or overwritten by the other's, and the retry paged sup there a second time."""
    alert_id = _page_to_two_routes(napp, routes, receiver)
    late = _taken_over(stalled, clock, receiver)
    [row] = claim(napp, URGENT, 1, FAST)
    assert row.attempts == 2 and not row.delivered  # taken over, before the stalled one records
    current = _sent(napp, row, receiver, HEALTHY)
    assert (current.error, len(current.delivered)) == ("send_failure", 1)
    order = [(stalled, late), (napp, current)]
    for app, outcome in order if stale_records == "first" else order[::-1]:
        record(app, [outcome], FAST, DeliveryReport())

    [page] = rows(napp, alert_id=alert_id)
    assert page.status == OutboxStatus.PENDING and page.sent_at is not None
    assert len(page.delivered) == 2  # both routes, each recorded by the relay that reached it
    drain(napp, clock)
    [page] = rows(napp, alert_id=alert_id)
    assert page.status == OutboxStatus.SENT
    assert (len(receiver.at(HEALTHY)), len(receiver.at(PAGER))) == (1, 1)


def test_a_page_a_relay_past_its_lease_delivered_is_not_dead_lettered_by_its_successor(
    napp: App, stalled: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    """The relay that took the page over makes its last attempt and reaches neither route; the
    stalled one had reached the healthy route and recorded it meanwhile. The page reached sup:
    sent, the pager's failure kept, and no dead-letter notice. Before, the successor, whose
    claim did not know of that delivery, dead-lettered it."""
    last = dataclasses.replace(FAST, max_attempts=2)
    alert_id = _page_to_two_routes(napp, routes, receiver)
    late = _taken_over(stalled, clock, receiver)
    [row] = claim(napp, URGENT, 1, last)
    record(stalled, [late], FAST, DeliveryReport())
    current = _sent(napp, row, receiver, HEALTHY, PAGER)
    assert (current.error, current.delivered) == ("send_failure", frozenset())
    report = DeliveryReport()
    record(napp, [current], last, report)

    [page] = rows(napp, alert_id=alert_id)
    assert (page.status, page.last_error) == (OutboxStatus.SENT, "send_failure")
    assert (report.sent, report.dead) == (1, 0)
    assert rows(napp, kind=NotificationKind.DEAD_LETTER) == []
    assert reached_anyone(napp, "sup", alert_id)
    assert (len(receiver.at(HEALTHY)), len(receiver.at(PAGER))) == (1, 0)


def test_an_escalation_digest_a_relay_past_its_lease_delivered_says_so_on_its_pages(
    napp: App, stalled: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    """The digest's successor reaches neither route and records first; the stalled relay,
    which reached the healthy one, records last: the bundled pages say the alert reached sup,
    and keep the successor's tries and error. Before, the stalled relay's record was dropped,
    and `harbour notify check` listed the alert as reaching nobody."""
    routes.chat("sup").add(f"json://127.0.0.1:{receiver.port}{PAGER}", "sup", "chat")
    case = new_case(napp)
    open_assessment(napp, case, clock.now() - timedelta(days=30))
    send_reminders(napp, clock.now())  # the overdue escalation, in a digest to sup on chat
    reminder = OutboxMessage.kind == NotificationKind.REMINDER_DIGEST  # cw1's: not this test's
    napp.run(lambda uow: settle(uow, reminder, "not_this_test"))
    late = _taken_over(stalled, clock, receiver, (Lane.NORMAL,))
    assert late.row.kind == NotificationKind.ESCALATION_DIGEST
    [row] = claim(napp, (Lane.NORMAL,), 1, FAST)
    record(napp, [_sent(napp, row, receiver, HEALTHY, PAGER)], FAST, DeliveryReport())
    record(stalled, [late], FAST, DeliveryReport())

    [digest] = rows(napp, kind=NotificationKind.ESCALATION_DIGEST)
    [page] = rows(napp, kind=NotificationKind.OVERDUE_ESCALATION)
    assert digest.sent_at is not None and page.sent_at == digest.sent_at
    assert (page.status, page.attempts, page.last_error) == (
        OutboxStatus.BUNDLED,
        2,
        "send_failure",
    )
    assert reached_anyone(napp, "sup", page.alert_id)


def test_a_record_waiting_for_another_relay_s_keeps_what_that_one_recorded(
    napp: App, stalled: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    """PostgreSQL: the stalled relay's record waits for the row while the other relay's
    commits: the routes both recorded are on the row (the merge is the database's, on the row
    as the update finds it, not on the row as the stalled relay read it)."""
    if napp.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's writers queue: two records cannot overlap")
    import threading

    from sqlalchemy import update

    alert_id = _page_to_two_routes(napp, routes, receiver)
    late = _taken_over(stalled, clock, receiver)
    with napp.engine.connect() as other_record:
        other_record.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == late.row.id)
            .values(delivered=["0123456789abcdef"], sent_at=clock.now())
        )
        recording = threading.Thread(target=record, args=(stalled, [late], FAST, DeliveryReport()))
        recording.start()
        recording.join(timeout=0.5)
        assert recording.is_alive()  # waiting for the row the other relay is recording
        other_record.commit()
    recording.join(timeout=10)
    [page] = rows(napp, alert_id=alert_id)
    assert "0123456789abcdef" in page.delivered and len(page.delivered) == 2


def test_a_last_attempt_waiting_for_a_stale_relay_s_record_tells_no_admin_it_died(
    napp: App, stalled: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    """PostgreSQL: the successor makes the page's last attempt and reaches neither route; it
    reads the row before the stalled relay's record of the healthy route commits, and its
    dead-lettering waits for that record. The row ends sent (the update sees the route reached),
    so no admin may be told it could not be delivered, nor the pass count it dead."""
    if napp.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's writers queue: two records cannot overlap")
    import threading

    from sqlalchemy import update

    last = dataclasses.replace(FAST, max_attempts=2)
    alert_id = _page_to_two_routes(napp, routes, receiver)
    late = _taken_over(stalled, clock, receiver)
    [row] = claim(napp, URGENT, 1, last)
    current = _sent(napp, row, receiver, HEALTHY, PAGER)
    assert (current.error, current.delivered) == ("send_failure", frozenset())
    report = DeliveryReport()
    with stalled.engine.connect() as stale_record:  # the stalled relay's record, not committed
        stale_record.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == late.row.id)
            .values(delivered=sorted(late.delivered), sent_at=clock.now())
        )
        recording = threading.Thread(target=record, args=(napp, [current], last, report))
        recording.start()
        recording.join(timeout=0.5)
        assert recording.is_alive()  # its dead-lettering waits for the row
        stale_record.commit()
    recording.join(timeout=10)
    [page] = rows(napp, alert_id=alert_id)
    assert page.status == OutboxStatus.SENT
    assert rows(napp, kind=NotificationKind.DEAD_LETTER) == []
    assert (report.sent, report.dead) == (1, 0)
