"""Notifications: N deliveries to the local chat webhook receiver, 30% of first attempts failing
(500, 429, or held past the timeout), through Harbour's outbox and relay, against a bare Apprise
loop sending the same N messages to the same receiver through the same faults; and imminent
alerts raised while the relay works through those N reminders, their latency against the same
alert with nothing else pending.

The faults: half of them are answered 500, half 429, and one in 500 first attempts is held past
the send timeout. The relay retries a failed row after its backoff; the simulated clock skips the
backoff waits (they are policy, not work), so the figure is the relay's own cost: claiming,
composing each message from its template, one Apprise call per row (on the hardened plugin
instances each relay worker keeps per route), recording the outcome. The bare loop keeps one
Apprise object and retries a failure at once. Both give up on a held
answer after the same timeout. An alert's latency runs from its commit to its arrival at the
receiver; it goes on the urgent lane, which the relay claims first at every refill.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from benchmarks.common import START, Row, temp_store
from harbour.admin.staffing import AgencyIn, StaffIn, create_agency, create_staff
from harbour.app import App, UnitOfWork
from harbour.cases.intake import Referred, refer
from harbour.clock import FixedClock
from harbour.db.base import new_id
from harbour.db.models import Case, OutboxMessage
from harbour.demo.receivers import WEBHOOK_TOKEN, Receiver, RouteBook, smtp_server, webhook_receiver
from harbour.domain.vocab import AlertKind, Lane, NotificationKind, OutboxStatus
from harbour.notify.alerts import acknowledge, open_alert
from harbour.notify.outbox import enqueue
from harbour.notify.relay import RelayConfig, deliver

ZONE = "America/New_York"
WORKERS = [f"bench-cw{i}" for i in range(20)]
ONCALL = "bench-sup"
FAILING = 0.30  # of first attempts
HELD = 0.002  # of first attempts: answered only after the timeout (part of FAILING)
TIMEOUT = 0.5  # seconds: the receiver holds a "timeout" fault for 2.5 s
CONFIG = RelayConfig(timeout=TIMEOUT, max_attempts=6, backoff_cap=timedelta(minutes=10))
ALERTS = 5
ENQUEUE_BATCH = 1000
GIVE_UP = 900  # seconds


def run(size: int = 10_000) -> list[Row]:
    with _harbour() as bench, _quiet_relay():
        alone = statistics.median(_alert_alone(bench) for _ in range(ALERTS))
        relay, during = _relay_rate(bench, size)
        bare = _bare_rate(bench, size)
    return [
        Row(
            f"notifications: {size:,} deliveries, {FAILING:.0%} failing",
            relay,
            bare,
            "deliveries/s",
            "bare Apprise loop",
            "outbox and relay, backoff waits skipped",
        ),
        Row(
            "imminent alert while the relay is busy",
            statistics.median(during),
            alone,
            "s to the receiver",
            "same alert, nothing pending",
            f"urgent lane; {len(during)} alerts raised with {size // 2:,}+ reminders pending",
        ),
    ]


@dataclass
class Bench:
    app: App
    clock: FixedClock
    receiver: Receiver
    agency_id: str
    case: Referred

    def path(self, tag: str) -> str:
        return RouteBook.chat_path(tag)


@contextmanager
def _harbour() -> Iterator[Bench]:
    """A store with 20 caseworkers and an on-call supervisor, each with a chat route to the
    receiver, and one case to raise alerts on."""
    with temp_store("sqlite") as store, smtp_server() as smtp, webhook_receiver() as receiver:
        book = RouteBook(store.settings.home / "routes.yaml", smtp, receiver)
        for tag in [*WORKERS, ONCALL]:
            book.chat(tag)
        clock = FixedClock(START)
        settings = store.settings.model_copy(update={"apprise_config": book.path})
        app = App(settings, clock, store.keyring)
        try:
            agency_id = app.run(_staff)
            youth = {"youth": {"name": "Bench Youth"}, "situation": "just_left"}
            case = refer(app, "coord", youth, None, allow_duplicate=True)
            yield Bench(app, clock, receiver, agency_id, case)
        finally:
            app.dispose()


@contextmanager
def _quiet_relay() -> Iterator[None]:
    """Apprise and the relay log a warning per failed attempt: thousands here, by design."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _staff(uow: UnitOfWork) -> str:
    agency = create_agency(uow, AgencyIn(name="bench", timezone=ZONE))
    create_staff(uow, StaffIn(handle="coord", agency="bench", role="coordinator"))
    create_staff(uow, StaffIn(handle=ONCALL, agency="bench", role="supervisor", on_call=True))
    for handle in WORKERS:
        create_staff(uow, StaffIn(handle=handle, agency="bench", role="caseworker"))
    return agency.id


