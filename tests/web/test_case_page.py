"""The case page over HTTP: summary, timeline and plan with nothing identifying until a deliberate
"show details" (a CSRF-checked POST audited as ``harbour case show``); another agency's case
answers like a missing one. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, Case
from harbour.domain.refs import short_form
from harbour.plans.actions import add
from tests.cli.helpers import assess_just_left, referred_case
from tests.support import given, invoke
from tests.web.helpers import csrf_of, server_log, signed_in
from tests.web.test_console import refer_south, strip_csrf

MARKER = "MKCASE"


def reads(app: App, outcome: str = "ok") -> list[tuple[str | None, str | None, dict[str, object]]]:
    return [
        (row.actor_handle, row.case_id, dict(row.details))
        for row in app.run(
            lambda uow: uow.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "case.read", AuditEvent.outcome == outcome)
                .order_by(AuditEvent.seq)
            ).all()
        )
    ]


@pytest.fixture
def ref(seeded: App, tmp_path: Path) -> str:
    reference = referred_case(seeded, tmp_path, MARKER, situation="just_left")
    assess_just_left(seeded, reference, "initial_contact")
    add(seeded, "cw1", reference, section="strategies", text=f"{MARKER}written strategy")
    return reference


def test_the_case_page_withholds_identifying_details_until_asked(
    seeded: App, clock: FixedClock, ref: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    web, _ = signed_in(seeded, clock, "cw1")
    path = f"/cases/{short_form(ref)}"
    before = len(reads(seeded))
    page = web.get(path)
    assert page.status_code == 200, page.text[-600:]
    assert page.headers["cache-control"] == "no-store"
    assert "<title>Case - Harbour</title>" in page.text
    for shown in ("Summary", "cw1", "Safety plan", "Version 1", "Timeline", "case referred"):
        assert shown in page.text
    assert "assessment submitted" in page.text and "plan version drafted" in page.text
    assert "shown with the details" in page.text  # the staff-written item, withheld
    assert MARKER not in page.text
    assert len(reads(seeded)) == before + 1  # the page is a read of the case, audited

    refused = web.post(path, data={})
    assert refused.status_code == 403 and MARKER not in refused.text
    assert web.get(path).text.count(MARKER) == 0

    shown_rows = len(reads(seeded))
    details = web.post(path, data={"csrf": csrf_of(web, path)})
    assert details.status_code == 200 and details.headers["cache-control"] == "no-store"
    for field in ("youthname", "prefname", "auntname", "auntphone", "traffickername"):
        assert f"{MARKER}{field}" in details.text
    assert "<title>Case details - Harbour</title>" in details.text
    web_read = reads(seeded)[shown_rows + 1 :]  # after the csrf_of page's own read

    cli = invoke(seeded, "case", "show", ref, "--as", "cw1")
    assert cli.exit_code == 0, cli.stderr
    cli_read = reads(seeded)[-1:]
    assert [(h, d) for h, _, d in web_read] == [(h, d) for h, _, d in cli_read]
    assert [c for _, c, _ in web_read] == [c for _, c, _ in cli_read]

    logged = server_log(caplog)
    assert MARKER not in logged


def test_another_agencys_case_answers_like_a_missing_one_and_is_audited(
    seeded: App, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    theirs = refer_south(seeded)
    web, _ = signed_in(seeded, clock, "sup")
    csrf = csrf_of(web)
    answers = [
        web.get(f"/cases/{short_form(theirs.reference)}"),
        web.get("/cases/HB-0000-0000"),
        web.post(f"/cases/{short_form(theirs.reference)}", data={"csrf": csrf}),
        web.post("/cases/HB-0000-0000", data={"csrf": csrf}),
    ]
    assert [a.status_code for a in answers] == [404] * 4
    assert len({strip_csrf(a.text) for a in answers}) == 1
    # The prober's own rows keep what they typed; the answers above are alike all the same.
    typed = [short_form(theirs.reference), "HB-0000-0000"] * 2
    assert reads(seeded, "not_found") == [("sup", None, {"reference": r}) for r in typed]
    logged = server_log(caplog)
    assert "MKNOTE" not in "".join(a.text for a in answers) + logged


def test_a_name_typed_into_the_address_bar_stays_out_of_the_access_log(
    seeded: App, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    web, _ = signed_in(seeded, clock, "sup")
    for path in ("/cases/Marisol", "/cases/Marisol%20Vega/plan", "/Marisol%20Vega"):
        assert web.get(path).status_code == 404, path
    assert web.get("/cases/HB-0000-0000").status_code == 404
    logged = server_log(caplog)
    assert "Marisol" not in logged
    assert "GET /cases/[ref] 404" in logged and "GET [no such page] 404" in logged
    assert "GET /cases/HB-0000-0000 404" in logged  # a reference is shown as typed


def test_a_name_typed_for_an_id_or_a_word_stays_out_of_the_access_log(
    seeded: App, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """As where a reference goes: an alert's or a visit's id, an item's number, a word of the
    console's own (a plan change, an audience) is shown only as one."""
    caplog.set_level(logging.DEBUG)
    web, _ = signed_in(seeded, clock, "sup")
    csrf = csrf_of(web)
    for path in (
        "/alerts/Marisol",
        "/alerts/Marisol/status",
        "/cases/HB-0000-0000/lifecycle/Marisol",
        "/cases/HB-0000-0000/plan/print/Marisol",
        "/cases/HB-0000-0000/plan/download/Marisol.Vega",
    ):
        assert web.get(path).status_code == 404, path
    for path in ("/cases/HB-0000-0000/plan/Marisol", "/cases/HB-0000-0000/steps/Marisol/done"):
        assert web.post(path, data={"csrf": csrf}).status_code == 404, path
    assert web.post("/visits/Marisol/where", data={"csrf": csrf}).status_code == 404
    assert web.get("/cases/HB-0000-0000/plan/print/youth").status_code == 404
    assert web.get("/alerts/0123456789ab").status_code == 404
    logged = server_log(caplog)
    assert "Marisol" not in logged and "Vega" not in logged
    assert "GET /alerts/[alert_id] 404" in logged and "POST /visits/[visit_id]/where 404" in logged
    assert "GET /cases/HB-0000-0000/plan/print/youth 404" in logged  # the console's own word
    assert "GET /alerts/0123456789ab 404" in logged  # an id is shown as typed


