"""The console's pages over HTTP: headers, CSRF, session expiry, deactivation, agency scoping,
the alert link, the caseload. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import logging.config
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from harbour.admin.staffing import deactivate_staff
from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.db.models import Alert, AuditEvent, Case, Staff
from harbour.domain.refs import short_form
from harbour.domain.vocab import AlertKind, NotificationKind
from harbour.notify.messages import compose
from tests.notify.helpers import case_alert, imminent_alert, new_case
from tests.web.helpers import (
    OTHER_TWOS,
    client,
    csrf_of,
    enrol,
    next_step,
    server_log,
    sign_in,
    signed_in,
)

MARKERS = ("MKNOTE", "MARK-north", "MARK-south")


def alert_row(app: App, alert_id: str) -> Alert:
    return app.run(lambda uow: uow.session.get_one(Alert, alert_id))


def audits(app: App, action: str) -> list[AuditEvent]:
    return list(
        app.run(
            lambda uow: uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            ).all()
        )
    )


def test_security_headers_on_every_response(seeded: App, clock: FixedClock) -> None:
    web, _ = signed_in(seeded, clock, "sup")
    responses = {
        "caseload": web.get("/"),
        "alerts": web.get("/alerts"),
        "sign-in": client(seeded).get("/sign-in"),
        "missing": web.get("/no/such/page"),
        "stylesheet": web.get("/static/console.css"),
        "bad method": web.get("/sign-out"),
    }
    for name, response in responses.items():
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, name
        assert "unsafe-inline" not in csp and "http" not in csp, name
        assert response.headers["referrer-policy"] == "no-referrer", name
        assert response.headers["x-content-type-options"] == "nosniff", name
        assert response.headers["strict-transport-security"] == "max-age=31536000", name
        inline = re.search(r'<script(?! src="/static/[a-z]+\.js" defer></script>)', response.text)
        assert inline is None and " style=" not in response.text, name  # only the console's own
    for name in ("caseload", "alerts", "sign-in", "missing"):
        assert responses[name].headers["cache-control"] == "no-store", name
    assert responses["missing"].status_code == 404
    assert responses["bad method"].status_code == 405


def test_harbour_web_prints_its_sanitized_access_log(
    seeded: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``harbour web`` runs uvicorn with its access log off and the Guard's in its place: the
    server's logging must give the Guard's logger a handler, or its lines reach nobody."""
    import uvicorn

    from harbour.web import server

    given: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: given.update(options))
    server.serve(seeded)
    assert given["access_log"] is False
    logger = logging.getLogger("harbour.web")
    kept = (logger.handlers[:], logger.level, logger.propagate)
    try:
        config = given["log_config"]
        logging.config.dictConfig(
            {**config, "loggers": {"harbour.web": config["loggers"]["harbour.web"]}}
        )
        client(seeded).get("/sign-in")
    finally:
        logger.handlers[:], logger.level, logger.propagate = kept
    assert "GET /sign-in 200" in capsys.readouterr().err


def test_on_loopback_browsers_are_not_told_to_keep_to_https(seeded: App) -> None:
    local = App(seeded.settings.model_copy(update={"base_url": "http://127.0.0.1:8080"}))
    for path in ("/sign-in", "/static/console.css", "/no/such/page"):
        answer = client(local, "http://127.0.0.1:8080").get(path)
        assert "strict-transport-security" not in answer.headers, path
    local.dispose()


def test_pages_need_a_session(seeded: App) -> None:
    web = client(seeded)
    for path in ("/", "/alerts", "/alerts/0123456789abcdef"):
        answer = web.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
    assert web.post("/alerts/0123456789abcdef/ack").status_code == 303


