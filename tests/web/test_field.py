"""Safety in the field on the console, over HTTP on SQLite and PostgreSQL: a visit started from
the page, "I'm back" and "30 more minutes"; where an overdue visit went shown (audited) to the
buddy and supervisors only; a case's missing episode recorded, its steps done (the report number
sealed, never shown back) and the return. Each refusal says why and writes nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from harbour.app import App
from harbour.cases import missing, visits
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, MissingEpisode, MissingStep, Visit
from harbour.domain.policy import Interval
from harbour.domain.refs import short_form
from harbour.notify import alerts
from harbour.notify.visit_checks import raise_overdue
from harbour.reference.files import builtin
from harbour.web.adapter import span_words
from tests.conftest import START
from tests.notify.helpers import new_case
from tests.support import agency_admin
from tests.web.forming import counts, form_fields
from tests.web.helpers import (
    COMMAND_WORDS,
    PASSWORD,
    client,
    code,
    csrf_of,
    enrolment_path,
    key_page,
    next_step,
    notices,
    refusals,
    secret_on,
    sign_in,
    signed_in,
    summary_names,
)

WHERE = "MKWEBVISIT 9 Harbour Lane"
NUMBER = "MKWEBREPORT-77"


def field_rows(app: App) -> dict[str, int]:
    """What the field pages write, besides what ``counts`` covers."""

    def work(uow: Any) -> dict[str, int]:
        return {
            name: int(uow.session.scalar(select(func.count()).select_from(table)))
            for name, table in (
                ("visits", Visit),
                ("episodes", MissingEpisode),
                (
                    "steps_done",
                    select(MissingStep).where(MissingStep.done_at.is_not(None)).subquery(),
                ),
            )
        }

    found = counts(app)
    found["audit_ok"] -= len(audited(app, "visit.list"))  # the page shown again is a read
    return app.run(work) | found


def audited(app: App, action: str) -> list[AuditEvent]:
    return app.run(
        lambda uow: list(
            uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )
    )


def signed_in_south(app: App, clock: FixedClock, handle: str) -> Any:
    """A member of the other agency, enrolled through a link from that agency's own admin."""
    admin = agency_admin(app, "sadm", "south")
    web = client(app)
    path = enrolment_path(app, handle, admin)
    secret = secret_on(key_page(web, path).text)
    fields = {"password": PASSWORD, "password_again": PASSWORD, "code": code(app, secret)}
    assert web.post(path, data=fields).status_code == 200
    next_step(clock)
    assert sign_in(app, web, handle, secret).status_code == 303
    return web


def refer_south(app: App) -> str:
    from harbour.cases.intake import refer
    from tests.support import referral

    return refer(app, "coord2", referral("MKS") | {"caseworker": "cw3"}, None).reference


def one_visit(app: App) -> Visit:
    return app.run(lambda uow: uow.session.scalars(select(Visit)).one())


def out_on_a_visit(app: App, clock: FixedClock) -> Any:
    """cw1 signed in, with a visit started from the visits page (back by 16:30): their client."""
    web, _ = signed_in(app, clock, "cw1")
    start = form_fields(web.get("/visits").text, "/visits") | {"where": WHERE, "back_at": "16:30"}
    assert web.post("/visits", data=start).status_code == 303
    return web


def test_i_m_back_after_the_session_ended_leads_back_to_the_visits_page(
    seeded: App, clock: FixedClock
) -> None:
    """A caseworker out on a visit for longer than the idle limit presses "I'm back": sign-in
    says nothing was saved, and signing in leads back to the visits page, where the button is,
    not to the caseload. Found by review: sign-in led back to alerts' and cases' pages only."""
    web, secret = signed_in(seeded, clock, "cw1")
    start = form_fields(web.get("/visits").text, "/visits") | {"where": WHERE, "back_at": "16:30"}
    assert web.post("/visits", data=start).status_code == 303
    csrf = csrf_of(web, "/visits")
    clock.advance(timedelta(minutes=16))
    for path in ("/visits/back", "/visits/extend", f"/visits/{one_visit(seeded).id}/where"):
        answer = web.post(path, data={"csrf": csrf})
        assert answer.status_code == 303, path
        location = answer.headers["location"]
        assert location == "/sign-in?next=/visits&ended=unsaved", (path, location)
        shown = web.get(location).text
        assert "not saved" in shown and 'name="next" value="/visits"' in shown, path
    assert one_visit(seeded).back_at is None
    next_step(clock)
    signed = sign_in(seeded, web, "cw1", secret, next_path="/visits")
    assert signed.headers["location"] == "/visits"
    assert "/visits/back" in web.get("/visits").text


