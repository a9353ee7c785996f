"""The admin's other pages over HTTP: a staff member's role, the agencies (a new one's admin's
enrolment link, an agency's mail and chat settings), the routes (``notify
check`` and ``notify test``) and where a key rotation stands. As the CLI: the same services,
refused for those the CLI refuses, a form without the session's token refused, bad input
writing nothing, and nothing of another agency shown to its neighbours. SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from harbour.admin.contacts import set_delivery
from harbour.admin.keys import _add_key, rotate
from harbour.admin.staffing import list_agencies, set_operator
from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Agency, Alert, AuditEvent, Staff
from harbour.demo.receivers import MAIL_DOMAIN, WEBHOOK_TOKEN, Receiver, RouteBook, SmtpServer
from harbour.settings import Settings
from tests.db.helpers import row_counts
from tests.notify.conftest import receiver, routes, smtp  # noqa: F401  (fixtures)
from tests.notify.helpers import new_case
from tests.support import agency_admin, invoke
from tests.web.helpers import COMMAND_WORDS, client, csrf_of, refusals, signed_in


def _roles(app: App) -> dict[str, str]:
    return dict(app.run(lambda uow: uow.session.execute(select(Staff.handle, Staff.role)).all()))


def _ok(app: App, action: str) -> int:
    query = select(func.count()).where(AuditEvent.action == action, AuditEvent.outcome == "ok")
    return int(app.run(lambda uow: uow.session.scalar(query)))


def _unchanged(app: App, before: dict[str, int]) -> bool:
    """Nothing written but audit rows (a refusal is audited; the page shown again is a read)."""
    return row_counts(app) | {"audit_events": 0} == before | {"audit_events": 0}


def test_an_admins_console_starts_at_their_staff(seeded: App, clock: FixedClock) -> None:
    # An admin has no caseload: signing in (to "/") leads to the staff page, the menu offers
    # no caseload, and a refusal's page leads back to the start, not to another refusal.
    web, _ = signed_in(seeded, clock, "adm")
    start = web.get("/")
    assert start.status_code == 303 and start.headers["location"] == "/staff"
    staff = web.get("/staff")
    assert staff.status_code == 200 and ">Caseload</a>" not in staff.text
    refused = web.get("/escalations")
    assert refused.status_code == 403
    assert '<a href="/">Back to the start</a>' in refused.text
    worker, _ = signed_in(seeded, clock, "cw1")
    assert worker.get("/").status_code == 200
    assert '<a href="/">Back to the caseload</a>' in worker.get("/staff").text


def test_an_admin_changes_a_role_from_the_staff_page(seeded: App, clock: FixedClock) -> None:
    new_case(seeded)  # cw1's
    nadm = agency_admin(seeded)
    web, _ = signed_in(seeded, clock, "adm")
    page = web.get("/staff")
    assert 'action="/staff/cw2/role"' in page.text and "cw3" not in page.text
    assert 'action="/staff/adm/role"' not in page.text  # not one's own
    csrf = csrf_of(web, "/staff")
    before, roles = row_counts(seeded), _roles(seeded)
    refused = [
        web.post("/staff/cw2/role", data={"csrf": csrf, "role": "king"}),
        web.post("/staff/cw2/role", data={"csrf": csrf, "role": "x" * 100_000}),
        web.post("/staff/cw2/role", data={"csrf": csrf, "role": "super\x00visor"}),
        web.post("/staff/cw2/role", data={"csrf": csrf}),
        web.post("/staff/cw1/role", data={"csrf": csrf, "role": "coordinator"}),  # open case
        web.post("/staff/adm/role", data={"csrf": csrf, "role": "caseworker"}),  # oneself
    ]
    assert [r.status_code for r in refused] == [400] * 6
    assert "cw2: role" in refused[0].text
    busy = refusals(refused[4].text)  # said in the command line's words: "harbour assign REF"
    assert "cw1 has open cases, and a coordinator takes no cases" in busy, busy
    assert "Assign or reassign" in busy and not COMMAND_WORDS.search(busy), busy
    assert "super\x00visor" not in refused[2].text
    assert web.post("/staff/cw2/role", data={"role": "supervisor"}).status_code == 403
    stale = web.post("/staff/cw2/role", data={"csrf": "0" * 43, "role": "supervisor"})
    assert stale.status_code == 403
    theirs = web.post("/staff/cw3/role", data={"csrf": csrf, "role": "supervisor"})
    nobody = web.post("/staff/zz9/role", data={"csrf": csrf, "role": "supervisor"})
    assert theirs.status_code == nobody.status_code == 404 and theirs.text == nobody.text
    assert _unchanged(seeded, before) and _roles(seeded) == roles

    done = web.post("/staff/cw2/role", data={"csrf": csrf, "role": "supervisor"})
    assert done.status_code == 303 and done.headers["location"] == "/staff"
    assert "cw2 is now supervisor (was caseworker)" in web.get("/staff").text
    assert _roles(seeded) == roles | {"cw2": "supervisor"} and _ok(seeded, "staff.role") == 1

    for handle in ("sup", "cw1"):  # not an admin: refused, nothing changed
        other, _ = signed_in(seeded, clock, handle)
        answer = other.post("/staff/coord/role", data={"csrf": csrf_of(other), "role": "admin"})
        assert answer.status_code == 403
    agency, _ = signed_in(seeded, clock, nadm)  # an agency admin changes no operator's role
    operator = agency.post("/staff/adm/role", data={"csrf": csrf_of(agency), "role": "caseworker"})
    assert operator.status_code == 403
    assert _roles(seeded) == roles | {"cw2": "supervisor"}


def test_an_operators_role_is_refused_saying_where_that_is_taken_back(
    seeded: App, clock: FixedClock
) -> None:
    # An operator stays an admin: changing an operator's role was refused "take that back first
    # (harbour staff operator --revoke)", a command the console does not offer.
    nadm = agency_admin(seeded)
    set_operator(seeded, "adm", nadm, True)
    web, _ = signed_in(seeded, clock, "adm")
    before, roles = row_counts(seeded), _roles(seeded)
    refused = web.post(f"/staff/{nadm}/role", data={"csrf": csrf_of(web), "role": "caseworker"})
    assert refused.status_code == 400 and _unchanged(seeded, before) and _roles(seeded) == roles
    said = refusals(refused.text)
    assert f"{nadm}: role" in said and "at the command line on the server" in said, said
    assert not COMMAND_WORDS.search(said), said


def _on_call(app: App) -> dict[str, bool]:
    query = select(Staff.handle, Staff.on_call)
    return dict(app.run(lambda uow: uow.session.execute(query).all()))  # type: ignore[arg-type]


def test_an_admin_keeps_the_on_call_rota_from_the_staff_page(
    seeded: App, clock: FixedClock
) -> None:
    web, _ = signed_in(seeded, clock, "adm")
    page = web.get("/staff")
    assert 'action="/staff/cw2/on-call"' in page.text and 'action="/staff/adm/on-call"' in page.text
    assert "Take off call<" in page.text  # sup is on call
    csrf = csrf_of(web, "/staff")
    others = [signed_in(seeded, clock, handle)[0] for handle in ("sup", "cw1", "coord")]
    before, rota = row_counts(seeded), _on_call(seeded)
    assert web.post("/staff/cw2/on-call", data={"on_call": "yes"}).status_code == 403
    stale = web.post("/staff/cw2/on-call", data={"csrf": "0" * 43, "on_call": "yes"})
    theirs = web.post("/staff/cw3/on-call", data={"csrf": csrf, "on_call": "yes"})
    nobody = web.post("/staff/zz9/on-call", data={"csrf": csrf, "on_call": "yes"})
    assert stale.status_code == 403
    assert theirs.status_code == nobody.status_code == 404 and theirs.text == nobody.text
    for other in others:  # not an admin: refused, nothing changed
        answer = other.post("/staff/cw2/on-call", data={"csrf": csrf_of(other), "on_call": "yes"})
        assert answer.status_code == 403
    for bad in ("anything", "", "yes\x00", "y" * 10_000):
        refused = web.post("/staff/cw2/on-call", data={"csrf": csrf, "on_call": bad})
        assert refused.status_code == 400 and "cw2: on call" in refused.text
    assert _unchanged(seeded, before) and _on_call(seeded) == rota

    def sent(whom: str, on_call: str) -> str:
        """The staff page the action leads to (post/redirect/get)."""
        done = web.post(f"/staff/{whom}/on-call", data={"csrf": csrf, "on_call": on_call})
        assert done.status_code == 303 and done.headers["location"] == "/staff"
        return str(web.get("/staff").text)

    assert "cw2 is on call." in sent("cw2", "yes")
    off = sent("sup", "no")
    assert "sup is off call." in off and "Nobody in the agency" not in off
    assert "cw2 is already on call." in sent("cw2", "yes")
    assert "cw2 is off call. Nobody in the agency is on call" in sent("cw2", "no")
    assert _on_call(seeded) == rota | {"sup": False} and _ok(seeded, "staff.on_call") == 3


def test_agencies_for_operators_and_an_admins_own(seeded: App, clock: FixedClock) -> None:
    secret = "mailtos://harbour:s3cretpass@mail.north.test:587/?from=h@north.test"
    nadm = agency_admin(seeded)
    set_delivery(seeded, nadm, {"mail": secret}, [])
    web, _ = signed_in(seeded, clock, "adm")
    page = web.get("/agencies")
    assert page.status_code == 200 and "north" in page.text and "south" in page.text
    assert "mailtos://mail.north.test:587" in page.text and "s3cretpass" not in page.text
    assert 'action="/agencies"' in page.text and 'href="/keys"' in page.text

    own, _ = signed_in(seeded, clock, nadm)
    mine = own.get("/agencies")
    assert mine.status_code == 200 and "north" in mine.text and "south" not in mine.text
    assert "mailtos://mail.north.test:587" in mine.text and "s3cretpass" not in mine.text
    assert 'action="/agencies"' not in mine.text and 'href="/keys"' not in mine.text
    for handle in ("sup", "coord"):
        other, _ = signed_in(seeded, clock, handle)
        assert other.get("/agencies").status_code == 403
        assert 'href="/agencies"' not in other.get("/").text

    csrf = csrf_of(web, "/agencies")
    before = row_counts(seeded)
    for data, field in (
        ({"name": ""}, "name"),
        ({"name": "East Side"}, "name"),
        ({"name": "east", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "east", "address": "x" * 100_000}, "address"),
        ({"name": "east", "phone": "555\x00"}, "phone"),
        ({"name": "east", "admin": "Jane Doe"}, "admin"),
    ):
        refused = web.post("/agencies", data={"csrf": csrf} | data)
        assert refused.status_code == 400 and f'id="f-{field}-error"' in refused.text, data
    taken = web.post("/agencies", data={"csrf": csrf, "name": "south"})
    assert taken.status_code == 400 and "exists" in taken.text
    assert web.post("/agencies", data={"name": "east"}).status_code == 403
    agency_csrf = csrf_of(own, "/agencies")
    assert own.post("/agencies", data={"csrf": agency_csrf, "name": "east"}).status_code == 403
    assert _unchanged(seeded, before)

    added = web.post(
        "/agencies",
        data={"csrf": csrf, "name": "east", "timezone": "America/Chicago", "admin": "eadm"},
    )
    assert added.status_code == 200 and "east added, with admin eadm" in added.text
    names = seeded.run(lambda uow: list(uow.session.scalars(select(Agency.name))))
    assert sorted(names) == ["east", "north", "south"]
    assert _roles(seeded)["eadm"] == "admin"
    # The new admin's enrolment link, as staff add shows it (in the store's trail: not in the
    # operator's agency's), and it works.
    link = re.search(r'<code class="link">https://harbour\.test(/enrol/[^<]+)</code>', added.text)
    assert link and "not shown again" in added.text
    assert web.get("/agencies").text.count("/enrol/") == 0
    assert client(seeded).get(link.group(1)).status_code == 200
    issued = select(AuditEvent.agency_id, AuditEvent.details).where(
        AuditEvent.action == "staff.enrolment_issued"
    )
    rows = seeded.run(lambda uow: uow.session.execute(issued).all())
    assert [agency for agency, details in rows if details["handle"] == "eadm"] == [None]


SECRET_MAIL = "mailtos://harbour:s3cretpass@mail.north.test:587/?from=h@north.test"


def _saved(web: Any, path: str, form: dict[str, str]) -> Any:
    """Delivery settings sent and saved: the page they lead back to (post/redirect/get)."""
    sent = web.post(path, data=form)
    assert sent.status_code == 303 and sent.headers["location"] == path, sent.text[-800:]
    return web.get(path)


def test_an_agencys_mail_and_chat_settings_from_the_console(
    seeded: App, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """``harbour agency delivery`` as a page: an agency's admin their own agency's, an
    operator any agency's; what was typed is never shown back nor logged."""
    caplog.set_level(logging.DEBUG)
    nadm = agency_admin(seeded)
    own, _ = signed_in(seeded, clock, nadm)
    sup, _ = signed_in(seeded, clock, "sup")
    listed = own.get("/agencies").text
    assert 'href="/agencies/north/delivery"' in listed and "/agencies/south/" not in listed
    page = own.get("/agencies/north/delivery")
    assert page.status_code == 200 and "not set" in page.text
    path, csrf = "/agencies/north/delivery", csrf_of(own, "/agencies/north/delivery")
    before = row_counts(seeded)
    for data, field in (
        ({}, None),
        ({"mail": "json://127.0.0.1/s3cretpass"}, "mail"),
        ({"chat": "json://127.0.0.1/s3cretpass"}, "chat"),
        ({"mail": "mailtos://s3cretpass" + "x" * 100_000}, "mail"),
        ({"mail": SECRET_MAIL + "\x00"}, "mail"),
        ({"mail": SECRET_MAIL, "clear_mail": "on"}, "mail"),
    ):
        refused = own.post(path, data={"csrf": csrf} | data)
        assert refused.status_code == 400 and "s3cretpass" not in refused.text, data
        assert (f'id="f-{field}-error"' if field else "give new mail or chat") in refused.text
    assert own.post(path, data={"mail": SECRET_MAIL}).status_code == 403  # no CSRF token
    theirs = own.post("/agencies/south/delivery", data={"csrf": csrf, "mail": SECRET_MAIL})
    nobody = own.post("/agencies/nowhere/delivery", data={"csrf": csrf, "mail": SECRET_MAIL})
    assert theirs.status_code == nobody.status_code == 404 and theirs.text == nobody.text
    tried = seeded.run(  # the attempt on south's is the operators' to see, and was nowhere
        lambda uow: uow.session.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == "agency.delivery",
                AuditEvent.outcome == "other_agency",
                AuditEvent.agency_id.is_(None),
            )
        ).all()
    )
    assert tried == [{"agency_name": "south"}]
    assert own.get("/agencies/south/delivery").status_code == 404
    assert sup.get(path).status_code == 403
    assert sup.post(path, data={"csrf": csrf_of(sup), "mail": SECRET_MAIL}).status_code == 403
    assert _unchanged(seeded, before)

    done = _saved(own, path, {"csrf": csrf, "mail": SECRET_MAIL})
    assert "Saved." in done.text and "s3cretpass" not in done.text
    assert "mailtos://mail.north.test:587" in done.text
    operator, _ = signed_in(seeded, clock, "adm")  # an operator: another agency's too
    chat = {"csrf": csrf_of(operator, "/agencies"), "chat": "json://chat.south.test/{address}"}
    _saved(operator, "/agencies/south/delivery", chat)
    cleared = _saved(own, path, {"csrf": csrf, "clear_mail": "on"})
    assert "mail.north.test" not in cleared.text
    shown = {r.name: (r.mail, r.chat) for r in list_agencies(seeded, "adm")[1]}
    assert shown == {"north": (None, None), "south": (None, "json://chat.south.test")}
    rows = seeded.run(
        lambda uow: uow.session.execute(
            select(AuditEvent.actor_handle, AuditEvent.agency_id)
            .where(AuditEvent.action == "agency.delivery", AuditEvent.outcome == "ok")
            .order_by(AuditEvent.seq)
        ).all()
    )
    assert [(handle, agency is None) for handle, agency in rows] == [
        (nadm, False),
        ("adm", True),  # another agency's: in the store's trail
        (nadm, False),
    ]
    assert "s3cretpass" not in caplog.text and "chat.south.test" not in caplog.text
    # A chat service whose "host" is a token: shown in its privacy form, as a staff route is.
    token = {"csrf": csrf, "chat": "slack://T1SECRETA/B1SECRETB/C1SECRETC/{address}"}
    assert "SECRET" not in _saved(own, path, token).text
    page = own.get("/agencies").text + invoke(seeded, "agency", "list", "--as", nadm).stdout
    assert "slack://t...a" in page and "secret" not in page.lower()


