"""A person's route from their staff record (email, chat address) and the agency's mail and chat
settings; the routes file keeps shared routes and overrides; ``notify check`` reads both."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from harbour.admin.contacts import set_contact, set_delivery
from harbour.admin.keys import rotate
from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Agency, Staff
from harbour.demo.receivers import MAIL_DOMAIN, WEBHOOK_TOKEN, Receiver, RouteBook, SmtpServer
from harbour.domain.vocab import Lane, NotificationKind, OutboxStatus
from harbour.errors import Forbidden, InvalidInput
from harbour.notify.outbox import enqueue
from tests.db.helpers import base64_forms, store_bytes
from tests.notify.helpers import drain, rows
from tests.support import given, invoke
from tests.web.helpers import client

SECRET = "s3cretsender"  # in the query of the mail URL, never shown


def _delivery(app: App, smtp: SmtpServer, receiver: Receiver, actor: str = "adm") -> None:
    mail = f"mailto://127.0.0.1:{smtp.port}?from={SECRET}@relay.test"
    chat = f"json://127.0.0.1:{receiver.port}/{WEBHOOK_TOKEN}/{{address}}"
    set_delivery(app, actor, {"mail": mail, "chat": chat}, [])


def _south_admin(app: App) -> None:
    from harbour.admin.staffing import StaffIn, create_staff
    from harbour.domain.vocab import Role

    app.run(lambda uow: create_staff(uow, StaffIn(handle="adm2", agency="south", role=Role.ADMIN)))


def _notice(app: App, handle: str, key: str) -> None:
    app.run(
        lambda uow: enqueue(
            uow,
            NotificationKind.TEST,
            recipients=[handle],
            case=None,
            dedupe=key,
            context={"path": "/"},
            lane=Lane.NORMAL,
        )
    )


def test_a_person_added_with_an_email_gets_a_route_and_their_link(
    seeded: App, clock: FixedClock, smtp: SmtpServer, receiver: Receiver
) -> None:
    _delivery(seeded, smtp, receiver)
    added = invoke(
        seeded, "staff", "add", "nia", "--agency", "north", "--role", "caseworker",
        "--email", given(f"nia.r@{MAIL_DOMAIN}"), "--as", "adm",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert "went to their own route" in added.stdout and "http" not in added.stdout
    # Sent before the command returned, as every command's follow-through is (no relay pass).
    assert {r.status for r in rows(seeded) if r.kind == "enrolment"} == {OutboxStatus.SENT}
    [mail] = smtp.to(f"nia.r@{MAIL_DOMAIN}")
    assert "/enrol/" in mail.text or "enrol" in mail.text.lower()
    row = seeded.run(lambda uow: uow.session.scalar(select(Staff).where(Staff.handle == "nia")))
    assert row.email_sealed is not None and row.email_sealed.startswith("hb1:")
    assert MAIL_DOMAIN not in row.email_sealed


def test_a_sent_enrolment_link_is_nowhere_in_the_store_in_clear(
    seeded: App, clock: FixedClock, smtp: SmtpServer, receiver: Receiver
) -> None:
    """The link is a credential (whoever has it sets the account's password and code app): the
    outbox row that carries it, kept after it is sent, names the enrolment; the token is sealed
    until the link is used. The mail has a link that works."""
    _delivery(seeded, smtp, receiver)
    set_contact(seeded, "adm", "cw1", {"email": f"c1@{MAIL_DOMAIN}"}, [])
    assert invoke(seeded, "staff", "reset", "cw1", "--as", "adm").exit_code == 0
    [mail] = smtp.to(f"c1@{MAIL_DOMAIN}")
    found = re.search(r"/enrol/([A-Za-z0-9_-]{20,})", mail.text)
    assert found is not None, mail.text
    token = found.group(1)
    assert [r.status for r in rows(seeded) if r.kind == "enrolment"] == [OutboxStatus.SENT]
    store = store_bytes(seeded)
    assert token.encode() not in store and not any(f in store for f in base64_forms(token))
    web = client(seeded)
    assert web.get(f"/enrol/{token}").status_code == 200  # the link works


def test_a_link_replaced_before_it_was_sent_is_not_sent(
    seeded: App, clock: FixedClock, smtp: SmtpServer, receiver: Receiver
) -> None:
    """Two resets before the relay ran: only the second link goes out (the first no longer
    works), and the first message is settled as replaced, not retried to a dead letter."""
    from harbour.auth.enrolment import reset

    _delivery(seeded, smtp, receiver)
    set_contact(seeded, "adm", "cw1", {"email": f"c1@{MAIL_DOMAIN}"}, [])
    reset(seeded, "adm", "cw1")
    reset(seeded, "adm", "cw1")  # the services alone: nothing sent yet
    drain(seeded, clock)
    [mail] = smtp.to(f"c1@{MAIL_DOMAIN}")
    found = re.search(r"/enrol/([A-Za-z0-9_-]{20,})", mail.text)
    assert found is not None and client(seeded).get(found.group(0)).status_code == 200
    sent = sorted((r.status, r.last_error) for r in rows(seeded) if r.kind == "enrolment")
    assert sent == [(OutboxStatus.CANCELLED, "link_replaced"), (OutboxStatus.SENT, None)]


def test_a_link_that_ran_out_before_it_was_sent_is_settled_not_dead_lettered(
    seeded: App, clock: FixedClock, smtp: SmtpServer, receiver: Receiver
) -> None:
    """The relay down a day: the link ran out while its message waited. Nothing to send, and
    nothing wrong with the routes: no retries, no dead letter, no notice to the admins."""
    from harbour.auth.enrolment import reset

    _delivery(seeded, smtp, receiver)
    set_contact(seeded, "adm", "cw1", {"email": f"c1@{MAIL_DOMAIN}"}, [])
    reset(seeded, "adm", "cw1")
    clock.advance(timedelta(hours=25))
    drain(seeded, clock)
    assert smtp.to(f"c1@{MAIL_DOMAIN}") == []
    enrolments = [(r.status, r.last_error) for r in rows(seeded) if r.kind == "enrolment"]
    assert enrolments == [(OutboxStatus.CANCELLED, "link_gone")]
    assert [r for r in rows(seeded) if r.kind == "dead_letter"] == []


def test_a_chat_address_reaches_the_chat_service(
    seeded: App, clock: FixedClock, smtp: SmtpServer, receiver: Receiver
) -> None:
    _delivery(seeded, smtp, receiver)
    done = set_contact(seeded, "adm", "cw1", {"chat": "@cw1-dm", "email": f"c1@{MAIL_DOMAIN}"}, [])
    assert done.channels == ("chat", "email")
    _notice(seeded, "cw1", "t:1")
    drain(seeded, clock)
    assert len(receiver.at(f"/{WEBHOOK_TOKEN}/@cw1-dm")) == 1
    assert len(smtp.to(f"c1@{MAIL_DOMAIN}")) == 1
    cleared = set_contact(seeded, "adm", "cw1", {}, ["chat"])
    assert cleared.channels == ("email",) and not cleared.chat


def test_the_routes_file_overrides_a_record(
    napp: App, routes: RouteBook, clock: FixedClock, smtp: SmtpServer, receiver: Receiver
) -> None:
    _delivery(napp, smtp, receiver)
    set_contact(napp, "adm", "cw1", {"email": f"record@{MAIL_DOMAIN}", "chat": "cw1"}, [])
    routes.email("cw1")  # cw1@staff.test, on the email channel only
    _notice(napp, "cw1", "t:2")
    drain(napp, clock)
    assert len(smtp.to(f"cw1@{MAIL_DOMAIN}")) == 1
    assert smtp.to(f"record@{MAIL_DOMAIN}") == []
    assert len(receiver.at(f"/{WEBHOOK_TOKEN}/cw1")) == 1  # the record's chat route stays


def test_notify_check_reads_both(
    napp: App, routes: RouteBook, smtp: SmtpServer, receiver: Receiver
) -> None:
    routes.email("cw2").chat("sup")
    _delivery(napp, smtp, receiver)
    set_contact(napp, "adm", "cw1", {"email": f"c1@{MAIL_DOMAIN}"}, [])
    set_contact(napp, "adm", "coord", {"chat": "coord"}, [])
    _south_admin(napp)
    set_contact(napp, "adm2", "cw3", {"email": f"c3@{MAIL_DOMAIN}"}, [])  # another agency
    result = invoke(napp, "notify", "check", "--as", "adm", "--json")
    report = result.json()
    shown = {(r["source"], r["channel"], ",".join(r["tags"])) for r in report["routes"]}
    assert ("staff_record", "email", "cw1,email") in shown
    assert ("staff_record", "chat", "chat,coord") in shown
    assert ("routes_file", "email", "cw2,email") in shown
    assert not any("cw3" in tags for _, _, tags in shown)  # not this agency's record
    assert report["staff_without_route"] == ["adm"]
    assert report["problems"] == []
    assert SECRET not in result.stdout and "c1@" not in result.stdout
    text = invoke(napp, "notify", "check", "--as", "adm").stdout
    assert f"email  cw1,email  mailto://127.0.0.1:{smtp.port}  (staff record)" in text


def test_a_record_without_its_agencys_settings_is_a_problem(seeded: App) -> None:
    set_contact(seeded, "adm", "cw1", {"email": f"c1@{MAIL_DOMAIN}"}, [])
    result = invoke(seeded, "notify", "check", "--as", "adm", "--json")
    assert result.exit_code == 2
    assert result.json()["problems"] == [
        "no_config",
        "cw1: a email address on record, but agency north has no email settings "
        "(harbour agency delivery)",
    ]


def test_contact_details_are_never_taken_from_argv(seeded: App) -> None:
    refused = invoke(seeded, "staff", "contact", "cw1", "--email", "cw1@staff.test", "--as", "adm")
    assert refused.exit_code == 2 and "cw1@staff.test" not in refused.stderr
    refused = invoke(seeded, "agency", "delivery", "--mail", "mailto://x", "--as", "adm")
    assert refused.exit_code == 2 and "mailto://x" not in refused.stderr
    piped = invoke(
        seeded, "staff", "contact", "cw1", "--email", "-", "--as", "adm", stdin="a@b.org"
    )
    assert piped.exit_code == 0, piped.stderr


@pytest.mark.parametrize(
    ("fields", "option"),
    [
        ({"email": "not an address"}, "--email"),
        ({"email": "nobody@localhost"}, "--email"),
        ({"chat": "two words"}, "--chat"),
    ],
)
def test_bad_contact_details_are_refused_unechoed(
    seeded: App, fields: dict[str, str], option: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        set_contact(seeded, "adm", "cw1", fields, [])
    assert refused.value.problems[0][0] == option
    assert next(iter(fields.values())) not in str(refused.value)


@pytest.mark.parametrize(
    ("fields", "option"),
    [
        ({"mail": "json://127.0.0.1/x"}, "--mail"),
        ({"chat": "json://127.0.0.1/no-placeholder"}, "--chat"),
        ({"chat": "mailto://127.0.0.1/{address}"}, "--chat"),
    ],
)
def test_bad_settings_are_refused_unechoed(
    seeded: App, fields: dict[str, str], option: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        set_delivery(seeded, "adm", fields, [])
    assert refused.value.problems[0][0] == option
    assert "127.0.0.1" not in str(refused.value)


def test_only_admins_of_the_agency_set_them(seeded: App) -> None:
    with pytest.raises(Forbidden):
        set_contact(seeded, "sup", "cw1", {"email": "a@b.org"}, [])
    with pytest.raises(Forbidden):
        set_delivery(seeded, "sup", {"chat": "json://h/{address}"}, [])
    from harbour.errors import NotFound

    _south_admin(seeded)
    with pytest.raises(NotFound):
        set_contact(seeded, "adm2", "cw1", {"email": "a@b.org"}, [])
    # Another agency's settings: an operator's to set (`agency delivery --agency`), and for an
    # agency's admin one that does not exist.
    url, chat = "json://chat.south.test/{address}", ("--chat", "-", "--as")
    theirs = invoke(seeded, "agency", "delivery", "--agency", "north", *chat, "adm2", stdin=url)
    nobody = invoke(seeded, "agency", "delivery", "--agency", "nowhere", *chat, "adm2", stdin=url)
    assert theirs.exit_code == nobody.exit_code == 1 and theirs.stderr == nobody.stderr
    done = invoke(seeded, "agency", "delivery", "--agency", "south", *chat, "adm", stdin=url)
    assert done.exit_code == 0 and "south: mail not set; chat json://chat.south.test" in done.stdout


def test_settings_and_contacts_are_sealed_and_rotate(
    seeded: App, smtp: SmtpServer, receiver: Receiver, tmp_path: Path
) -> None:
    _delivery(seeded, smtp, receiver)
    set_contact(seeded, "adm", "cw1", {"email": f"c1@{MAIL_DOMAIN}"}, [])
    agency = seeded.run(
        lambda uow: uow.session.scalar(select(Agency).where(Agency.name == "north"))
    )
    assert agency.mail_url_sealed is not None and SECRET not in agency.mail_url_sealed
    primary, _ = rotate(seeded)
    after = seeded.run(lambda uow: uow.session.get_one(Agency, agency.id))
    assert f"hb1:{primary}:" in (after.mail_url_sealed or "")
    assert set_contact(seeded, "adm", "cw1", {"chat": "c1"}, []).channels == ("chat", "email")


def test_an_attempt_on_another_agencys_settings_is_audited(seeded: App) -> None:
    # An agency admin naming another agency's mail and chat settings is answered as for an
    # agency that does not exist, and the attempt was kept nowhere; it is now in the store's
    # trail (the operators'), and the miss in the admin's own agency's.
    from harbour.db.models import AuditEvent

    _south_admin(seeded)
    url, chat = "json://chat.x.test/{address}", ("--chat", "-", "--as")
    theirs = invoke(seeded, "agency", "delivery", "--agency", "north", *chat, "adm2", stdin=url)
    nobody = invoke(seeded, "agency", "delivery", "--agency", "nowhere", *chat, "adm2", stdin=url)
    assert theirs.exit_code == nobody.exit_code == 1 and theirs.stderr == nobody.stderr
    with seeded.engine.connect() as conn:
        found = conn.execute(
            select(AuditEvent.agency_id, AuditEvent.outcome, AuditEvent.details)
            .where(AuditEvent.actor_handle == "adm2", AuditEvent.action == "agency.delivery")
            .order_by(AuditEvent.seq)
        ).all()
    store = [details for agency, outcome, details in found if agency is None]
    assert store == [{"agency_name": "north"}]
    own = [(outcome, details["agency_name"]) for agency, outcome, details in found if agency]
    assert own == [("not_found", "north"), ("not_found", "nowhere")]


def test_taking_the_last_route_of_those_an_imminent_threat_pages_is_said(seeded: App) -> None:
    # sup is north's only supervisor and only one on call, adm its admin; their routes come from
    # their records. Clearing sup's address (or the agency's mail settings, every address's
    # route at once) left an imminent threat with nobody to reach, and the commands said
    # "routes: none yet" for sup, or nothing at all.
    mail = "mailto://127.0.0.1:2525?from=harbour@relay.test"
    set_delivery(seeded, "adm", {"mail": mail}, [])
    for handle in ("sup", "adm"):
        set_contact(seeded, "adm", handle, {"email": f"{handle}@{MAIL_DOMAIN}"}, [])
    quiet = invoke(seeded, "staff", "contact", "cw1", "--email", given("c@x.test"), "--as", "adm")
    assert quiet.exit_code == 0 and "imminent" not in quiet.stdout, quiet.stdout
    cleared = invoke(seeded, "staff", "contact", "sup", "--clear", "email", "--as", "adm")
    assert cleared.exit_code == 0, cleared.stderr
    assert "Nobody on call and no supervisor has a route now" in cleared.stdout
    assert "reaches nobody before the admins" in cleared.stdout
    done = invoke(seeded, "agency", "delivery", "--clear", "mail", "--as", "adm", "--json")
    assert done.exit_code == 0, done.stderr
    assert "Nobody an imminent threat pages has a route now" in done.json()["warning"]