# -- deliveries with faults ----------------------------------------------------------------------


def _relay_rate(bench: Bench, size: int) -> tuple[float, list[float]]:
    """(deliveries per second through the outbox and the relay, backoff waits skipped; the
    latencies of the alerts raised meanwhile)."""
    run_id = _enqueue_reminders(bench, size)
    _script_faults(bench.receiver, size)
    raiser = AlertRaiser(bench, size)
    started = time.perf_counter()
    raiser.start()
    seconds = None
    while raiser.is_alive() or seconds is None:
        if time.perf_counter() - started > GIVE_UP:
            raise TimeoutError("the relay benchmark did not finish")
        claimed = deliver(bench.app, limit=size * 2, config=CONFIG).claimed
        if claimed:
            continue
        if _pending(bench.app):
            bench.clock.advance(CONFIG.backoff_cap * 1.3)  # only backoff waits left: skip them
        elif seconds is None:
            seconds = time.perf_counter() - started  # everything sent
        else:
            time.sleep(0.005)  # the raiser has an alert still to raise
    raiser.join()
    _check_delivered(bench, run_id, size, len(bench.receiver.received) - raiser.before)
    if len(raiser.latencies) != ALERTS:
        raise AssertionError(f"alerts: {raiser.error or 'not all arrived'}")
    return size / seconds, raiser.latencies


def _bare_rate(bench: Bench, size: int) -> float:
    """Deliveries per second from one Apprise object in a loop, retrying each failure at once."""
    import apprise

    sender = apprise.Apprise()
    for tag in WORKERS:
        port = bench.receiver.port
        url = f"json://127.0.0.1:{port}/{WEBHOOK_TOKEN}/{tag}?cto={TIMEOUT}&rto={TIMEOUT}"
        sender.add(url, tag=tag)
    _script_faults(bench.receiver, size)
    before = len(bench.receiver.received)
    started = time.perf_counter()
    for n in range(size):
        for _ in range(size):
            if sender.notify(body=f"Reminder {n}", title="Assessment due soon", tag=_to(n)):
                break
    seconds = time.perf_counter() - started
    if len(bench.receiver.received) - before != size:
        raise AssertionError("the bare loop lost messages")
    return size / seconds


def _to(n: int) -> str:
    return WORKERS[n % len(WORKERS)]


def _enqueue_reminders(bench: Bench, size: int) -> str:
    """``size`` due-soon reminders on the normal lane, round the caseworkers."""
    run_id = new_id()[:8]

    def batch(first: int) -> Any:
        def work(uow: UnitOfWork) -> None:
            for n in range(first, min(first + ENQUEUE_BATCH, size)):
                enqueue(
                    uow,
                    NotificationKind.ASSESSMENT_DUE_SOON,
                    recipients=[_to(n)],
                    case=None,
                    dedupe=f"bench:{run_id}:{n}",
                    context={"case_ref": f"HB-{n:05d}", "due_date": "2026-03-09"},
                    lane=Lane.NORMAL,
                    agency_id=bench.agency_id,
                )

        return work

    for first in range(0, size, ENQUEUE_BATCH):
        bench.app.run(batch(first))
    return run_id