@pytest.fixture
def napp(seeded: App, settings: Settings, clock: FixedClock, routes: RouteBook) -> Iterator[App]:  # noqa: F811
    application = App(settings.model_copy(update={"apprise_config": routes.path}), clock)
    yield application
    application.dispose()


def test_routes_page_and_a_test_message(
    napp: App,
    routes: RouteBook,  # noqa: F811
    smtp: SmtpServer,  # noqa: F811
    receiver: Receiver,  # noqa: F811
    clock: FixedClock,
) -> None:
    web, _ = signed_in(napp, clock, "sup")  # enrolled before they have a route (no link sent)
    others = [signed_in(napp, clock, handle)[0] for handle in ("cw1", "coord")]
    routes.email("cw1").chat("sup").chat("sup2")
    page = web.get("/routes")
    assert page.status_code == 200
    assert "staff record" in page.text or "routes file" in page.text  # where each comes from
    assert "cw1" in page.text and "sup2" not in page.text and "south" not in page.text
    assert "adm, coord, cw2" in page.text  # staff without a route
    # so the page must not say everyone is reachable
    assert "Every person and role is reachable" not in page.text
    assert "some staff or roles have no route" in page.text
    csrf = csrf_of(web, "/routes")

    before = row_counts(napp)
    bad = web.post("/routes/test", data={"csrf": csrf, "to": "no one"})
    assert bad.status_code == 400 and 'id="f-to-error"' in bad.text
    theirs = web.post("/routes/test", data={"csrf": csrf, "to": "sup2"})
    nobody = web.post("/routes/test", data={"csrf": csrf, "to": "cw9"})
    assert theirs.status_code == nobody.status_code == 400
    assert "no route you can see has that tag" in theirs.text
    assert web.post("/routes/test", data={"to": "cw1"}).status_code == 403
    assert receiver.at(RouteBook.chat_path("sup2")) == [] and smtp.to(f"cw1@{MAIL_DOMAIN}") == []
    for other in others:
        assert other.get("/routes").status_code == 403
        sent = other.post("/routes/test", data={"csrf": csrf_of(other), "to": "cw1"})
        assert sent.status_code == 403
    assert smtp.to(f"cw1@{MAIL_DOMAIN}") == []
    assert _unchanged(napp, before)

    tested = web.post("/routes/test", data={"csrf": csrf, "to": "cw1"})
    assert tested.status_code == 200 and "accepted" in tested.text
    [mail] = smtp.to(f"cw1@{MAIL_DOMAIN}")
    assert mail.subject == "Harbour: test message"


