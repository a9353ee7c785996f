"""The notification commands: notify check/test, outbox, outbox retry; deliver and sweep."""

from __future__ import annotations

from datetime import timedelta

from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.demo.receivers import MAIL_DOMAIN, WEBHOOK_TOKEN, Receiver, RouteBook, SmtpServer
from harbour.domain.vocab import Lane, NotificationKind, OutboxStatus
from harbour.notify.outbox import enqueue
from tests.notify.helpers import (
    MARKER,
    digest_waiting_for,
    drain,
    new_case,
    open_assessment,
    rows,
)
from tests.support import invoke


def test_check_lists_routes_in_privacy_form_and_who_has_none(napp: App, routes: RouteBook) -> None:
    routes.email("cw1").chat("sup").add("json://127.0.0.1:9/x", "oncall", "north", "chat")
    routes.add("json://user:s3cretpass@127.0.0.1:9/y", "coord")  # no channel tag
    result = invoke(napp, "notify", "check", "--as", "adm", "--json")
    assert result.exit_code == 2  # a route is unusable (a configuration error)
    report = result.json()
    assert report["problems"] == ["url 4: needs exactly one channel tag (email or chat)"]
    assert report["staff_without_route"] == ["adm", "coord", "cw2"]
    assert report["roles_without_route"] == ["coordinator", "admin"]
    assert "s3cretpass" not in result.stdout
    assert len(report["routes"]) == 3


def test_check_passes_on_a_good_file_and_needs_a_manager(napp: App, routes: RouteBook) -> None:
    routes.email("cw1")
    assert invoke(napp, "notify", "check", "--as", "sup").exit_code == 0
    assert invoke(napp, "notify", "check", "--as", "cw1").exit_code == 1


def test_check_without_a_routes_file(seeded: App) -> None:
    result = invoke(seeded, "notify", "check", "--as", "adm", "--json")
    assert result.exit_code == 2 and result.json()["problems"] == ["no_config"]
    said = invoke(seeded, "notify", "check", "--as", "adm").stdout
    # the code alone tells a new admin nothing: the text says what it means and what to do
    assert "problem: no_config: nobody has a route" in said
    assert "harbour staff contact" in said and "HARBOUR_APPRISE_CONFIG" in said


def test_notify_test_sends_a_harmless_message(
    napp: App, routes: RouteBook, smtp: SmtpServer, receiver: Receiver
) -> None:
    routes.email("cw1").chat("cw1")
    result = invoke(napp, "notify", "test", "--to", "cw1", "--as", "sup", "--json")
    assert result.exit_code == 0, result.stderr
    assert sorted(r["channel"] for r in result.json()) == ["chat", "email"]
    [mail] = smtp.to(f"cw1@{MAIL_DOMAIN}")
    assert mail.subject == "Harbour: test message"
    assert len(receiver.at(RouteBook.chat_path("cw1"))) == 1
    assert WEBHOOK_TOKEN not in result.stdout  # routes are shown as scheme and host only
    assert rows(napp) == []  # straight to the route, not through the outbox


def test_notify_test_refuses_bad_or_unknown_tags(napp: App, routes: RouteBook) -> None:
    routes.email("cw1")
    assert invoke(napp, "notify", "test", "--to", "no one", "--as", "sup").exit_code == 2
    unknown = invoke(napp, "notify", "test", "--to", "cw9", "--as", "sup")
    assert unknown.exit_code == 1 and "no_route" in unknown.stderr