def test_state_changes_need_the_sessions_csrf_token(seeded: App, clock: FixedClock) -> None:
    alert = imminent_alert(seeded, new_case(seeded))
    web, _ = signed_in(seeded, clock, "sup")
    path = f"/alerts/{alert.id}/ack"
    assert web.post(path).status_code == 403
    assert web.post(path, data={"csrf": "forged"}).status_code == 403
    other, _ = signed_in(seeded, clock, "cw1")
    assert web.post(path, data={"csrf": csrf_of(other)}).status_code == 403  # not this session's
    assert web.get(path).status_code == 405  # no state change on GET
    assert alert_row(seeded, alert.id).acknowledged_at is None
    assert web.post("/sign-out").status_code == 403
    assert web.get("/").status_code == 200  # still signed in
    taken = web.post(path, data={"csrf": csrf_of(web)})
    assert taken.status_code == 303
    assert alert_row(seeded, alert.id).acknowledged_by == "sup"


def test_a_stale_form_says_what_happened_and_odd_tokens_are_refused_cleanly(
    seeded: App, clock: FixedClock
) -> None:
    """A form whose token is not this session's (opened before the person signed in again, or
    sent from elsewhere) is refused saying so, that nothing was saved, and what to do; not the
    role refusal "Not permitted". A token in other than ASCII is refused as any wrong one is
    (the constant-time comparison took it for a 500)."""
    alert = imminent_alert(seeded, new_case(seeded))
    web, _ = signed_in(seeded, clock, "sup")
    path = f"/alerts/{alert.id}/ack"
    for forged in ("forged", "ünïcode", "‮"):
        refused = web.post(path, data={"csrf": forged})
        assert refused.status_code == 403, forged
        assert "Not permitted" not in refused.text and "nothing was saved" in refused.text
    sign_in = web.post("/sign-in", data={"form_token": "ünïcode", "handle": "sup"})
    assert sign_in.status_code == 403 and "The form expired" in sign_in.text
    assert alert_row(seeded, alert.id).acknowledged_at is None


def test_taking_an_alert_is_offered_only_to_those_who_may_take_it(
    seeded: App, clock: FixedClock
) -> None:
    """A caseworker sees the alerts of their cases, but takes only one that paged them (as
    ``harbour ack`` refuses the others): the alert pages offer them no button that answers
    "Not permitted", and say who takes it; those it paged, and supervisors, get the button."""
    alert = imminent_alert(seeded, new_case(seeded))  # paged on-call staff and supervisors
    button = f'action="/alerts/{alert.id}/ack"'
    web, _ = signed_in(seeded, clock, "cw1")
    listed, shown = web.get("/alerts").text, web.get(f"/alerts/{alert.id}").text
    assert alert.id in listed and button not in listed and button not in shown
    assert "Taken by those it paged or a supervisor" in listed
    assert "Taken by those it paged or a supervisor" in shown
    sup, _ = signed_in(seeded, clock, "sup")
    assert button in sup.get("/alerts").text and button in sup.get(f"/alerts/{alert.id}").text

    def on_call(uow: UnitOfWork) -> None:
        uow.session.execute(update(Staff).where(Staff.handle == "cw2").values(on_call=True))

    seeded.run(on_call)
    paged = imminent_alert(seeded, new_case(seeded, caseworker="cw2"))
    cw2, _ = signed_in(seeded, clock, "cw2")
    assert f'action="/alerts/{paged.id}/ack"' in cw2.get(f"/alerts/{paged.id}").text
    taken = cw2.post(f"/alerts/{paged.id}/ack", data={"csrf": csrf_of(cw2)})
    assert taken.status_code == 303 and alert_row(seeded, paged.id).acknowledged_by == "cw2"


def test_sign_out_ends_the_session(seeded: App, clock: FixedClock) -> None:
    web, _ = signed_in(seeded, clock, "cw1")
    stolen = dict(web.cookies)
    out = web.post("/sign-out", data={"csrf": csrf_of(web)})
    assert out.status_code == 303 and out.headers["location"] == "/sign-in"
    replay = client(seeded)
    replay.cookies.update(stolen)
    assert replay.get("/").status_code == 303
    assert [r.actor_handle for r in audits(seeded, "sign_out")] == ["cw1"]