def _script_faults(receiver: Receiver, size: int) -> None:
    """Per worker's path, the faults for its share of the failing first attempts."""
    failing = round(size * FAILING)
    held = max(1, round(size * HELD))
    faults = ["timeout"] * held + ["500", "429"] * ((failing - held) // 2)
    faults += ["500"] * (failing - len(faults))
    shares: dict[str, list[str]] = {tag: [] for tag in WORKERS}
    for n, fault in enumerate(faults):
        shares[WORKERS[n % len(WORKERS)]].append(fault)
    for tag, script in shares.items():
        receiver.script(RouteBook.chat_path(tag), script)


def _pending(app: App) -> int:
    def work(uow: UnitOfWork) -> int:
        query = select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)
        return uow.session.scalar(query) or 0

    return app.run(work)


def _check_delivered(bench: Bench, run_id: str, size: int, arrived: int) -> None:
    def work(uow: UnitOfWork) -> int:
        query = select(func.count()).where(
            OutboxMessage.dedupe_key.like(f"bench:{run_id}:%"),
            OutboxMessage.status == OutboxStatus.SENT,
        )
        return uow.session.scalar(query) or 0

    sent = bench.app.run(work)
    if sent != size or arrived < size:
        raise AssertionError(f"relay: {sent} marked sent, {arrived} arrived, of {size}")


# -- the urgent lane -----------------------------------------------------------------------------


class AlertRaiser(threading.Thread):
    """Raises ALERTS imminent alerts, one by one, while the relay works through ``size``
    reminders (the last with more than half of them still to go), timing each to its arrival."""

    def __init__(self, bench: Bench, size: int) -> None:
        super().__init__(daemon=True)
        self.bench, self.size = bench, size
        self.before = len(bench.receiver.received)
        self.latencies: list[float] = []
        self.error: str | None = None

    def run(self) -> None:
        try:
            for n in range(1, ALERTS + 1):
                while self._delivered() < self.size * n // (2 * ALERTS + 2):
                    time.sleep(0.005)
                self.latencies.append(_arrival(self.bench, _raise_alert(self.bench)))
        except Exception as exc:  # reported by the caller
            self.error = repr(exc)

    def _delivered(self) -> int:
        return len(self.bench.receiver.received) - self.before


def _alert_alone(bench: Bench) -> float:
    """An alert with nothing else pending, delivered right after its commit as a CLI command
    does."""
    raised = _raise_alert(bench)
    deliver(bench.app, lane=Lane.URGENT, config=CONFIG)
    return _arrival(bench, raised)


@dataclass(frozen=True)
class Raised:
    alert_id: str
    committed: float  # perf_counter
    seen: int  # messages the receiver had accepted before the commit


def _raise_alert(bench: Bench) -> Raised:
    seen = len(bench.receiver.received)

    def work(uow: UnitOfWork) -> str:
        case = uow.session.get_one(Case, bench.case.id)
        kind, notice = AlertKind.IMMINENT_THREAT, NotificationKind.IMMINENT_THREAT
        return open_alert(uow, case, kind, new_id(), notice).id

    alert_id = bench.app.run(work)
    return Raised(alert_id, time.perf_counter(), seen)


def _arrival(bench: Bench, raised: Raised, within: float = 60) -> float:
    """Seconds from the alert's commit to its message at the on-call route; then it is
    acknowledged, so that no escalation joins the traffic as the simulated clock moves on."""
    path, cursor = bench.path(ONCALL), raised.seen
    while time.perf_counter() < raised.committed + within:
        received = bench.receiver.received[cursor:]
        if any(p == path and raised.alert_id in str(body) for p, body in received):
            latency = time.perf_counter() - raised.committed
            acknowledge(bench.app, ONCALL, raised.alert_id)
            return latency
        cursor += len(received)
        time.sleep(0.002)
    raise TimeoutError("the alert never arrived")