def test_outbox_shows_counts_and_rows_without_content_and_requeues(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    routes.chat("cw1").chat("adm")
    receiver.script(RouteBook.chat_path("cw1"), ["500"] * 3)
    case = new_case(napp)

    def work(uow: UnitOfWork) -> None:
        enqueue(
            uow,
            NotificationKind.CASE_ASSIGNED,
            recipients=["cw1"],
            case=case,
            dedupe="cli",
            context={},
            lane=Lane.NORMAL,
        )

    napp.run(work)
    drain(napp, clock)
    shown = invoke(napp, "outbox", "--as", "sup", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["counts"] == {
        "pending": 0,
        "sent": 1,
        "dead": 1,
        "cancelled": 0,
        "bundled": 0,
    }
    short = "-".join(case.reference.split("-")[:3])
    assert short not in shown.stdout and MARKER not in shown.stdout
    [dead] = rows(napp, status=OutboxStatus.DEAD)
    text = invoke(napp, "outbox", "--status", "dead", "--as", "adm")
    assert dead.id in text.stdout and "send_failure" in text.stdout
    assert invoke(napp, "outbox", "--as", "sup2", "--json").json()["counts"]["dead"] == 0
    assert invoke(napp, "outbox", "retry", dead.id, "--as", "sup2").exit_code == 1
    assert invoke(napp, "outbox", "retry", "zz", "--as", "sup").exit_code == 2
    assert invoke(napp, "outbox", "--status", "lost", "--as", "sup").exit_code == 2
    retried = invoke(napp, "outbox", "retry", dead.id, "--as", "sup", "--json")
    assert retried.exit_code == 0, retried.stderr
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    delivered = invoke(napp, "deliver", "--as", "adm", "--json")
    assert delivered.json()["delivered"] == 1
    assert len(receiver.at(RouteBook.chat_path("cw1"))) == 1


def test_a_row_of_someone_deactivated_is_not_requeued(
    napp: App, clock: FixedClock, routes: RouteBook, smtp: SmtpServer
) -> None:
    """A message waiting for cw2 is dead-lettered as they leave; the routes file still has
    their address. Requeued, it went to them. Found by review: `outbox retry` requeued any dead
    row, and the relay sent it to the person who had left."""
    from harbour.notify.relay import deliver
    from tests.notify.conftest import FAST

    routes.email("cw2").email("adm")
    smtp.script(f"cw2@{MAIL_DOMAIN}", ["451 4.3.0 Try later"])  # waiting to be retried

    digest_waiting_for(napp, "cw2")
    deliver(napp, config=FAST)
    assert invoke(napp, "staff", "deactivate", "cw2", "--as", "adm").exit_code == 0
    [row] = rows(napp, recipient="cw2")
    again = invoke(napp, "outbox", "retry", row.id, "--as", "adm")
    assert again.exit_code == 2 and "deactivated" in again.stderr
    drain(napp, clock)
    [row] = rows(napp, recipient="cw2")
    assert (row.status, row.last_error) == (OutboxStatus.DEAD, "recipient_deactivated")
    assert smtp.to(f"cw2@{MAIL_DOMAIN}") == []


def test_the_sweep_command_sends_reminders(napp: App, clock: FixedClock) -> None:
    case = new_case(napp)
    open_assessment(napp, case, clock.now() + timedelta(days=1))
    result = invoke(napp, "sweep", "--as", "adm", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["reminders"] == 1
    assert "reminder_digest" in {r.kind for r in rows(napp)}


def test_another_agencys_routes_are_neither_shown_nor_tested(
    napp: App, routes: RouteBook, receiver: Receiver
) -> None:
    """`notify check` listed every route's tags (another agency's handles and name), and
    `notify test --to sup2` paged south's supervisor for north's (issue 13, item 13): a
    supervisor sees and tests their own agency's routes; an operator every one."""
    routes.chat("sup").chat("sup2")
    routes.add(f"json://127.0.0.1:{receiver.port}/s", "oncall", "south", "chat")
    mine = invoke(napp, "notify", "check", "--as", "sup", "--json").json()
    assert [r["tags"] for r in mine["routes"]] == [["chat", "sup"]]
    everyone = invoke(napp, "notify", "check", "--as", "adm", "--json").json()
    assert len(everyone["routes"]) == 3
    theirs = invoke(napp, "notify", "test", "--to", "sup2", "--as", "sup")
    nobody = invoke(napp, "notify", "test", "--to", "cw9", "--as", "sup")
    shared = invoke(napp, "notify", "test", "--to", "oncall", "--as", "sup")
    assert theirs.exit_code == nobody.exit_code == shared.exit_code == 1
    assert theirs.stderr == nobody.stderr == shared.stderr
    assert receiver.at(RouteBook.chat_path("sup2")) == [] and receiver.at("/s") == []
    assert invoke(napp, "notify", "test", "--to", "sup2", "--as", "adm").exit_code == 0