def test_sessions_end_after_15_idle_minutes_and_10_hours_in_all(
    seeded: App, clock: FixedClock
) -> None:
    web, _ = signed_in(seeded, clock, "cw1")
    clock.advance(timedelta(minutes=14))
    assert web.get("/").status_code == 200
    clock.advance(timedelta(minutes=15, seconds=1))
    assert web.get("/").status_code == 303
    web, _ = signed_in(seeded, clock, "cw2")
    for _ in range(60):  # busy all day, one request every ten minutes: ten hours
        clock.advance(timedelta(minutes=10))
        assert web.get("/").status_code == 200
    clock.advance(timedelta(minutes=1))
    assert web.get("/").status_code == 303
    reasons = [r.details["reason"] for r in audits(seeded, "session.expired")]
    assert reasons == ["idle", "max_age"]


def test_a_request_after_the_session_ended_is_told_so_at_sign_in(
    seeded: App, clock: FixedClock
) -> None:
    """Met by the sign-in page once the session has ended, a page says why, and a form sent
    says that nothing was saved and leads back to the page it was sent from (an alert's, a
    case's); the words are the console's own, never taken from the address; a first visit is
    told nothing."""
    alert = imminent_alert(seeded, new_case(seeded))
    case = short_form(new_case(seeded).reference)
    web, _ = signed_in(seeded, clock, "sup")
    csrf = csrf_of(web)
    clock.advance(timedelta(minutes=16))
    sent = {
        f"/alerts/{alert.id}/ack": f"/alerts/{alert.id}",
        f"/cases/{case}/plan/accept": f"/cases/{case}",
        f"/cases/{case}": f"/cases/{case}",
    }
    for path, back in sent.items():
        answer = web.post(path, data={"csrf": csrf})
        assert answer.status_code == 303, path
        location = answer.headers["location"]
        assert location.startswith(f"/sign-in?next={back}&"), location
        shown = web.get(location)
        assert "signed out" in shown.text and "not saved" in shown.text, path
        assert f'name="next" value="{back}"' in shown.text, path
    page = web.get(web.get(f"/cases/{case}/plan").headers["location"]).text
    assert "signed out" in page and "not saved" not in page
    assert alert_row(seeded, alert.id).acknowledged_at is None
    first = client(seeded).get("/alerts")
    assert first.headers["location"] == "/sign-in?next=/alerts"
    plain = client(seeded).get("/sign-in?ended=<b>anything</b>").text
    assert "anything" not in plain and "signed out" not in plain
    assert web.post("/sign-out", data={"csrf": csrf}).headers["location"] == "/sign-in"