def test_routes_page_says_what_to_do_when_nobody_has_a_route(
    seeded: App, clock: FixedClock
) -> None:
    web, _ = signed_in(seeded, clock, "adm")  # no routes file, no address on record
    page = web.get("/routes")
    assert page.status_code == 200
    assert "no_config: nobody has a route" in page.text
    assert "harbour staff contact" in page.text and "HARBOUR_APPRISE_CONFIG" in page.text


def test_routes_page_names_a_case_whose_background_work_keeps_failing(
    seeded: App, clock: FixedClock
) -> None:
    """As `notify check` (tests/orchestration/test_pipeline.py, which checks that another
    agency's are not shown): the case's short reference, the event and its last try's code."""
    from sqlalchemy import update

    from harbour.db.models import LifecycleEvent
    from harbour.domain import refs

    case = new_case(seeded)  # its referral's event recorded, not yet processed
    with seeded.sessions() as session, session.begin():
        session.execute(
            update(LifecycleEvent)
            .where(LifecycleEvent.case_id == case.id)
            .values(failures=4, last_error="render_failed")
        )
    clock.advance(timedelta(hours=2))
    short = refs.short_form(case.reference)
    web, _ = signed_in(seeded, clock, "adm")
    page = web.get("/routes")
    assert page.status_code == 200
    assert "background work keeps failing" in page.text
    assert short in page.text and "render_failed" in page.text


