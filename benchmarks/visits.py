"""A missed visit check-in: how long after its deadline the buddy's email arrives.

The relay runs every minute (cron's `harbour deliver`, or the `deliver-notifications` deployment
when Prefect runs Harbour, on one machine or scaled out): a deadline that passes just after a
pass waits at most the relay's period for the next one, which raises the alert and sends it in
the same pass (urgent lane, ahead of any backlog). The figure is that pass, from its start to
the email at a local SMTP server, with a backlog of normal-lane reminders waiting; the worst case
from the deadline is the relay's period plus it, which the issue bounds at two minutes. The
baseline is a bare Apprise send of an email to the same server.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from sqlalchemy import insert, update

from benchmarks.alert import _arrived
from benchmarks.common import BACKENDS, Row, seed_agency, temp_store
from harbour.app import App, UnitOfWork
from harbour.cases import visits
from harbour.clock import FixedClock
from harbour.db.base import new_id
from harbour.db.models import OutboxMessage
from harbour.demo.receivers import (
    MAIL_DOMAIN,
    RouteBook,
    SmtpServer,
    smtp_server,
    webhook_receiver,
)
from harbour.domain.vocab import Lane, NotificationKind, OutboxStatus
from harbour.notify.relay import deliver

BUDDY = f"cw1@{MAIL_DOMAIN}"
PERIOD = 60.0  # seconds between two relay passes
BACKLOG = 500  # normal-lane rows waiting when the deadline passes


def run(size: int = 5) -> list[Row]:
    """``size`` missed check-ins per database (medians)."""
    if size < 1:
        return []
    return [_row(backend, size) for backend in BACKENDS]


def _row(backend: str, times: int) -> Row:
    with temp_store(backend) as app, smtp_server() as smtp, webhook_receiver() as receiver:
        seed_agency(app)
        book = RouteBook(app.settings.home / "routes.yaml", smtp, receiver)
        book.email("cw1")
        routed = App(app.settings.model_copy(update={"apprise_config": book.path}), app.clock)
        url = f"mailto://127.0.0.1:{smtp.port}?from=harbour@relay.test&to={BUDDY}"
        baseline = statistics.median(_bare_send_to(smtp, url) for _ in range(times))
        passes = [_missed_once(routed, smtp, number) for number in range(times)]
        routed.dispose()
    figure = statistics.median(passes)
    return Row(
        f"missed visit check-in: relay pass to buddy's email, {backend}",
        figure,
        baseline,
        "s",
        "bare Apprise send",
        f"{BACKLOG} reminders waiting; worst case from the deadline: the relay's "
        f"{PERIOD:.0f} s period + {figure:.2f} s (bound: 120 s)",
    )


def _bare_send_to(smtp: SmtpServer, url: str) -> float:
    """Seconds from an Apprise call (warm, in this process) to the email's arrival."""
    import apprise

    seen = len(smtp.to(BUDDY))
    started = time.perf_counter()
    sender = apprise.Apprise()
    sender.add(url)
    sender.notify(body="Bench check-in", title="Visit check-in overdue")
    return _arrived(smtp, BUDDY, seen, started) - started


def _missed_once(app: App, smtp: SmtpServer, number: int) -> float:
    """One visit by sup (buddy cw1) that misses its deadline, a backlog waiting; the seconds
    from the start of the next relay pass to the email's arrival."""
    clock = app.clock
    assert isinstance(clock, FixedClock)
    visit = visits.start_visit(app, "sup", back_at=(clock.now() + timedelta(hours=1)).isoformat(),
                               buddy="cw1", location="Bench place")  # fmt: skip
    app.run(lambda uow: _backlog(uow, number))
    clock.set(visit.deadline_at + timedelta(seconds=1))
    seen = len(smtp.to(BUDDY))
    started = time.perf_counter()
    deliver(app, limit=50)
    arrived = _arrived(smtp, BUDDY, seen, started) - started
    visits.check_in(app, "sup")
    app.run(_clear_backlog)  # the next round starts from the same backlog
    return arrived


def _clear_backlog(uow: UnitOfWork) -> None:
    M = OutboxMessage
    uow.session.execute(
        update(M).where(M.status == OutboxStatus.PENDING).values(status=OutboxStatus.CANCELLED)
    )


def _backlog(uow: UnitOfWork, number: int) -> None:
    """Normal-lane rows due now, written in one statement (their content does not matter)."""
    now = uow.now()
    rows = [
        {"id": new_id(), "dedupe_key": f"bench:{number}:{row}", "kind": NotificationKind.TEST,
         "lane": Lane.NORMAL, "recipient": "coord", "channel": "any",
         "status": OutboxStatus.PENDING, "attempts": 0, "next_attempt_at": now,
         "context": {}, "created_at": now}
        for row in range(BACKLOG)
    ]  # fmt: skip
    uow.session.execute(insert(OutboxMessage), rows)