def test_a_visit_from_the_phone_page_back_and_more_time(seeded: App, clock: FixedClock) -> None:
    case = short_form(new_case(seeded).reference)
    web, _ = signed_in(seeded, clock, "cw1")
    page = web.get("/visits")
    assert page.status_code == 200 and 'action="/visits"' in page.text
    assert '<option value="sup" selected>sup (default)</option>' in page.text  # a supervisor
    assert 'value="cw1"' not in page.text  # not oneself
    csrf = csrf_of(web, "/visits")
    other_agency = short_form(refer_south(seeded))
    good = {"csrf": csrf, "where": WHERE, "back_at": "16:30", "buddy": "sup", "case": case}
    before = field_rows(seeded)
    for changed, field in (
        ({"back_at": ""}, "back_at"),
        ({"back_at": "yesterday"}, "back_at"),
        ({"back_at": (START + timedelta(hours=20)).isoformat()}, "back_at"),
        ({"where": "x" * 10_000}, "where"),
        ({"where": "MK\x00WHERE"}, "where"),
        ({"buddy": "cw3"}, "buddy"),  # another agency's
        ({"buddy": "cw1"}, "buddy"),  # oneself
        ({"buddy": "sup\x00"}, "buddy"),
        ({"case": "HB-ZZZZ"}, "case"),
        ({"case": "not a reference"}, "case"),
    ):
        refused = web.post("/visits", data=good | changed)
        assert refused.status_code == 400, changed
        assert f'id="f-{field}-error"' in refused.text, (changed, refused.text[-2000:])
        if "where" not in changed:
            assert WHERE in refused.text  # what was typed is kept, in the page only
    refused = web.post("/visits", data=good | {"case": other_agency})
    assert refused.status_code == 400 and "no such case" in refused.text
    assert field_rows(seeded) == before
    assert web.post("/visits", data=good | {"csrf": "forged"}).status_code == 403
    assert field_rows(seeded) == before

    started = web.post("/visits", data=good | {"escort": "on"})
    assert started.status_code == 303 and started.headers["location"] == "/visits"
    visit = one_visit(seeded)
    assert visit.escort and visit.case_id is not None and visit.location_sealed
    assert WHERE not in (visit.location_sealed or "")
    assert [a.details.get("visit_id") for a in audited(seeded, "visit.start")] == [visit.id]
    out = web.get("/visits")
    assert "I&#39;m back" in out.text and "30 more minutes" in out.text
    assert WHERE not in out.text  # the place is not on the page
    again = web.post("/visits", data=good)  # no key: another visit asked for, not this one again
    assert again.status_code == 400 and "visit not checked in" in again.text

    deadline = visit.expected_back_at
    more = web.post("/visits/extend", data={"csrf": csrf})
    assert more.status_code == 303
    assert one_visit(seeded).expected_back_at == deadline + timedelta(minutes=30)
    assert len(audited(seeded, "visit.extend")) == 1
    back = web.post("/visits/back", data={"csrf": csrf})
    assert back.status_code == 303 and one_visit(seeded).back_at == clock.now()
    assert len(audited(seeded, "visit.back")) == 1
    assert web.post("/visits/back", data={"csrf": csrf}).status_code == 404  # none out now
    assert web.post("/visits/extend", data={"csrf": "forged"}).status_code == 403
    assert 'action="/visits"' in web.get("/visits").text  # the start form again


def test_a_visit_form_sent_twice_starts_one_visit_and_says_so_twice(
    seeded: App, clock: FixedClock
) -> None:
    # A double click, or a slow network and a second click: the second post was answered "Not
    # started: you have a visit not checked in" though the first had started it. The form's key
    # makes the second the first (audited as a replay); with other values, or from a fresh form
    # while the visit is out, it is still refused; once that visit is back, it starts nothing.
    web, _ = signed_in(seeded, clock, "cw1")
    form = form_fields(web.get("/visits").text, "/visits") | {"where": WHERE, "back_at": "16:30"}
    assert form.get("idempotency_key")
    first = web.post("/visits", data=form)
    assert first.status_code == 303, refusals(first.text)
    once = field_rows(seeded)
    second = web.post("/visits", data=form)
    assert second.status_code == 303, refusals(second.text)
    assert second.headers["location"] == first.headers["location"] == "/visits"
    assert field_rows(seeded) == once | {"audit_ok": once["audit_ok"] + 1}  # the replay's row
    assert [a.action for a in audited(seeded, "visit.start")] == ["visit.start"]
    assert len(audited(seeded, "visit.start.replayed")) == 1
    visit = one_visit(seeded)

    other = web.post("/visits", data=form | {"back_at": "17:00"})
    assert other.status_code == 400
    assert "already submitted with other values" in refusals(other.text)
    fresh = {"csrf": form["csrf"], "where": WHERE, "back_at": "16:30", "buddy": "sup"}
    again = web.post("/visits", data=fresh)  # no key: another form
    assert again.status_code == 400 and "visit not checked in" in refusals(again.text)
    assert field_rows(seeded) == once | {"audit_ok": once["audit_ok"] + 1}

    assert web.post("/visits/back", data={"csrf": form["csrf"]}).status_code == 303
    back = field_rows(seeded)
    late = web.post("/visits", data=form)  # back, then the same form sent again
    assert late.status_code == 400 and field_rows(seeded) == back
    said = refusals(late.text)
    assert "sent before" in said and "open it again" in said, said
    assert not COMMAND_WORDS.search(said), said
    assert one_visit(seeded).id == visit.id