def test_routes_page_names_a_route_that_kept_failing_while_another_worked(
    napp: App,
    routes: RouteBook,  # noqa: F811
    receiver: Receiver,  # noqa: F811
    clock: FixedClock,
) -> None:
    """As `notify check` (tests/notify/test_partly_delivered_check.py): the failing route's
    channel and code, never its address."""
    from harbour.notify.relay import deliver
    from tests.notify.conftest import FAST
    from tests.notify.helpers import imminent_alert

    web, _ = signed_in(napp, clock, "sup")
    pager = f"/{WEBHOOK_TOKEN}/sup-pager"
    routes.chat("sup").add(f"json://127.0.0.1:{receiver.port}{pager}", "sup", "chat")
    receiver.script(pager, ["500"] * 10)
    assert "Routes that keep failing" in web.get("/routes").text
    imminent_alert(napp, new_case(napp))
    for _ in range(FAST.max_attempts):
        deliver(napp, config=FAST)
        clock.advance(timedelta(minutes=1))
    page = web.get("/routes").text
    said = "1 notification(s) to sup (north) reached another route but not their chat route"
    assert said in page and "<strong>send_failure</strong>" in page
    assert "Some alerts would reach nobody, or the routes have problems" in page
    assert WEBHOOK_TOKEN not in page