def test_typing_in_a_form_keeps_the_session_and_nothing_else_does_for_another(
    seeded: App, clock: FixedClock
) -> None:
    """``static/alive.js`` tells the server someone is typing (POST /still-here): the idle time
    restarts, as with any request; the post needs the session's CSRF token, and without a
    session it leads to sign-in, as every page does."""
    web, _ = signed_in(seeded, clock, "cw1")
    csrf = csrf_of(web)
    clock.advance(timedelta(minutes=14))
    assert web.post("/still-here", data={"csrf": csrf}).status_code == 204
    clock.advance(timedelta(minutes=14))
    assert web.get("/").status_code == 200  # 28 minutes after the page, 14 after the typing
    assert web.post("/still-here", data={"csrf": "forged"}).status_code == 403
    stranger = client(seeded)
    answer = stranger.post("/still-here", data={"csrf": csrf}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/sign-in")


def test_deactivated_staff_are_signed_out_at_once_and_cannot_sign_in(
    seeded: App, clock: FixedClock
) -> None:
    web, secret = signed_in(seeded, clock, "cw1")
    deactivate_staff(seeded, "adm", "cw1")
    assert web.get("/").status_code == 303
    next_step(clock)
    assert sign_in(seeded, client(seeded), "cw1", secret).status_code == 400


def test_an_alert_page_is_audited_once_not_each_time_it_polls(
    seeded: App, clock: FixedClock
) -> None:
    alert = imminent_alert(seeded, new_case(seeded))
    status = f"/alerts/{alert.id}/status"

    def reads() -> list[tuple[str | None, str]]:
        return [(r.actor_handle, r.outcome) for r in audits(seeded, "alert.read")]

    sup, _ = signed_in(seeded, clock, "sup")
    assert sup.get(f"/alerts/{alert.id}").status_code == 200
    assert reads() == [("sup", "ok")]  # the page view
    for _ in range(5):  # the page's polls, ten seconds apart
        clock.advance(timedelta(seconds=10))
        polled = sup.get(status)
        assert polled.status_code == 200 and "Not taken yet" in polled.text
    assert reads() == [("sup", "ok")]
    cw, _ = signed_in(seeded, clock, "cw1")  # a status asked for without the page: recorded
    assert cw.get(status).status_code == 200
    assert reads() == [("sup", "ok"), ("cw1", "ok")]
    for _ in range(5):  # long after the page stopped polling (the session kept alive)...
        clock.advance(timedelta(minutes=5))
        assert sup.get("/").status_code == 200
    # ... a poll is recorded again
    assert sup.get(status).status_code == 200
    assert reads() == [("sup", "ok"), ("cw1", "ok"), ("sup", "ok")]
    theirs = imminent_alert(seeded, refer_south(seeded))
    assert sup.get(f"/alerts/{theirs.id}/status").status_code == 404  # refused, and recorded
    assert reads()[-1] == ("sup", "not_found")


def test_another_agencys_alert_answers_like_a_missing_one_and_is_audited(
    seeded: App, clock: FixedClock
) -> None:
    theirs = imminent_alert(seeded, refer_south(seeded))
    web, _ = signed_in(seeded, clock, "sup")
    missing = web.get("/alerts/0123456789abcdef0123456789abcdef")
    foreign = web.get(f"/alerts/{theirs.id}")
    assert missing.status_code == foreign.status_code == 404
    assert strip_csrf(missing.text) == strip_csrf(foreign.text)
    taken = web.post(f"/alerts/{theirs.id}/ack", data={"csrf": csrf_of(web)})
    assert taken.status_code == 404 and alert_row(seeded, theirs.id).acknowledged_at is None
    refused = [(r.actor_handle, r.action, r.outcome) for r in audits(seeded, "alert.read")]
    assert refused == [("sup", "alert.read", "not_found")] * 2
    assert [(r.actor_handle, r.outcome) for r in audits(seeded, "alert.ack")] == [
        ("sup", "not_found")
    ]
    listed = web.get("/alerts").text + web.get("/").text
    assert theirs.id[:12] not in listed


def refer_south(app: App) -> Case:
    from harbour.cases.intake import refer
    from tests.support import referral

    return refer(app, "coord2", referral("MKNOTE") | {"caseworker": "cw3"}, None)


def strip_csrf(html: str) -> str:
    return re.sub(r'name="csrf" value="[^"]+"', "", html)


def test_the_link_in_an_imminent_threat_message_lands_on_the_alert_after_sign_in(
    seeded: App, clock: FixedClock
) -> None:
    case = new_case(seeded)
    alert = imminent_alert(seeded, case)
    web = client(seeded)
    secret = enrol(seeded, web, "sup")

    def first_page(uow: UnitOfWork) -> dict[str, object]:
        from harbour.db.models import OutboxMessage

        row = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.alert_id == alert.id)
        ).first()
        assert row is not None
        return dict(row.context)

    message = compose(seeded.settings, "imminent_threat", seeded.run(first_page), "chat")
    link = re.search(r"https://harbour\.test(\S+)", message.body)
    assert link and link.group(1) == f"/alerts/{alert.id}"
    landing = web.get(link.group(1))
    assert landing.status_code == 303
    assert landing.headers["location"] == f"/sign-in?next=/alerts/{alert.id}"
    next_step(clock)
    signed = sign_in(seeded, web, "sup", secret, next_path=f"/alerts/{alert.id}")
    assert signed.headers["location"] == f"/alerts/{alert.id}"
    page = web.get(signed.headers["location"])
    assert page.status_code == 200 and "m taking this</button>" in page.text
    # ... and on to the case from the alert and from the list, rather than typing its reference
    to_case = f'<a href="/cases/{short_form(case.reference)}">'
    assert to_case in page.text and to_case in web.get("/alerts").text
    web.post(f"/alerts/{alert.id}/ack", data={"csrf": csrf_of(web, f"/alerts/{alert.id}")})
    row = alert_row(seeded, alert.id)
    assert row.acknowledged_by == "sup" and row.next_escalation_at is None
    acks = audits(seeded, "alert.ack")
    assert [(r.actor_handle, r.details["alert_id"]) for r in acks] == [("sup", alert.id)]
    assert "Taken by sup" in web.get(f"/alerts/{alert.id}").text