def test_more_time_sent_twice_gives_the_time_once_and_a_fresh_form_again(
    seeded: App, clock: FixedClock
) -> None:
    # A double click on "30 more minutes" gave an hour: each post extended the visit. The
    # button's form carries a key, as the start form does: sent again, it is the extend it
    # made (audited as a replay), answered alike; the page shown after it is a fresh form.
    web = out_on_a_visit(seeded, clock)
    deadline = one_visit(seeded).expected_back_at
    form = form_fields(web.get("/visits").text, "/visits/extend")
    first = web.post("/visits/extend", data=form)
    once = field_rows(seeded)
    second = web.post("/visits/extend", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"] == "/visits"
    assert one_visit(seeded).expected_back_at == deadline + timedelta(minutes=30)
    assert field_rows(seeded) == once | {"audit_ok": once["audit_ok"] + 1}  # the replay's row
    assert len(audited(seeded, "visit.extend")) == len(audited(seeded, "visit.extend.replayed"))

    fresh = form_fields(web.get("/visits").text, "/visits/extend")
    assert fresh["idempotency_key"] != form["idempotency_key"]
    assert web.post("/visits/extend", data=fresh).status_code == 303
    assert one_visit(seeded).expected_back_at == deadline + timedelta(minutes=60)
    assert len(audited(seeded, "visit.extend")) == 2


def test_where_an_overdue_visit_went_is_for_the_buddy_and_supervisors_only_and_audited(
    seeded: App, clock: FixedClock
) -> None:
    view, _ = overdue_visit(seeded, clock)
    for handle in ("cw2", "sup"):
        web, _ = signed_in(seeded, clock, handle)
        page = web.get("/visits")
        assert "OVERDUE" in page.text and f"/visits/{view.id}/where" in page.text
        assert WHERE not in page.text
        shown = web.post(f"/visits/{view.id}/where", data={"csrf": csrf_of(web, "/visits")})
        assert shown.status_code == 200 and WHERE in shown.text, handle
        assert "/alerts/" in shown.text
    readers = [(a.actor_handle, a.details["visit_id"]) for a in audited(seeded, "visit.read")]
    assert readers == [("cw2", view.id), ("sup", view.id)]

    for handle in ("coord", "adm", "sup2"):  # neither buddy, supervisor nor on-call; elsewhere
        web = signed_in_south(seeded, clock, handle) if handle == "sup2" else None
        web = web or signed_in(seeded, clock, handle)[0]
        refused = web.post(f"/visits/{view.id}/where", data={"csrf": csrf_of(web)})
        assert refused.status_code == 404 and WHERE not in refused.text, handle
    web, _ = signed_in(seeded, clock, "sup")
    csrf = csrf_of(web)
    assert web.post(f"/visits/{view.id}/where", data={"csrf": "x"}).status_code == 403
    assert web.post("/visits/not-hex/where", data={"csrf": csrf}).status_code == 404
    reads = audited(seeded, "visit.read")
    assert [a.outcome == "ok" for a in reads] == [True, True, False, False, False]
    assert [a.actor_handle for a in reads[2:]] == ["coord", "adm", "sup2"]  # refusals audited


def test_an_overdue_visits_alert_is_listed_and_opens_for_its_buddy_and_its_visitor(
    seeded: App, clock: FixedClock
) -> None:
    """A visit's alert belongs to no case: the buddy it paged lists it (``harbour alerts``, the
    alerts page), opens it and takes it; the visitor opens it from their visit page; a colleague
    neither paged nor the visitor gets the answer of an unknown id."""
    from tests.support import invoke

    view, alert = overdue_visit(seeded, clock)
    assert alert is not None
    listed = invoke(seeded, "alerts", "--as", "cw2", "--json")
    assert [a["alert"] for a in listed.json()] == [alert], listed.stderr
    assert invoke(seeded, "alerts", "--as", "coord", "--json").json() == []
    buddy, _ = signed_in(seeded, clock, "cw2")
    assert f"/alerts/{alert}" in buddy.get("/alerts").text
    opened = buddy.get(f"/alerts/{alert}")
    assert opened.status_code == 200
    # Whom it has paged and who comes next, in the words of the visit's ladder.
    text = " ".join(re.sub(r"<[^>]+>", " ", opened.text).split())
    assert "Paged: the buddy" in text and "Next, if nobody takes it: the supervisors" in text
    assert buddy.get(f"/alerts/{alert}/status").status_code == 200
    visitor, _ = signed_in(seeded, clock, "cw1")
    where = visitor.post(f"/visits/{view.id}/where", data={"csrf": csrf_of(visitor, "/visits")})
    assert f"/alerts/{alert}" in where.text
    assert visitor.get(f"/alerts/{alert}").status_code == 200
    other, _ = signed_in(seeded, clock, "coord")
    unknown = other.get("/alerts/0123456789abcdef0123456789abcdef")
    hidden = other.get(f"/alerts/{alert}")
    assert unknown.status_code == hidden.status_code == 404
    assert f"/alerts/{alert}" not in other.get("/alerts").text
    taken = buddy.post(f"/alerts/{alert}/ack", data={"csrf": csrf_of(buddy)})
    assert taken.status_code == 303
    assert "Taken by cw2" in buddy.get(f"/alerts/{alert}").text


def test_a_visits_alert_page_says_whose_visit_and_offers_where_to_those_who_may_see_it(
    seeded: App, clock: FixedClock
) -> None:
    # The message's link opens the alert's page, which said only "visit overdue", case "-":
    # the buddy woken by it was not told whose visit it was nor led to where it went, and the
    # message's "harbour visit show" needs a visit id it does not carry.
    view, alert = overdue_visit(seeded, clock)
    buddy, _ = signed_in(seeded, clock, "cw2")
    page = buddy.get(f"/alerts/{alert}")
    assert page.status_code == 200 and ">cw1<" in page.text and WHERE not in page.text
    assert f'action="/visits/{view.id}/where"' in page.text
    shown = buddy.post(f"/visits/{view.id}/where", data={"csrf": csrf_of(buddy)})
    assert shown.status_code == 200 and WHERE in shown.text
    admin, _ = signed_in(seeded, clock, "adm")  # sees every alert, but was not paged
    page = admin.get(f"/alerts/{alert}")
    assert page.status_code == 200 and ">cw1<" in page.text
    assert "/where" not in page.text and WHERE not in page.text


def test_on_call_staff_see_a_visits_alert_link_only_once_the_alert_pages_them(
    seeded: App, clock: FixedClock
) -> None:
    """On-call staff see every visit of their agency, but its alert only from its on-call tier
    (``visible_to``): before that the visit page shows no link to it, which would answer "not
    found"; once it has paged them, the link is there and opens."""
    from sqlalchemy import update

    from harbour.db.models import Alert, Staff
    from harbour.notify.alerts import escalate_unacknowledged

    seeded.run(
        lambda uow: uow.session.execute(
            update(Staff).where(Staff.handle == "coord").values(on_call=True)
        )
    )
    view, alert = overdue_visit(seeded, clock)
    assert alert is not None
    on_call, _ = signed_in(seeded, clock, "coord")

    def shown() -> str:
        page = on_call.post(f"/visits/{view.id}/where", data={"csrf": csrf_of(on_call, "/visits")})
        assert page.status_code == 200 and WHERE in page.text
        return str(page.text)

    def climb() -> int:
        due = seeded.run(lambda uow: uow.session.get_one(Alert, alert).next_escalation_at)
        clock.set(due)
        seeded.run(lambda uow: escalate_unacknowledged(uow, clock.now()))
        return int(seeded.run(lambda uow: uow.session.get_one(Alert, alert).tier))

    for tier in (0, 1):  # the buddy, then the supervisors: not yet the on-call staff
        assert "/alerts/" not in shown(), tier
        assert on_call.get(f"/alerts/{alert}").status_code == 404
        assert climb() == tier + 1
    assert f"/alerts/{alert}" in shown()  # paged now: the link, and it opens
    assert on_call.get(f"/alerts/{alert}").status_code == 200
    assert [v.alert_id for v in visits.list_visits(seeded, "coord")] == [alert]


def test_a_missing_episode_recorded_its_steps_done_and_the_return(
    seeded: App, clock: FixedClock
) -> None:
    reference = new_case(seeded).reference
    case = short_form(reference)
    web, _ = signed_in(seeded, clock, "cw1")
    assert f'href="/cases/{case}/missing"' in web.get(f"/cases/{case}").text
    page = web.get(f"/cases/{case}/missing")
    assert page.status_code == 200 and "not recorded missing" in page.text
    csrf = csrf_of(web, f"/cases/{case}/missing")
    before = field_rows(seeded)
    for since in ("", "soon", (START + timedelta(hours=2)).isoformat(), "x" * 5000):
        refused = web.post(f"/cases/{case}/missing/record", data={"csrf": csrf, "since": since})
        assert refused.status_code == 400 and 'id="f-since-error"' in refused.text, since
    assert web.post(f"/cases/{case}/missing/explode", data={"csrf": csrf}).status_code == 404
    early = web.post(f"/cases/{case}/missing/step", data={"csrf": csrf, "step": "ncmec"})
    assert early.status_code == 400 and "not recorded missing" in refusals(early.text)
    assert field_rows(seeded) == before

    since = (START - timedelta(hours=3)).isoformat()
    recorded = web.post(f"/cases/{case}/missing/record", data={"csrf": csrf, "since": since})
    assert recorded.status_code == 303
    page = web.get(f"/cases/{case}/missing")
    assert "Law-enforcement report" in page.text and "Report to NCMEC" in page.text
    assert page.text.count(">cw1<") == 3  # each step's owner: the caseworker
    assert "not done" in page.text and len(audited(seeded, "case.missing.read")) >= 1
    again = web.post(f"/cases/{case}/missing/record", data={"csrf": csrf, "since": since})
    assert again.status_code == 400 and "already recorded missing" in again.text

    before = field_rows(seeded)
    for changed, field in (
        ({"step": ""}, "step"),
        ({"step": "coffee"}, "step"),
        ({"step": "supervisor_told", "report_number": NUMBER}, "report_number"),
        ({"step": "law_enforcement", "report_number": "MK\x00" + NUMBER}, "report_number"),
        ({"step": "law_enforcement", "report_number": "9" * 500}, "report_number"),
    ):
        refused = web.post(f"/cases/{case}/missing/step", data={"csrf": csrf} | changed)
        assert refused.status_code == 400, changed
        assert f'id="f-{field}-error"' in refused.text, changed
        assert NUMBER not in refused.text  # a report number is never shown back
    assert field_rows(seeded) == before
    done = web.post(
        f"/cases/{case}/missing/step",
        data={"csrf": csrf, "step": "law_enforcement", "report_number": NUMBER},
    )
    assert done.status_code == 303
    page = web.get(f"/cases/{case}/missing")
    assert "report number recorded" in page.text and NUMBER not in page.text
    sealed = seeded.run(
        lambda uow: uow.session.scalars(
            select(MissingStep.report_number_sealed).where(MissingStep.step == "law_enforcement")
        ).one()
    )
    assert sealed and NUMBER not in sealed
    assert [a.details["step"] for a in audited(seeded, "case.missing.step")] == ["law_enforcement"]

    caseload = web.get("/")
    assert "missing 3 h" in caseload.text and "1</strong> missing" in caseload.text

    for at in ("", (START - timedelta(hours=5)).isoformat(), "tomorrow"):
        refused = web.post(f"/cases/{case}/missing/returned", data={"csrf": csrf, "at": at})
        assert refused.status_code == 400 and 'id="f-at-error"' in refused.text, at
    back = web.post(f"/cases/{case}/missing/returned", data={"csrf": csrf, "at": "now"})
    if back.status_code == 400:  # "now" is not a moment the parser takes: the time of day is
        at = clock.now().isoformat()
        back = web.post(f"/cases/{case}/missing/returned", data={"csrf": csrf, "at": at})
    assert back.status_code == 303 and back.headers["location"] == f"/cases/{case}"
    assert missing.current_episode(seeded, "cw1", reference) is None
    assert len(audited(seeded, "case.returned")) == 1


def test_a_second_visit_is_refused_in_the_pages_words(seeded: App, clock: FixedClock) -> None:
    # A visit started from a second tab (or the form sent again) was refused "you have a visit
    # not checked in: harbour visit back".
    web, _ = signed_in(seeded, clock, "cw1")
    csrf = csrf_of(web, "/visits")
    visit = {"csrf": csrf, "where": WHERE, "back_at": "16:30", "buddy": "sup"}
    assert web.post("/visits", data=visit).status_code == 303
    before = field_rows(seeded)
    again = web.post("/visits", data=visit)
    assert again.status_code == 400 and field_rows(seeded) == before
    said = refusals(again.text)
    assert "visit not checked in" in said and "I'm back" in said, said
    assert not COMMAND_WORDS.search(said), said
    assert "/visits/back" in again.text  # the button it names, on the page it answers with


def test_the_missing_page_states_the_deployment_s_deadlines_not_the_shipped_ones(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """A policy file whose reports fall due 12 hours after the youth was last seen, and whose
    return screening 2 days and 6 hours after the return: the page says so, before and after
    the youth is recorded missing, not the shipped policy's 24 and 72 hours."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        builtin("policy.yaml")
        .read_text()
        .replace("missing_report_within: {hours: 24}", "missing_report_within: {hours: 12}")
        .replace(
            "return_assessment_within: {hours: 72}", "return_assessment_within: {days: 2, hours: 6}"
        )
    )
    app = App(seeded.settings.model_copy(update={"policy_file": policy}), clock)
    try:
        case = short_form(new_case(app).reference)
        web, _ = signed_in(app, clock, "cw1")
        before = web.get(f"/cases/{case}/missing").text
        csrf = csrf_of(web, f"/cases/{case}/missing")
        since = (START - timedelta(hours=3)).isoformat()
        done = web.post(f"/cases/{case}/missing/record", data={"csrf": csrf, "since": since})
        assert done.status_code == 303
        recorded = web.get(f"/cases/{case}/missing").text
    finally:
        app.dispose()
    assert "fall due 12 hours after the youth was last seen" in before
    assert "(a just-left assessment), due within 2 days and 6 hours." in recorded
    for page in (before, recorded):
        assert "24 hours" not in page and "72 hours" not in page


@pytest.mark.parametrize(
    ("span", "words"),
    [
        (Interval(hours=24), "24 hours"),
        (Interval(days=1), "1 day"),
        (Interval(days=1, hours=1, minutes=30), "1 day, 1 hour and 30 minutes"),
    ],
)
def test_a_policy_span_is_said_as_the_policy_gives_it(span: Interval, words: str) -> None:
    assert span_words(span) == words


def recorded_missing(app: App, clock: FixedClock) -> tuple[Any, str, str]:
    """A new case whose youth cw1 recorded missing three hours ago, on the console: the client,
    the case as pages name it, and the missing page's CSRF token."""
    case = short_form(new_case(app).reference)
    web, _ = signed_in(app, clock, "cw1")
    csrf = csrf_of(web, f"/cases/{case}/missing")
    since = (START - timedelta(hours=3)).isoformat()
    recorded = web.post(f"/cases/{case}/missing/record", data={"csrf": csrf, "since": since})
    assert recorded.status_code == 303
    return web, case, csrf


def test_a_number_for_a_step_that_takes_none_is_refused_in_the_pages_words(
    seeded: App, clock: FixedClock
) -> None:
    # A report number given with "Supervisor told" was refused "only for law_enforcement and
    # ncmec", the steps by their keys, and the summary named the field "report_number".
    web, case, csrf = recorded_missing(seeded, clock)
    before = field_rows(seeded)
    step = {"csrf": csrf, "step": "supervisor_told", "report_number": NUMBER}
    refused = web.post(f"/cases/{case}/missing/step", data=step)
    assert refused.status_code == 400 and field_rows(seeded) == before
    said = refusals(refused.text)
    assert 'id="f-report_number-error">only for' in refused.text, said
    for label in ("Law-enforcement report", "Report to NCMEC", "Supervisor told"):
        assert label in said, (label, said)  # the steps as the page's choices name them
    assert not COMMAND_WORDS.search(said) and NUMBER not in refused.text, said


def test_a_step_recorded_twice_is_refused_beside_the_step_by_its_name(
    seeded: App, clock: FixedClock
) -> None:
    # Recorded again from a page shown before it was done (a second tab), the step was refused
    # by its key, above the form: "law_enforcement was recorded done by cw1 at ...".
    web, case, csrf = recorded_missing(seeded, clock)
    step = {"csrf": csrf, "step": "law_enforcement", "report_number": NUMBER}
    assert web.post(f"/cases/{case}/missing/step", data=step).status_code == 303
    before = field_rows(seeded)
    again = web.post(f"/cases/{case}/missing/step", data=step)
    assert again.status_code == 400 and field_rows(seeded) == before
    said = refusals(again.text)
    assert 'id="f-step-error">“Law-enforcement report” was recorded done' in again.text, said
    assert not COMMAND_WORDS.search(said) and NUMBER not in again.text, said


def test_the_return_sent_twice_or_from_a_stale_page_says_so_not_not_found(
    seeded: App, clock: FixedClock
) -> None:
    # "Record the return" clicked twice (or a step recorded from a page shown before a
    # colleague recorded the return) answered "Not found." on an error page: the one who just
    # recorded the return was told nothing of it, as if the case were gone.
    web, case, csrf = recorded_missing(seeded, clock)
    back = {"csrf": csrf, "at": clock.now().isoformat()}
    assert web.post(f"/cases/{case}/missing/returned", data=back).status_code == 303
    before = field_rows(seeded)
    for what, sent in (("returned", back), ("step", {"csrf": csrf, "step": "ncmec"})):
        again = web.post(f"/cases/{case}/missing/{what}", data=sent)
        assert again.status_code == 400 and field_rows(seeded) == before, what
        said = refusals(again.text)
        assert "not recorded missing" in said and "nothing changed" in said, said
        assert "Record missing" in again.text  # the page as it stands: no episode open
    assert len(audited(seeded, "case.returned")) == 1


def test_the_missing_page_is_for_those_who_work_the_case(seeded: App, clock: FixedClock) -> None:
    reference = new_case(seeded).reference
    case = short_form(reference)
    since = (START - timedelta(hours=1)).isoformat()
    for handle, status in (("cw2", 403), ("coord", 403), ("adm", 403), ("cw3", 404)):
        web = signed_in_south(seeded, clock, handle) if handle == "cw3" else None
        web = web or signed_in(seeded, clock, handle)[0]
        assert web.get(f"/cases/{case}/missing").status_code == status, handle
        csrf = csrf_of(web)
        before = field_rows(seeded)
        refused = web.post(f"/cases/{case}/missing/record", data={"csrf": csrf, "since": since})
        assert refused.status_code == status, handle
        assert field_rows(seeded) == before
    sup, _ = signed_in(seeded, clock, "sup")  # a supervisor works every case of the agency
    csrf = csrf_of(sup, f"/cases/{case}/missing")
    done = sup.post(f"/cases/{case}/missing/record", data={"csrf": csrf, "since": since})
    assert done.status_code == 303
    assert sup.post(f"/cases/{case}/missing/record", data={"since": since}).status_code == 403
    denied = [a for a in audited(seeded, "case.missing") if a.outcome != "ok"]
    assert {a.actor_handle for a in denied} >= {"cw2", "coord"}


def test_the_missing_page_says_when_the_deadline_passed_alert_reached_nobody(
    seeded: App, clock: FixedClock
) -> None:
    """Last seen 30 hours ago, no routes: the urgent alert paged nobody, and the page says so
    as `harbour missing` does; three hours ago (no alert yet on the urgent lane), it does not."""
    web, _ = signed_in(seeded, clock, "cw1")
    for hours, loud in ((3, False), (30, True)):
        case = short_form(new_case(seeded).reference)
        csrf = csrf_of(web, f"/cases/{case}/missing")
        since = (START - timedelta(hours=hours)).isoformat()
        done = web.post(f"/cases/{case}/missing/record", data={"csrf": csrf, "since": since})
        assert done.status_code == 303
        page = web.get(f"/cases/{case}/missing").text
        assert ("Nobody was paged" in page) is loud, hours
    said = notices(page)  # it named `harbour notify check` for what is missing
    assert "tell a supervisor or an admin" in said and not COMMAND_WORDS.search(said), said


def test_a_moment_beyond_the_calendar_is_refused_beside_its_field(
    seeded: App, clock: FixedClock
) -> None:
    # A local time at the calendar's edge is a valid date whose UTC moment is not: it was an
    # OverflowError, not a ValueError, so an error page (500) instead of the form again.
    reference = new_case(seeded).reference
    case = short_form(reference)
    web, _ = signed_in(seeded, clock, "cw1")
    csrf = csrf_of(web, "/visits")
    edges = ("9999-12-31 23:59", "0001-01-01T00:00+05:00", "9999-12-31T23:00-05:00")
    before = field_rows(seeded)
    for edge in edges:
        refused = web.post("/visits", data={"csrf": csrf, "back_at": edge, "where": WHERE})
        assert refused.status_code == 400 and 'id="f-back_at-error"' in refused.text, edge
        refused = web.post(f"/cases/{case}/missing/record", data={"csrf": csrf, "since": edge})
        assert refused.status_code == 400 and 'id="f-since-error"' in refused.text, edge
    assert field_rows(seeded) == before
    since = (START - timedelta(hours=3)).isoformat()
    assert web.post(
        f"/cases/{case}/missing/record", data={"csrf": csrf, "since": since}
    ).is_redirect
    for edge in edges:
        refused = web.post(f"/cases/{case}/missing/returned", data={"csrf": csrf, "at": edge})
        assert refused.status_code == 400 and 'id="f-at-error"' in refused.text, edge
    assert missing.current_episode(seeded, "cw1", reference) is not None


def test_a_case_the_visitor_may_not_name_is_refused_beside_its_field(
    seeded: App, clock: FixedClock
) -> None:
    # A coordinator names a case that has its caseworker (intake done): the service refuses it
    # ("intake_done"), and the page answered "Not permitted." on an error page, what was typed
    # gone and no visit out, instead of the form again with the reason beside the case.
    case = short_form(new_case(seeded).reference)
    web, _ = signed_in(seeded, clock, "coord")
    csrf = csrf_of(web, "/visits")
    typed = {"csrf": csrf, "where": WHERE, "back_at": "16:30", "buddy": "sup", "case": case}
    before = field_rows(seeded)
    refused = web.post("/visits", data=typed)
    assert refused.status_code == 400 and 'id="f-case-error"' in refused.text
    assert "caseworker" in refused.text and WHERE in refused.text  # kept, in the page only
    assert field_rows(seeded) == before
    started = web.post("/visits", data=typed | {"case": ""})
    assert started.status_code == 303 and one_visit(seeded).case_id is None
    admin, _ = signed_in(seeded, clock, "adm")  # a role that starts no visit: refused as such
    typed["csrf"] = csrf_of(admin, "/visits")
    assert admin.post("/visits", data=typed).status_code == 403


def test_an_admin_who_is_the_buddy_or_on_call_is_offered_where_an_overdue_visit_went(
    seeded: App, clock: FixedClock
) -> None:
    # Any active colleague may be a buddy, an admin too, and on-call staff may be admins: the
    # service shows them where (as it does `harbour visit show`), but the page offered "Show
    # where" to no admin, so the buddy paged about a colleague not back could not see where.
    from sqlalchemy import update

    from harbour.db.models import Staff

    visits.start_visit(seeded, "cw1", back_at="16:30", location=WHERE, buddy="adm")
    view = visits.list_visits(seeded, "cw1")[0]
    clock.set(view.deadline_at + timedelta(minutes=1))
    assert seeded.run(lambda uow: raise_overdue(uow, clock.now())) == 1
    buddy, secret = signed_in(seeded, clock, "adm")
    page = buddy.get("/visits")
    assert "OVERDUE" in page.text and f"/visits/{view.id}/where" in page.text
    shown = buddy.post(f"/visits/{view.id}/where", data={"csrf": csrf_of(buddy, "/visits")})
    assert shown.status_code == 200 and WHERE in shown.text

    visits.check_in(seeded, "cw1")
    visits.start_visit(seeded, "cw2", back_at="18:30", location=WHERE, buddy="sup")
    [later] = visits.list_visits(seeded, "cw2")
    clock.set(later.deadline_at + timedelta(minutes=1))
    admin = client(seeded)
    assert sign_in(seeded, admin, "adm", secret).status_code == 303
    page = admin.get("/visits")
    assert "OVERDUE" in page.text and f"/visits/{later.id}/where" not in page.text  # not theirs
    seeded.run(
        lambda uow: uow.session.execute(
            update(Staff).where(Staff.handle == "adm").values(on_call=True)
        )
    )
    assert f"/visits/{later.id}/where" in admin.get("/visits").text  # on call now


def test_the_visit_forms_summary_names_each_field_by_its_label(
    seeded: App, clock: FixedClock
) -> None:
    # The summary at the top linked the refused time as "back_at", the form's internal name.
    web, _ = signed_in(seeded, clock, "cw1")
    csrf = csrf_of(web, "/visits")
    before = field_rows(seeded)
    refused = web.post("/visits", data={"csrf": csrf, "where": WHERE, "back_at": "yesterday"})
    assert refused.status_code == 400, refused.text[-1500:]
    assert summary_names(refused.text) == ["Back by"]
    assert field_rows(seeded) == before


def test_im_back_clicked_twice_answers_both_as_back(seeded: App, clock: FixedClock) -> None:
    # A double click on "I'm back": the second post was answered 404 "Not found" though the
    # person had checked in. The button's form carries a key: the second is the first,
    # answered alike (audited as a replay).
    web = out_on_a_visit(seeded, clock)
    form = form_fields(web.get("/visits").text, "/visits/back")
    assert form.get("idempotency_key")
    first = web.post("/visits/back", data=form)
    assert first.status_code == 303 and one_visit(seeded).back_at == clock.now()
    once = field_rows(seeded)
    clock.advance(timedelta(seconds=1))
    second = web.post("/visits/back", data=form)
    assert second.status_code == 303, refusals(second.text)
    assert second.headers["location"] == first.headers["location"] == "/visits"
    assert one_visit(seeded).back_at == clock.now() - timedelta(seconds=1)
    assert field_rows(seeded) == once | {"audit_ok": once["audit_ok"] + 1}  # the replay's row
    assert len(audited(seeded, "visit.back")) == len(audited(seeded, "visit.back.replayed")) == 1


def test_an_old_more_time_form_sent_again_gives_no_more_time(
    seeded: App, clock: FixedClock
) -> None:
    # Only the latest "30 more minutes" key was kept: an earlier one's form sent again (the
    # back button, a late retry) gave 30 minutes more, and once the visit was back it gave
    # them to the next visit. Spent: refused, saying so, and nothing changes.
    web = out_on_a_visit(seeded, clock)
    deadline = one_visit(seeded).expected_back_at
    old = form_fields(web.get("/visits").text, "/visits/extend")
    assert web.post("/visits/extend", data=old).status_code == 303
    newer = form_fields(web.get("/visits").text, "/visits/extend")
    assert web.post("/visits/extend", data=newer).status_code == 303
    assert one_visit(seeded).expected_back_at == deadline + timedelta(minutes=60)
    before = field_rows(seeded)
    stale = web.post("/visits/extend", data=old)
    assert stale.status_code == 400, stale.status_code
    said = refusals(stale.text)
    assert "Not done:" in said and "sent before" in said and "open it again" in said, said
    assert not COMMAND_WORDS.search(said), said
    assert one_visit(seeded).expected_back_at == deadline + timedelta(minutes=60)
    assert field_rows(seeded) == before

    assert web.post("/visits/back", data=newer).status_code == 303
    again = form_fields(web.get("/visits").text, "/visits") | {"where": WHERE, "back_at": "17:30"}
    assert web.post("/visits", data=again).status_code == 303
    out = web.get("/visits").text
    assert 'action="/visits/extend"' in out
    before = field_rows(seeded)
    for form in (old, newer):  # the first visit's forms: the second visit is not theirs
        refused = web.post("/visits/extend", data=form)
        assert refused.status_code == 400 and "sent before" in refusals(refused.text)
    assert field_rows(seeded) == before


def test_a_visit_s_page_never_used_ends_or_extends_no_visit_started_since(
    seeded: App, clock: FixedClock
) -> None:
    # The page of a visit out, left open (another tab, the phone's back button) while that visit
    # was checked in elsewhere (another tab, `harbour visit back`) and the next one started: its
    # key was never used, so its "I'm back" ended the visit out now (no one alerted if the
    # visitor did not come back from it) and its "30 more minutes" gave that one time. Each
    # form says which visit it is of: another visit's form changes nothing and says so.
    web = out_on_a_visit(seeded, clock)
    page = web.get("/visits").text
    old_back, old_more = form_fields(page, "/visits/back"), form_fields(page, "/visits/extend")
    visits.check_in(seeded, "cw1")
    clock.advance(timedelta(minutes=5))
    second = visits.start_visit(seeded, "cw1", back_at="17:30", location=WHERE)
    before = field_rows(seeded)
    for path, form in (("/visits/back", old_back), ("/visits/extend", old_more)):
        refused = web.post(path, data=form)
        assert refused.status_code == 400 and "sent before" in refusals(refused.text), path
        assert field_rows(seeded) == before
    out = app_visit(seeded, second.id)
    assert (out.back_at, out.expected_back_at) == (None, second.expected_back_at)
    page = web.get("/visits").text  # the page of the visit out: its buttons act on it
    assert web.post("/visits/extend", data=form_fields(page, "/visits/extend")).status_code == 303
    assert web.post("/visits/back", data=form_fields(page, "/visits/back")).status_code == 303
    assert app_visit(seeded, second.id).back_at is not None


def app_visit(app: App, visit_id: str) -> Visit:
    return app.run(lambda uow: uow.session.get_one(Visit, visit_id))


def overdue_visit(app: App, clock: FixedClock) -> tuple[visits.VisitView, str]:
    """cw1 out with cw2 as buddy, a minute past the deadline, its alert raised: the visit and
    its alert's id."""
    visits.start_visit(app, "cw1", back_at="16:30", location=WHERE, buddy="cw2")
    view = visits.list_visits(app, "cw1")[0]
    clock.set(view.deadline_at + timedelta(minutes=1))
    assert app.run(lambda uow: raise_overdue(uow, clock.now())) == 1
    alert = app.run(lambda uow: uow.session.get_one(Visit, view.id).alert_id)
    assert alert is not None
    return view, alert


BACK_REASON = "MKWEBBACKREASON called from a neighbour phone"


def test_a_supervisor_records_a_colleague_back_from_the_visit_s_alert_page(
    seeded: App, clock: FixedClock
) -> None:
    # A visitor whose phone died calls their supervisor: only the visitor could check in, so the
    # visit stayed OVERDUE, and its alert waited, though the supervisor knew they were safe.
    view, alert = overdue_visit(seeded, clock)
    buddy, _ = signed_in(seeded, clock, "cw2")
    assert "/back" not in buddy.get(f"/alerts/{alert}").text  # supervisors only
    assert buddy.get(f"/visits/{view.id}/back").status_code == 403
    sup, _ = signed_in(seeded, clock, "sup")
    page = sup.get(f"/alerts/{alert}").text
    assert f'href="/visits/{view.id}/back"' in page
    assert f'href="/visits/{view.id}/back"' in sup.get("/visits").text
    form_page = sup.get(f"/visits/{view.id}/back")
    assert form_page.status_code == 200 and ">cw1<" in form_page.text
    assert WHERE not in form_page.text
    form = form_fields(form_page.text, f"/visits/{view.id}/back")
    assert form.get("idempotency_key")
    before = field_rows(seeded)
    empty = sup.post(f"/visits/{view.id}/back", data=form | {"reason": "  "})
    assert empty.status_code == 400 and "say how you know they are back" in refusals(empty.text)
    assert not COMMAND_WORDS.search(refusals(empty.text))
    assert field_rows(seeded) == before and app_visit(seeded, view.id).back_at is None

    done = sup.post(f"/visits/{view.id}/back", data=form | {"reason": BACK_REASON})
    assert done.status_code == 303 and done.headers["location"] == f"/alerts/{alert}"
    ended = app_visit(seeded, view.id)
    assert ended.back_at == clock.now() and ended.back_recorded_by == "sup"
    shown = sup.get(f"/alerts/{alert}").text
    assert "Taken by sup" in shown and "recorded back by sup" in shown
    assert BACK_REASON not in shown and '/back"' not in shown
    again = sup.post(f"/visits/{view.id}/back", data=form | {"reason": BACK_REASON})
    assert again.status_code == 303  # a double click: answered as the first
    later = form_fields(sup.get(f"/visits/{view.id}/back").text, f"/visits/{view.id}/back")
    over = sup.post(f"/visits/{view.id}/back", data=later | {"reason": BACK_REASON})
    assert over.status_code == 400 and "recorded back by sup" in refusals(over.text)
    where = sup.post(f"/visits/{view.id}/where", data={"csrf": csrf_of(sup)})
    assert BACK_REASON in where.text  # with where it went: an audited read
    other = signed_in_south(seeded, clock, "sup2")
    assert other.get(f"/visits/{view.id}/back").status_code == 404


def test_deactivating_someone_out_on_a_visit_is_refused_in_their_row(
    seeded: App, clock: FixedClock
) -> None:
    visits.start_visit(seeded, "cw2", back_at="16:30", location=WHERE)
    web, _ = signed_in(seeded, clock, "adm")
    before = field_rows(seeded)
    refused = web.post("/staff/cw2/deactivate", data={"csrf": csrf_of(web, "/staff")})
    assert refused.status_code == 400 and field_rows(seeded) == before
    said = refusals(refused.text)
    assert "cw2 has a visit out" in said and "end it first" in said, said
    assert WHERE not in refused.text


def test_a_visit_started_from_the_page_says_once_whom_a_missed_check_in_alerts(
    seeded: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `visit start` names whom a missed check-in would page first, and warns when nobody would
    # be; the page said only "Buddy: the supervisors", even with nobody there to page.
    web, _ = signed_in(seeded, clock, "cw1")
    form = form_fields(web.get("/visits").text, "/visits") | {"where": WHERE, "back_at": "16:30"}
    assert web.post("/visits", data=form | {"buddy": "sup"}).status_code == 303
    page = web.get("/visits").text
    assert "sup (your buddy) is alerted first" in page
    assert "(your buddy)" not in web.get("/visits").text  # said once

    alone, _ = signed_in(seeded, clock, "sup")  # north's only supervisor: no buddy to default to
    form = form_fields(alone.get("/visits").text, "/visits") | {"where": WHERE, "back_at": "16:30"}
    assert alone.post("/visits", data=form | {"buddy": ""}).status_code == 303
    assert "with no buddy" in (page := alone.get("/visits").text) and "admins (adm)" in page
    visits.check_in(seeded, "sup")
    monkeypatch.setattr(alerts, "VISIT_TIERS_AFTER_BUDDY", ())  # nobody else to page
    form = form_fields(alone.get("/visits").text, "/visits") | {"where": WHERE, "back_at": "16:30"}
    assert alone.post("/visits", data=form | {"buddy": ""}).status_code == 303
    page = alone.get("/visits").text
    assert 'role="alert"' in page and "Nobody would be alerted if you are not back" in page


def test_a_supervisor_withdraws_an_episode_recorded_in_error_with_a_reason(
    seeded: App, clock: FixedClock
) -> None:
    # An episode recorded on the wrong case had no way out on the console but a return that
    # never happened (opening a return screening) while its alerts went on paging.
    web, case, csrf = recorded_missing(seeded, clock)
    reason = "MKWEBWITHDRAW wrong case"
    assert "Withdraw the episode" not in web.get(f"/cases/{case}/missing").text
    before = field_rows(seeded)
    refused = web.post(f"/cases/{case}/missing/withdraw", data={"csrf": csrf, "reason": reason})
    assert refused.status_code == 403 and field_rows(seeded) == before
    sup, _ = signed_in(seeded, clock, "sup")
    sup_csrf = csrf_of(sup, f"/cases/{case}/missing")
    assert "Withdraw the episode" in sup.get(f"/cases/{case}/missing").text
    before = field_rows(seeded)
    bare = sup.post(f"/cases/{case}/missing/withdraw", data={"csrf": sup_csrf, "reason": " "})
    assert bare.status_code == 400 and 'id="f-reason-error"' in bare.text
    assert field_rows(seeded) == before
    done = sup.post(f"/cases/{case}/missing/withdraw", data={"csrf": sup_csrf, "reason": reason})
    assert done.status_code == 303 and done.headers["location"] == f"/cases/{case}"
    page = sup.get(f"/cases/{case}/missing")
    assert "not recorded missing" in page.text and reason not in page.text
    assert "missing 3 h" not in sup.get("/").text
    assert all(a.acknowledged_by == "sup" for a in alerts_of(seeded))
    [row] = [r for r in audited(seeded, "case.missing.withdraw") if "episode_id" in r.details]
    assert row.actor_handle == "sup" and reason not in repr(row.details)


def alerts_of(app: App) -> list[Any]:
    from harbour.db.models import Alert

    return app.run(lambda uow: list(uow.session.scalars(select(Alert))))