def test_key_rotation_progress_is_read_only(seeded: App, clock: FixedClock) -> None:
    nadm = agency_admin(seeded)
    web, _ = signed_in(seeded, clock, "adm")
    page = web.get("/keys")
    assert page.status_code == 200 and "no rotation is unfinished" in page.text
    assert web.post("/keys", data={"csrf": csrf_of(web, "/keys")}).status_code == 405
    for handle in (nadm, "sup"):
        other, _ = signed_in(seeded, clock, handle)
        assert other.get("/keys").status_code == 403
    _add_key(seeded)  # a rotation that added its key and stopped there
    unfinished = web.get("/keys")
    assert "A rotation is unfinished" in unfinished.text
    rotate(seeded)
    assert "no rotation is unfinished" in web.get("/keys").text


def test_routes_page_names_an_overdue_escalation_whose_digest_keeps_failing(
    napp: App,
    routes: RouteBook,  # noqa: F811
    smtp: SmtpServer,  # noqa: F811
    clock: FixedClock,
) -> None:
    """A sweep's overdue escalations reach the supervisor as one digest: its outcome is their
    alerts' (``relay._mirror_on_bundled``). Failing, the page lists them as reaching nobody;
    delivered once the route is mended, it lists none."""
    from harbour.notify.relay import deliver
    from harbour.orchestration.sweep import send_reminders
    from tests.notify.conftest import FAST
    from tests.notify.helpers import open_assessment

    web, _ = signed_in(napp, clock, "sup")
    routes.email("sup", port=1)  # the supervisor's only route: nothing listens there
    open_assessment(napp, new_case(napp), clock.now() - timedelta(days=30))
    send_reminders(napp, clock.now())
    deliver(napp, config=FAST)
    [alert_id] = napp.read(lambda uow: list(uow.session.scalars(select(Alert.id))))
    page = web.get("/routes").text
    assert f'<a href="/alerts/{alert_id}">{alert_id[:12]}</a>' in page
    assert "every send failed so far" in page

    routes.lines.clear()
    routes.email("sup")
    clock.advance(FAST.backoff_cap)
    deliver(napp, config=FAST)
    assert len(smtp.to(f"sup@{MAIL_DOMAIN}")) == 1
    page = web.get("/routes").text
    assert alert_id[:12] not in page and "every send failed so far" not in page