@pytest.mark.parametrize("target", ["https://elsewhere.example/", "//elsewhere.example/", "/x"])
def test_sign_in_leads_back_only_to_the_consoles_own_pages(
    seeded: App, clock: FixedClock, target: str
) -> None:
    web = client(seeded)
    secret = enrol(seeded, web, "cw1")
    next_step(clock)
    assert sign_in(seeded, web, "cw1", secret, next_path=target).headers["location"] == "/"


def test_caseload_most_urgent_first_paged_and_filtered(seeded: App, clock: FixedClock) -> None:
    from harbour.cases.caseload import caseload_page

    quiet = [new_case(seeded, f"MKNOTE{n}") for n in range(3)]

    def shape(uow: UnitOfWork) -> None:
        for n, case in enumerate(quiet):
            row = uow.session.get_one(Case, case.id)
            row.next_due_at = clock.now() + timedelta(days=20 + n)
        overdue = uow.session.get_one(Case, quiet[2].id)
        overdue.next_due_at = clock.now() - timedelta(days=1)

    seeded.run(shape)
    hot = new_case(seeded, "MKNOTEhot")
    imminent_alert(seeded, hot)
    web, _ = signed_in(seeded, clock, "sup")
    page = web.get("/").text
    order = re.findall(r"<code>(HB-[0-9A-Z-]+)</code>", page)
    short = [c.reference[:12] for c in (hot, quiet[2], quiet[0], quiet[1])]
    assert order == short
    assert "<strong>4</strong> open" in page and "<strong>1</strong> overdue" in page
    only_overdue = re.findall(r"<code>(HB-[0-9A-Z-]+)</code>", web.get("/?overdue=1").text)
    assert only_overdue == [quiet[2].reference[:12]]
    paged = caseload_page(seeded, "sup", page=2, page_size=3)
    assert paged.pages == 2 and [e.row.reference for e in paged.entries] == [quiet[1].reference]
    assert web.get("/?page=0").status_code == 400
    assert web.get("/?page=x").status_code == 400
    for two in OTHER_TWOS:
        assert web.get("/", params={"page": two}).status_code == 400
    mine, _ = signed_in(seeded, clock, "cw2")
    assert "No cases" in mine.get("/").text  # a caseworker sees their own cases only


def test_the_counts_at_the_top_say_what_the_rows_and_filters_say(
    seeded: App, clock: FixedClock
) -> None:
    """Each count counts the cases its flag and filter name, whatever else is on them: a case
    with an open imminent alert that is also overdue is one overdue case, and an escalated case
    due tomorrow one due soon. Found by review: the counts took each case's most urgent rank
    only, so the page said "0 overdue" above a row flagged overdue that the filter listed."""
    hot, escalated = new_case(seeded, "MKNOTEhot"), new_case(seeded, "MKNOTEesc")

    def shape(uow: UnitOfWork) -> None:
        uow.session.get_one(Case, hot.id).next_due_at = clock.now() - timedelta(days=1)
        row = uow.session.get_one(Case, escalated.id)
        row.next_due_at, row.escalated = clock.now() + timedelta(days=1), True

    seeded.run(shape)
    imminent_alert(seeded, hot)
    web, _ = signed_in(seeded, clock, "sup")
    page = web.get("/").text
    counts = dict(
        (name, int(n)) for n, name in re.findall(r"<strong>(\d+)</strong> ([a-z ]+?)s?<", page)
    )
    assert counts == {
        "open": 2,
        "imminent alert": 1,
        "overdue": 1,
        "escalated": 1,
        "due soon": 1,
    }
    for name, query in (("overdue", "overdue=1"), ("escalated", "escalated=1")):
        listed = re.findall(r"<code>(HB-[0-9A-Z-]+)</code>", web.get(f"/?{query}").text)
        assert len(listed) == counts[name], name