def test_a_caseworker_lists_only_their_own_cases_and_reads_as_the_cli_allows(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    mine, _ = signed_in(seeded, clock, "cw1")
    assert f'href="/cases/{short_form(ref)}"' in mine.get("/").text
    other, _ = signed_in(seeded, clock, "cw2")
    assert f'href="/cases/{short_form(ref)}"' not in other.get("/").text
    cli = invoke(seeded, "case", "show", ref, "--as", "cw2")
    page = other.get(f"/cases/{short_form(ref)}")
    assert (page.status_code == 200) == (cli.exit_code == 0)
    assert MARKER not in page.text


def test_the_overview_holds_no_identifying_value(seeded: App, ref: str) -> None:
    from harbour.plans.overview import case_overview

    shown = case_overview(seeded, "cw1", ref)
    assert shown.plan is not None and shown.plan.contacts == () and shown.plan.threats == ()
    assert MARKER not in repr(shown)


def test_a_colleagues_case_is_refused_in_the_console_until_they_cover_it(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    """Issue 13, item 3: neither the page nor its details open for a caseworker the case is not
    assigned to; each attempt is refused plainly and audited on the case; a cover opens both."""
    web, _ = signed_in(seeded, clock, "cw2")
    path = f"/cases/{short_form(ref)}"
    csrf = csrf_of(web)
    page = web.get(path)
    details = web.post(path, data={"csrf": csrf})
    for refused in (page, details):
        assert refused.status_code == 403
        assert "Not assigned to you: ask your supervisor, or start a cover." in refused.text
        assert MARKER not in refused.text and "Safety plan" not in refused.text
    assert reads(seeded, "denied") == [("cw2", _case_id(seeded, ref), {"why": "not_assigned"})] * 2

    reason = given("MKREASON covering while cw1 is away")
    assert invoke(seeded, "case", "cover", ref, "--reason", reason, "--as", "cw2").exit_code == 0
    page = web.get(path)
    assert page.status_code == 200 and "Covered by" in page.text and "cw2" in page.text
    assert "MKREASON" not in page.text
    assert f'href="/cases/{short_form(ref)}"' in web.get("/").text
    details = web.post(path, data={"csrf": csrf_of(web, path)})
    assert details.status_code == 200 and f"{MARKER}youthname" in details.text


def test_a_coordinator_sees_the_summary_of_an_assigned_case(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    web, _ = signed_in(seeded, clock, "coord")
    path = f"/cases/{short_form(ref)}"
    page = web.get(path)
    assert page.status_code == 200
    for shown in ("Summary", "cw1", "Timeline", "for its caseworker and supervisors"):
        assert shown in page.text
    assert "Show details" not in page.text and "Version 1" not in page.text
    details = web.post(path, data={"csrf": csrf_of(web)})
    assert details.status_code == 403 and MARKER not in details.text


def test_a_coordinator_is_not_sent_to_an_empty_emergency_protocol(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    """The protocol's steps are the plan's, which a coordinator's summary leaves out: their
    case page at imminent risk offers no link to them, and the page itself says whose they
    are rather than "Do these now" over an empty list."""
    from harbour.assessments.submit import submit_assessment
    from tests.cli.helpers import safest

    in_danger = safest(seeded) | {"immediate_danger": "yes"}
    submit_assessment(seeded, "cw1", ref, "incident", in_danger)
    case = short_form(ref)
    caseworker, _ = signed_in(seeded, clock, "cw1")
    assert f'href="/cases/{case}/emergency"' in caseworker.get(f"/cases/{case}").text
    assert "Do these now" in caseworker.get(f"/cases/{case}/emergency").text
    web, _ = signed_in(seeded, clock, "coord")
    page = web.get(f"/cases/{case}")
    assert "imminent" in page.text and f'href="/cases/{case}/emergency"' not in page.text
    protocol = web.get(f"/cases/{case}/emergency")
    assert protocol.status_code == 200 and "Do these now" not in protocol.text
    assert "No emergency protocol to show" in protocol.text


def caseworkers_and_summary(app: App, clock: FixedClock, ref: str) -> tuple[str, str]:
    """The case's page as its caseworker sees it, and as a coordinator's summary (checked to be
    one), now that it has a caseworker."""
    path = f"/cases/{short_form(ref)}"
    caseworker, _ = signed_in(app, clock, "cw1")
    coordinator, _ = signed_in(app, clock, "coord")
    page = coordinator.get(path)
    assert page.status_code == 200 and "Summary" in page.text
    return caseworker.get(path).text, page.text


def test_a_coordinators_summary_says_nothing_of_the_threat_sources(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    # The referral's protective order expires 2027-01-31; a year on, it has run out. Its
    # caseworker sees the flag; a coordinator's summary keeps the threat sources out of it, as
    # `harbour case show` does.
    clock.advance(timedelta(days=400))
    full, page = caseworkers_and_summary(seeded, clock, ref)
    assert "protective order expired" in full
    assert "protective order" not in page
    assert invoke(seeded, "case", "show", ref, "--as", "coord", "--json").json()["threats"] == []


def test_a_coordinators_summary_timeline_says_nothing_of_the_situation(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    # The youth has just left: an assessment at that point. Its caseworker's timeline says so;
    # a coordinator's summary keeps the point out of it (it says what the situation is), as
    # `harbour case show` keeps the situation out of theirs. The rest of the timeline stays.
    assess_just_left(seeded, ref, "just_left")
    full, page = caseworkers_and_summary(seeded, clock, ref)
    assert "point just left" in full
    timeline = page[page.index('id="timeline"') :]
    assert "assessment completed" in timeline and "level" in timeline
    assert "just left" not in page and "point" not in timeline
    assert (
        invoke(seeded, "case", "show", ref, "--as", "coord", "--json").json()["situation"] is None
    )


def _case_id(app: App, ref: str) -> str:
    found: str = app.run(
        lambda uow: uow.session.scalar(select(Case.id).where(Case.reference == ref))
    )
    return found


def test_a_coordinators_schedule_says_nothing_of_the_situation(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    # The youth went missing and is back: the return screening is due, at "just left". Its
    # caseworker's schedule says so; a coordinator's summary keeps every point out of it, as its
    # timeline does (the point says what the youth's situation is), and so does the command's.
    from harbour.cases import missing
    from tests.conftest import START

    missing.report_missing(seeded, "cw1", ref, (START - timedelta(hours=3)).isoformat())
    missing.report_return(seeded, "cw1", ref, START.isoformat())
    path = f"/cases/{short_form(ref)}/schedule"
    caseworker, _ = signed_in(seeded, clock, "cw1")
    assert "just left: just left assessment due" in caseworker.get(path).text
    coordinator, _ = signed_in(seeded, clock, "coord")
    page = coordinator.get(path)
    assert page.status_code == 200 and "assessment due" in page.text and "reminder" in page.text
    for point in ("just left", "planning meeting", "initial contact"):
        assert point not in page.text
    shown = invoke(seeded, "schedule", ref, "--as", "coord", "--json").json()
    assert shown and all(e["point"] is None and "just" not in e["what"] for e in shown)
    assert "just_left" not in invoke(seeded, "schedule", ref, "--as", "coord").stdout


def test_the_case_page_links_the_alerts_waiting_only_for_those_who_may_open_them(
    seeded: App, clock: FixedClock
) -> None:
    """The case page names the case's alerts nobody has taken, each a link to its page, for
    those the alert page opens for (the case's caseworker, those it paged, supervisors); a
    coordinator, whom it did not page, gets no link that would answer "not found"."""
    from tests.notify.helpers import imminent_alert, new_case

    case = new_case(seeded, "MKALERT")
    alert = imminent_alert(seeded, case)
    link = f'href="/alerts/{alert.id}"'
    for handle, linked in (("cw1", True), ("sup", True), ("coord", False)):
        web, _ = signed_in(seeded, clock, handle)
        page = web.get(f"/cases/{short_form(case.reference)}")
        assert page.status_code == 200, handle
        assert (link in page.text) is linked, handle
        if linked:
            assert web.get(f"/alerts/{alert.id}").status_code == 200, handle
