"""What a message is made of on the wire (the email's plain-text part, the urgency a chat tool
sees), and what a routes file that cannot be used says: its path, line and problem."""

from __future__ import annotations

import stat
from pathlib import Path

from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.db.models import Case
from harbour.demo.receivers import MAIL_DOMAIN, Receiver, RouteBook, SmtpServer
from harbour.domain.vocab import Lane, NotificationKind, OutboxStatus
from harbour.notify.outbox import enqueue
from harbour.notify.relay import deliver
from harbour.notify.routes import parse_routes
from tests.notify.conftest import FAST
from tests.notify.helpers import imminent_alert, new_case, rows
from tests.support import invoke

K = NotificationKind


def _assigned(app: App, case: Case) -> None:
    def work(uow: UnitOfWork) -> None:
        enqueue(
            uow,
            K.CASE_ASSIGNED,
            recipients=["cw1"],
            case=case,
            dedupe="parts",
            context={},
            lane=Lane.NORMAL,
        )

    app.run(work)


def test_an_emails_plain_text_part_is_the_text_template_with_the_link(
    napp: App, routes: RouteBook, smtp: SmtpServer
) -> None:
    routes.email("cw1")
    case = new_case(napp)
    _assigned(napp, case)
    assert deliver(napp, config=FAST).sent == 1
    [mail] = smtp.to(f"cw1@{MAIL_DOMAIN}")
    link = f"https://harbour.test/cases/{case.reference}"
    assert f"Open: {link}" in mail.plain  # the text template's line, link and all
    assert "Open in Harbour" not in mail.plain  # not Apprise's stripped HTML
    assert "<p>" not in mail.plain
    assert f'href="{link}"' in mail.text  # the HTML part is still there


def test_an_imminent_page_is_sent_as_a_failure_and_routine_news_as_info(
    napp: App, routes: RouteBook, receiver: Receiver
) -> None:
    for handle in ("sup", "cw1"):
        routes.chat(handle)
    case = new_case(napp)
    imminent_alert(napp, case)
    _assigned(napp, case)
    deliver(napp, config=FAST)
    sup = receiver.at(RouteBook.chat_path("sup"))
    assert sup and {page["type"] for page in sup} == {"failure"}
    [routine] = [m for m in receiver.at(RouteBook.chat_path("cw1")) if m["type"] == "info"]
    assert "assigned" in routine["title"].lower()


def test_a_routes_file_with_a_yaml_error_names_its_path_line_and_problem(
    napp: App, routes: RouteBook, clock: FixedClock
) -> None:
    routes.chat("sup").chat("cw1")
    broken = routes.path.read_text().replace("      - tag: sup", "     - tag: [sup")
    routes.path.write_text(broken)
    imminent_alert(napp, new_case(napp))
    check = invoke(napp, "notify", "check", "--as", "adm")
    assert check.exit_code == 2
    [problem] = [line for line in check.stdout.splitlines() if line.startswith("problem:")]
    assert f"{routes.path}:" in problem and "not valid YAML" in problem
    line = int(problem.split(f"{routes.path}:")[1].split(":")[0])
    assert 3 <= line <= len(broken.splitlines())
    assert "no_routes" not in check.stdout and "127.0.0.1" not in problem
    test = invoke(napp, "notify", "test", "--to", "sup", "--as", "adm")
    assert test.exit_code == 2 and f"{routes.path}:{line}: config_invalid" in test.stderr
    # Nothing is sent and nothing burns its attempts while the file is broken.
    report = deliver(napp, config=FAST)
    assert report.errors == {"config_invalid": 1}
    urgent = rows(napp, lane=Lane.URGENT)
    assert urgent and {(r.status, r.attempts) for r in urgent} == {(OutboxStatus.PENDING, 0)}


def test_a_routes_file_open_to_group_or_others_sends_nothing_until_made_owner_only(
    napp: App, routes: RouteBook, receiver: Receiver
) -> None:
    """The routes file holds mail passwords and webhook tokens: as the key file, one that group
    or others may read is refused, saying how to fix it, and nothing is sent through it (nor
    through the staff records' routes) until it is owner-only, as RouteBook writes it."""
    routes.chat("sup").chat("cw1")
    assert stat.S_IMODE(routes.path.stat().st_mode) == 0o600
    routes.path.chmod(0o644)
    imminent_alert(napp, new_case(napp))
    check = invoke(napp, "notify", "check", "--as", "adm")
    assert check.exit_code == 2
    [problem] = [line for line in check.stdout.splitlines() if line.startswith("problem:")]
    assert f"{routes.path}: " in problem and "0644" in problem
    assert f"chmod 600 {routes.path}" in problem and "127.0.0.1" not in problem
    test = invoke(napp, "notify", "test", "--to", "sup", "--as", "adm")
    assert test.exit_code == 2 and f"chmod 600 {routes.path}" in test.stderr
    deliver(napp, config=FAST)
    assert receiver.at(RouteBook.chat_path("sup")) == []
    urgent = rows(napp, lane=Lane.URGENT)
    assert urgent and {(r.status, r.attempts) for r in urgent} == {(OutboxStatus.PENDING, 0)}
    routes.path.chmod(0o600)  # read again at once: no restart, no change of the file's content
    assert deliver(napp, config=FAST).sent > 0 and receiver.at(RouteBook.chat_path("sup"))


def test_routes_text_that_is_not_a_list_of_urls_is_refused_by_line(tmp_path: Path) -> None:
    assert parse_routes("version: 1\n", "r.yaml").problems == (
        "r.yaml:1: config_invalid (no urls list)",
    )
    [problem] = parse_routes("urls:\n  - json://a.test/x: {tag: a\n", "r.yaml").problems
    assert problem.startswith("r.yaml:") and "not valid YAML" in problem
    assert parse_routes("urls:\n  - json://a.test/x:\n      - tag: a, chat\n", "r.yaml").routes