def test_no_identifying_data_in_any_page_or_log_line(
    seeded: App, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    case = new_case(seeded)
    alert = imminent_alert(seeded, case)
    imminent_alert(seeded, refer_south(seeded))
    pages = []
    for handle in ("sup", "cw1", "coord", "adm"):
        web, _ = signed_in(seeded, clock, handle)
        for path in ("/", "/?due=1", "/alerts", f"/alerts/{alert.id}", "/nowhere"):
            pages.append(web.get(path, follow_redirects=True))
    text = "\n".join(p.text for p in pages) + server_log(caplog)
    for marker in MARKERS:
        assert marker not in text
    assert all(
        "<title>" + t in p.text
        for p in pages
        for t in re.findall(r"<title>([^<]+)", p.text)
        if t.endswith("- Harbour")
    )
    titles = {re.search(r"<title>([^<]+)", p.text).group(1) for p in pages}  # type: ignore[union-attr]
    assert titles <= {
        "Caseload - Harbour",
        "Staff - Harbour",  # an admin's "/"
        "Alerts - Harbour",
        "Alert - Harbour",
        "Error - Harbour",
    }


def test_audit_pages_as_the_cli_shows_them(seeded: App, clock: FixedClock) -> None:
    case = new_case(seeded)
    theirs = refer_south(seeded)
    alert = imminent_alert(seeded, case)
    sign_in(
        seeded,
        client(seeded),
        "nosuchperson",
        "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        password="guessing!!!!",
    )
    admin, _ = signed_in(seeded, clock, "adm")
    page = admin.get("/audit")
    assert page.status_code == 200
    assert "unknown" in page.text and "sign_in" in page.text and "nosuchperson" not in page.text
    sup, _ = signed_in(seeded, clock, "sup")
    sup.post(f"/alerts/{alert.id}/ack", data={"csrf": csrf_of(sup)})
    trail = sup.get(f"/cases/{case.reference[:12]}/audit")
    assert trail.status_code == 200 and "alert.ack" in trail.text
    foreign = sup.get(f"/cases/{theirs.reference[:12]}/audit")
    missing = sup.get("/cases/HB-0000-0000/audit")
    assert foreign.status_code == missing.status_code == 404
    assert strip_csrf(foreign.text) == strip_csrf(missing.text)
    assert sup.get("/audit").status_code == 403
    worker, _ = signed_in(seeded, clock, "cw1")
    assert worker.get(f"/cases/{case.reference[:12]}/audit").status_code == 403
    assert "MKNOTE" not in page.text + trail.text


def test_a_caseworker_sees_only_the_alerts_of_their_own_cases(
    seeded: App, clock: FixedClock
) -> None:
    """The alerts page lists what ``harbour alerts`` lists: a colleague's alert, with its case
    reference, is not on another caseworker's page; the case's caseworker and supervisors see it."""
    case = new_case(seeded, caseworker="cw1")
    alert = imminent_alert(seeded, case)
    for handle, shown in (("cw1", True), ("sup", True), ("cw2", False)):
        web, _ = signed_in(seeded, clock, handle)
        page = web.get("/alerts")
        assert page.status_code == 200, handle
        assert (f"/alerts/{alert.id}" in page.text) is shown, handle
        assert (case.reference[:12] in page.text) is shown, handle


def test_an_imminent_threat_heads_the_alert_lists_however_many_others_wait(
    seeded: App, clock: FixedClock
) -> None:
    """The alerts page and the escalations page list the waiting alerts someone is in danger
    in first (an imminent threat, an overdue visit, a missing youth's reports overdue), and say
    when more wait than they list. Found by review: newest first and cut at 50 without a word,
    so an imminent threat fell off both pages once 50 later alerts waited (an overdue sweep
    opens one per case)."""
    case = new_case(seeded)
    threat = imminent_alert(seeded, case)
    for _ in range(51):
        clock.advance(timedelta(seconds=1))
        case_alert(seeded, case, AlertKind.RISK_RAISED, NotificationKind.RISK_RAISED)
    web, _ = signed_in(seeded, clock, "sup")
    for path in ("/alerts", "/escalations"):
        page = web.get(path).text
        listed = re.findall(r'href="/alerts/([0-9a-f]+)"', page)
        assert listed[0] == threat.id, path
        assert len(set(listed)) == 50, path
        assert "More alerts wait than are listed here: these are the first 50," in page, path
    taken = [threat.id, *listed[1:3]]
    for alert_id in taken:
        web.post(f"/alerts/{alert_id}/ack", data={"csrf": csrf_of(web)})
    for path in ("/alerts", "/escalations"):
        page = web.get(path).text
        listed_now = set(re.findall(r'href="/alerts/([0-9a-f]+)"', page))
        assert len(listed_now) == 49 and not listed_now & set(taken), path
        assert "More alerts wait" not in page, path


def test_an_alert_by_id_opens_only_for_those_who_may_see_it(seeded: App, clock: FixedClock) -> None:
    """The alert page, its status poll and its acknowledgement follow the rule that lists alerts:
    a caseworker of another case gets exactly the answer of an unknown id (audited as a refusal
    on the case); the case's caseworker, the one it paged and the supervisors open it."""
    from sqlalchemy import update

    from harbour.db.models import Staff

    case = new_case(seeded, caseworker="cw1")
    alert = imminent_alert(seeded, case)  # pages the supervisor (on call); cw2 is not
    unknown = "0123456789abcdef0123456789abcdef"
    other, _ = signed_in(seeded, clock, "cw2")
    for suffix in ("", "/status"):
        missing, hidden = (
            other.get(f"/alerts/{unknown}{suffix}"),
            other.get(f"/alerts/{alert.id}{suffix}"),
        )
        assert missing.status_code == hidden.status_code == 404, suffix
        assert strip_csrf(missing.text) == strip_csrf(hidden.text), suffix
    taken = other.post(f"/alerts/{alert.id}/ack", data={"csrf": csrf_of(other)})
    assert taken.status_code == 404 and alert_row(seeded, alert.id).acknowledged_at is None
    refused = [
        (r.action, r.outcome, r.case_id, r.details.get("why"))
        for r in audits(seeded, "alert.read") + audits(seeded, "alert.ack")
        if r.actor_handle == "cw2"
    ]
    hid = ("denied", case.id, "not_visible")
    assert refused == [
        ("alert.read", "not_found", None, None),
        ("alert.read", *hid),
        ("alert.read", "not_found", None, None),
        ("alert.read", *hid),
        ("alert.ack", *hid),
    ]
    assert alert.id[:12] not in other.get("/alerts").text
    for handle in ("cw1", "sup"):  # the case's caseworker; the supervisor it paged
        web, _ = signed_in(seeded, clock, handle)
        page, polled = web.get(f"/alerts/{alert.id}"), web.get(f"/alerts/{alert.id}/status")
        assert page.status_code == polled.status_code == 200, handle
        assert "Not taken yet" in polled.text, handle
    worker, _ = signed_in(seeded, clock, "cw1")  # sees it, was not paged: may not take it
    assert worker.post(f"/alerts/{alert.id}/ack", data={"csrf": csrf_of(worker)}).status_code == 403
    seeded.run(
        lambda uow: uow.session.execute(
            update(Staff).where(Staff.handle == "cw2").values(on_call=True)
        )
    )
    paged = imminent_alert(seeded, case)  # cw2, on call now, is paged
    assert other.get(f"/alerts/{paged.id}").status_code == 200
    assert other.get(f"/alerts/{paged.id}/status").status_code == 200
    assert other.post(f"/alerts/{paged.id}/ack", data={"csrf": csrf_of(other)}).status_code == 303
    assert alert_row(seeded, paged.id).acknowledged_by == "cw2"


def test_an_alert_says_whom_it_has_paged_and_who_is_next_in_plain_words(
    seeded: App, clock: FixedClock
) -> None:
    """The alert's page, its status, the alert list and the escalations say who has been paged
    and who is paged next, when, if nobody takes it; at the top, that nobody is left. Found by
    review: "tier 0", which a caseworker in a hurry cannot read."""
    from zoneinfo import ZoneInfo

    from harbour.clock import local_time
    from harbour.notify.alerts import escalate_due

    def said(page: str) -> str:
        return " ".join(re.sub(r"<[^>]+>", " ", page).split())

    alert = imminent_alert(seeded, new_case(seeded))
    web, secret = signed_in(seeded, clock, "sup")
    climbs_at = local_time(alert.next_escalation_at, ZoneInfo("America/New_York"))
    assert climbs_at is not None
    for path in (f"/alerts/{alert.id}", f"/alerts/{alert.id}/status", "/alerts", "/escalations"):
        text = said(web.get(path).text)
        assert "Paged: the on-call staff and the supervisors" in text, (path, text)
        assert f"Next, if nobody takes it: the supervisors again, at {climbs_at}" in text, path
        assert not re.search(r"\btier\b", text, re.I), (path, text)

    assert alert.next_escalation_at is not None
    clock.set(alert.next_escalation_at + timedelta(seconds=1))
    escalate_due(seeded, clock.now())
    clock.set(alert_row(seeded, alert.id).next_escalation_at + timedelta(seconds=1))  # type: ignore[operator]
    escalate_due(seeded, clock.now())
    assert alert_row(seeded, alert.id).tier == 2
    web = client(seeded)  # the session has ended meanwhile
    sign_in(seeded, web, "sup", secret)
    for path in (f"/alerts/{alert.id}", "/alerts"):
        text = said(web.get(path).text)
        assert "Paged: the admins, the last step: nobody else is paged" in text, (path, text)
        assert "Next, if" not in text, path


def test_every_tier_of_every_ladder_has_its_words() -> None:
    from harbour.notify.alerts import LADDERS, TIER_WORDS

    assert {kind: len(words) for kind, words in TIER_WORDS.items()} == {
        kind: len(tiers) for kind, tiers in LADDERS.items()
    }


def test_an_alert_at_the_top_with_nobody_to_page_says_so(seeded: App, clock: FixedClock) -> None:
    alert = imminent_alert(seeded, new_case(seeded))
    again = clock.now() + timedelta(minutes=15)
    stuck = update(Alert).where(Alert.id == alert.id).values(tier=2, next_escalation_at=again)
    seeded.run(lambda uow: uow.session.execute(stuck))
    web, _ = signed_in(seeded, clock, "sup")
    text = " ".join(re.sub(r"<[^>]+>", " ", web.get(f"/alerts/{alert.id}").text).split())
    assert "Nobody could be paged, up to the admins; tried again at 20" in text, text


def test_a_caseload_page_past_the_end_says_so_and_leads_to_the_last_page(
    seeded: App, clock: FixedClock
) -> None:
    """Found by review: a page number past the last (an old bookmark, cases closed meanwhile)
    said "No cases." under counts of open cases, with no way back."""
    cases = [new_case(seeded, f"MKNOTE{n}") for n in range(2)]
    late = update(Case).where(Case.id == cases[0].id)
    seeded.run(
        lambda uow: uow.session.execute(late.values(next_due_at=clock.now() - timedelta(days=1)))
    )
    web, _ = signed_in(seeded, clock, "sup")

    def said(page: str) -> str:
        return " ".join(re.sub(r"<[^>]+>", " ", page).split())

    past = web.get("/?page=4")
    assert past.status_code == 200
    assert "Page 4 is past the end: 2 cases fit on 1 page." in said(past.text), said(past.text)
    assert 'href="/?page=1"' in past.text and "No cases" not in said(past.text)
    filtered = web.get("/?overdue=1&page=3").text
    assert "Page 3 is past the end: 1 case fits on 1 page." in said(filtered), said(filtered)
    assert 'href="/?overdue=1&amp;page=1"' in filtered
    none = web.get("/?escalated=1&page=2").text  # nothing matches: said as on page 1
    assert "No cases match these filters." in said(none) and "past the end" not in none