def test_the_delivery_page_says_when_an_imminent_threat_would_reach_nobody(
    seeded: App, clock: FixedClock
) -> None:
    # Every route of north's came from its mail settings: removing them from the console left
    # an imminent threat reaching nobody, and the page said "Saved." only.
    from harbour.admin.contacts import set_contact

    set_delivery(seeded, "adm", {"mail": "mailto://127.0.0.1:2525?from=h@relay.test"}, [])
    set_contact(seeded, "adm", "sup", {"email": f"sup@{MAIL_DOMAIN}"}, [])
    web, _ = signed_in(seeded, clock, "adm")
    path = "/agencies/north/delivery"
    done = _saved(web, path, {"csrf": csrf_of(web, path), "clear_mail": "on"})
    assert "Saved." in done.text
    assert "Nobody an imminent threat pages has a route now" in done.text


def test_saved_delivery_settings_answer_with_a_redirect_so_a_refresh_sends_nothing_again(
    seeded: App, clock: FixedClock
) -> None:
    """Saved mail and chat settings answer 303 to their page, which says "Saved." (and who an
    imminent threat reaches nobody among, if so) once: a refresh neither sends the settings
    again (a mail server's password among them, over a colleague's change meanwhile) nor says
    it again. Found by review: the form answered 200, as the staff actions did."""
    from harbour.admin.contacts import set_contact

    set_delivery(seeded, "adm", {"mail": "mailto://127.0.0.1:2525?from=h@relay.test"}, [])
    set_contact(seeded, "adm", "sup", {"email": f"sup@{MAIL_DOMAIN}"}, [])
    web, _ = signed_in(seeded, clock, "adm")
    path = "/agencies/north/delivery"
    csrf = csrf_of(web, path)
    done = web.post(path, data={"csrf": csrf, "mail": SECRET_MAIL})
    assert done.status_code == 303 and done.headers["location"] == path, done.text[-800:]
    assert "s3cretpass" not in str(done.headers)
    page = web.get(path).text
    assert "Saved." in page and "mailtos://mail.north.test:587" in page
    assert "Saved." not in web.get(path).text  # said once
    cleared = web.post(path, data={"csrf": csrf, "clear_mail": "on"})
    assert cleared.status_code == 303 and cleared.headers["location"] == path
    said = web.get(path).text
    assert "Saved." in said and "Nobody an imminent threat pages has a route now" in said
    assert "Nobody an imminent threat pages" not in web.get(path).text
    other, _ = signed_in(seeded, clock, "adm")  # another session: told nothing
    web.post(path, data={"csrf": csrf, "clear_chat": "on"})
    assert "Saved." not in other.get(path).text
