"""A notification that reached one of its recipient's routes while another kept failing is
recorded as sent; `harbour notify check` names the failing route's channel and code (never an
address, nor what was said) and fails, until a later notification on that channel reaches every
route. Found by review: the failure was only in the row's last error, and nobody was told."""

from __future__ import annotations

from datetime import timedelta

from harbour.app import App
from harbour.clock import FixedClock
from harbour.demo.receivers import WEBHOOK_TOKEN, Receiver, RouteBook
from harbour.domain.vocab import Lane, NotificationKind, OutboxStatus
from harbour.notify.outbox import enqueue
from harbour.notify.relay import deliver
from tests.notify.conftest import FAST
from tests.notify.helpers import MARKER, drain, imminent_alert, new_case, rows
from tests.support import executed, invoke

PAGER = f"/{WEBHOOK_TOKEN}/sup-pager"


def _pager(routes: RouteBook, receiver: Receiver, faults: int) -> None:
    """sup's second chat route, failing ``faults`` times."""
    routes.add(f"json://127.0.0.1:{receiver.port}{PAGER}", "sup", "chat")
    receiver.script(PAGER, ["500"] * faults)


def _told(app: App, recipient: str) -> None:
    case = new_case(app)
    app.run(
        lambda uow: enqueue(
            uow,
            NotificationKind.CASE_ASSIGNED,
            recipients=[recipient],
            case=case,
            dedupe=f"told:{case.id}",
            context={},
            lane=Lane.NORMAL,
        )
    )


def test_check_names_a_route_that_kept_failing_while_another_worked(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    routes.chat("sup").chat("adm")
    _pager(routes, receiver, faults=10)
    assert invoke(napp, "notify", "check", "--as", "adm").exit_code == 0
    imminent_alert(napp, new_case(napp))
    for _ in range(FAST.max_attempts):  # within the alert's time to be taken: no escalation
        deliver(napp, config=FAST)
        clock.advance(timedelta(minutes=1))
    [page] = rows(napp, kind=NotificationKind.IMMINENT_THREAT)
    assert (page.status, page.last_error) == (OutboxStatus.SENT, "send_failure")

    check = invoke(napp, "notify", "check", "--as", "adm", "--json")
    assert check.exit_code == 2 and "route_failing" in check.stderr
    report = check.json()
    assert report["ok"] is False
    assert report["partly_delivered"] == [
        {
            "recipient": "sup",
            "channel": "chat",
            "error": "send_failure",
            "count": 1,
            "agency": "north",
        }
    ]
    text = invoke(napp, "notify", "check", "--as", "sup")
    assert text.exit_code == 2
    said = "1 notification(s) to sup (north) reached another route but not their chat route"
    assert said in text.stdout
    for shown in (check.stdout, text.stdout, text.stderr):
        assert WEBHOOK_TOKEN not in shown and MARKER not in shown and "/cases/" not in shown
    theirs = invoke(napp, "notify", "check", "--as", "sup2", "--json")  # south's supervisor
    assert theirs.json()["partly_delivered"] == []

    receiver.script(PAGER, [])  # the pager works again: the next message reaches both
    _told(napp, "sup")
    drain(napp, clock)
    assert invoke(napp, "notify", "check", "--as", "adm").exit_code == 0


def test_the_channel_named_is_the_failing_routes_not_the_rows(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    """A row written while its recipient had no route goes to every route they have later
    (channel ``any``): the check names the channel of the one that failed."""
    routes.chat("adm")
    _told(napp, "cw1")
    [row] = rows(napp, recipient="cw1")
    assert row.channel == "any"
    routes.email("cw1").chat("cw1")
    receiver.script(RouteBook.chat_path("cw1"), ["500"] * 10)
    drain(napp, clock)
    report = invoke(napp, "notify", "check", "--as", "adm", "--json").json()
    assert [(p["recipient"], p["channel"]) for p in report["partly_delivered"]] == [("cw1", "chat")]


def test_the_check_finds_them_by_index_not_by_reading_every_sent_row(napp: App) -> None:
    """The outbox keeps every notification ever sent: the rows sent though a route failed, and
    for each a later row that reached every route, are index searches on both databases
    (PostgreSQL asked with sequential scans off: a handful of rows would otherwise be read whole,
    rightly). At 200,000 sent rows the check read them all: 1.2 s on SQLite."""
    from sqlalchemy import insert, text

    from harbour.db.models import OutboxMessage
    from harbour.notify.console import check

    sent = [  # the planner's statistics see a sent row now and then fail on one route
        {
            "id": f"{i:032x}",
            "dedupe_key": f"sent:{i}",
            "kind": NotificationKind.CASE_ASSIGNED,
            "lane": Lane.NORMAL,
            "recipient": f"cw{i % 2 + 1}",
            "channel": "email",
            "status": OutboxStatus.SENT,
            "next_attempt_at": napp.clock.now(),
            "last_error": "send_failure" if i % 500 == 0 else None,
            "created_at": napp.clock.now(),
            "sent_at": napp.clock.now() + timedelta(seconds=i),
        }
        for i in range(2000)
    ]
    with napp.engine.begin() as conn:
        conn.execute(insert(OutboxMessage), sent)
        if napp.engine.dialect.name != "sqlite":  # a store's autovacuum does; SQLite has none
            conn.execute(text("ANALYZE outbox"))
    with executed(napp.engine) as seen:
        check(napp, "adm")
    [(statement, parameters)] = [
        (statement, parameters)
        for statement, parameters in seen
        if "FROM outbox" in statement and "last_error IS NOT NULL" in statement
    ]
    sqlite = napp.engine.dialect.name == "sqlite"
    with napp.engine.begin() as conn:
        if not sqlite:
            conn.execute(text("SET LOCAL enable_seqscan = off"))
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        plan = " | ".join(
            str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters)
        )
    assert plan.count("ix_outbox_delivery") == 2, plan  # the rows, and the later one for each
    assert "SCAN outbox" not in plan and "Seq Scan on outbox" not in plan, plan
    assert "Filter: (last_error" not in plan, plan  # searched for in the index, not read
