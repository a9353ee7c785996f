"""From the CLI to the inboxes: a referral, an assignment and an imminent threat, delivered by the
commands' own after-commit relay, acknowledged, and nothing identifying in any message or log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Alert
from harbour.demo.receivers import MAIL_DOMAIN, Receiver, RouteBook, SmtpServer
from tests.cli.helpers import answers_file, ok, referred_case
from tests.notify.helpers import assert_clean_logs

MARK = "E2EMARK"


def test_cli_lifecycle_notifies_by_pointer_only(
    napp: App,
    clock: FixedClock,
    routes: RouteBook,
    smtp: SmtpServer,
    receiver: Receiver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    routes.email("cw1").email("sup").chat("sup").email("adm")
    ref = referred_case(napp, tmp_path, MARK)
    assigned = smtp.to(f"cw1@{MAIL_DOMAIN}")
    assert [m.subject for m in assigned] == [f"Harbour: Case assigned to you {ref[:12]}"]

    danger = answers_file(napp, tmp_path, "danger", immediate_danger="yes")
    ok(napp, "assess", ref, "--point", "initial_contact", "--answers", danger, "--as", "cw1")
    [alert] = napp.run(lambda uow: list(uow.session.scalars(select(Alert))))
    [urgent_mail] = smtp.to(f"sup@{MAIL_DOMAIN}")
    [urgent_chat] = receiver.at(RouteBook.chat_path("sup"))
    assert alert.id[:8] in urgent_mail.subject and alert.id in urgent_mail.text
    assert urgent_chat["title"].startswith("Harbour: URGENT")
    acked = ok(napp, "ack", alert.id[:8], "--as", "sup")
    assert acked["acknowledged_by"] == "sup"

    texts = [m.subject + m.text for m in smtp.received]
    texts += [body["title"] + body["message"] for _, body in receiver.received]
    for text in texts:
        assert MARK not in text and "north" not in text.lower()
        assert "traffick" not in text.lower() and "exploit" not in text.lower()
    assert_clean_logs(caplog.records, MARK)
