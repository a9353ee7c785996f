"""The admin's staff page over HTTP: the list, adding an account with its enrolment link, a new
link, deactivating with the open cases reassigned; as ``harbour staff`` does, refusals beside
their field writing nothing. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from harbour.admin.staffing import deactivate_staff
from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, Case, Staff
from tests.notify.helpers import new_case
from tests.web.forming import counts
from tests.web.helpers import COMMAND_WORDS, csrf_of, refusals, signed_in
from tests.web.test_workbench import actions


def test_staff_add_reset_and_deactivate(seeded: App, clock: FixedClock) -> None:
    web, _ = signed_in(seeded, clock, "adm")
    page = web.get("/staff")
    assert page.status_code == 200 and "cw1" in page.text and "cw3" not in page.text
    csrf = csrf_of(web, "/staff")
    before = counts(seeded)
    for data, field in (
        ({"handle": "", "role": "caseworker"}, "handle"),
        ({"handle": "Jane Doe", "role": "caseworker"}, "handle"),
        ({"handle": "x" * 100_000, "role": "caseworker"}, "handle"),
        ({"handle": "newcw", "role": "king"}, "role"),
    ):
        refused = web.post("/staff", data={"csrf": csrf} | data)
        assert refused.status_code == 400 and f'id="f-{field}-error"' in refused.text, data
    assert counts(seeded) == before
    added = web.post("/staff", data={"csrf": csrf, "handle": "newcw", "role": "caseworker"})
    assert added.status_code == 200 and "newcw added as caseworker" in added.text
    assert "/enrol/" in added.text  # no route of their own: the link to hand over

    case = new_case(seeded)  # cw1's
    busy = web.post("/staff/cw1/deactivate", data={"csrf": csrf})
    assert busy.status_code == 400 and "cw1 has open cases" in busy.text
    before = counts(seeded)
    for nobody in ("cw3", "nobody", "cw2\x00"):
        refused = web.post("/staff/cw1/deactivate", data={"csrf": csrf, "reassign_to": nobody})
        assert refused.status_code == 400 and "no active caseworker" in refused.text, nobody
    assert counts(seeded) == before
    moved = web.post("/staff/cw1/deactivate", data={"csrf": csrf, "reassign_to": "cw2"})
    assert moved.status_code == 303 and moved.headers["location"] == "/staff"
    worker = seeded.run(
        lambda uow: uow.session.scalar(
            select(Staff.handle)
            .join(Case, Case.caseworker_id == Staff.id)
            .where(Case.id == case.id)
        )
    )
    assert worker == "cw2"
    fresh = web.post("/staff/cw2/reset", data={"csrf": csrf})
    assert fresh.status_code == 200 and "Sign-in cleared" in fresh.text
    assert web.post("/staff/cw3/reset", data={"csrf": csrf}).status_code == 404  # another agency's
    assert [a for a in actions(seeded, "staff.") if a in ("staff.add", "staff.deactivate")] == [
        "staff.add",
        "staff.deactivate",
    ]
    sup, _ = signed_in(seeded, clock, "sup")
    listed = sup.get("/staff")  # supervisors see who is there to take cases, and no more
    assert listed.status_code == 200 and "/deactivate" not in listed.text
    assert 'action="/staff"' not in listed.text
    assert (
        sup.post("/staff", data={"csrf": csrf_of(sup), "handle": "x1", "role": "admin"}).status_code
        == 403
    )


def _refused_in_row(page: str, handle: str) -> str:
    """The refusal of ``handle``'s deactivation: beside the choice of who takes their open
    cases, in their own row (its part opened), the summary's link leading to that choice."""
    choice = f"f-reassign_to-{handle}"
    opened = (
        f'<details class="edit" open><summary>Deactivate<span class="visually-hidden">: {handle}'
    )
    assert opened in page and page.count('<details class="edit" open>') == 1
    form = re.search(
        rf'<form method="post" action="/staff/{handle}/deactivate".*?</form>', page, re.S
    )
    assert form and f'id="{choice}"' in form.group(0) and 'aria-invalid="true"' in form.group(0)
    beside = re.search(rf'<span class="error" id="{choice}-error">([^<]*)</span>', form.group(0))
    assert beside and page.count('<span class="error"') == 1
    summary = re.search(r'<a href="#([^"]+)">([^<]*)</a>: ', page)
    assert summary and summary.groups() == (choice, f"{handle}: Their open cases go to")
    said = refusals(page)
    assert not COMMAND_WORDS.search(said), said
    return beside.group(1)


def test_a_refused_deactivation_is_said_in_its_row(seeded: App, clock: FixedClock) -> None:
    # The page shown before the change: cw2 had no open case (no choice of who takes them) and
    # one was given them meanwhile; cw1's choice named a colleague deactivated meanwhile. Each
    # refusal was in the summary only, in the command line's words ("`harbour assign REF
    # HANDLE`, or give --reassign-to HANDLE"), or under the key "reassign_to" linked to an
    # element that is not there, and nothing beside the row's choice.
    new_case(seeded)  # cw1's
    web, _ = signed_in(seeded, clock, "adm")
    csrf = csrf_of(web, "/staff")
    assert 'id="f-reassign_to-cw2"' not in web.get("/staff").text  # no open case yet
    new_case(seeded, caseworker="cw2")  # meanwhile
    before = counts(seeded)
    busy = web.post("/staff/cw2/deactivate", data={"csrf": csrf})
    assert busy.status_code == 400 and counts(seeded) == before
    said = _refused_in_row(busy.text, "cw2")
    assert "open cases" in said and "choose who takes them" in said, said

    deactivate_staff(seeded, "adm", "cw2", reassign_to="sup")  # meanwhile, elsewhere
    before = counts(seeded)
    gone = web.post("/staff/cw1/deactivate", data={"csrf": csrf, "reassign_to": "cw2"})
    assert gone.status_code == 400 and counts(seeded) == before
    assert "no active caseworker or supervisor" in _refused_in_row(gone.text, "cw1")


def test_the_staff_page_says_when_the_last_supervisor_or_on_call_goes(
    seeded: App, clock: FixedClock
) -> None:
    # sup is north's only supervisor and only one on call: made a caseworker, then deactivated,
    # the page said nothing (the command line's `on-call --off` said who was paged instead).
    web, _ = signed_in(seeded, clock, "adm")
    csrf = csrf_of(web, "/staff")
    demoted = web.post("/staff/sup/role", data={"csrf": csrf, "role": "caseworker"})
    assert demoted.status_code == 303
    assert "No supervisor is left in the agency" in _said(web.get("/staff").text)
    gone = web.post("/staff/sup/deactivate", data={"csrf": csrf})
    said = _said(web.get("/staff").text)
    assert gone.status_code == 303 and "sup deactivated" in said
    assert "Nobody in the agency is on call and no supervisor is left" in said
    quiet = web.post("/staff/cw2/deactivate", data={"csrf": csrf})
    said = _said(web.get("/staff").text)
    assert quiet.status_code == 303 and "cw2 deactivated." in said
    assert "no supervisor is left" not in said


def test_coordinators_and_supervisors_see_the_staff_as_the_command_shows_them(
    seeded: App, clock: FixedClock
) -> None:
    # `harbour staff list` shows a coordinator or a supervisor each active colleague's handle
    # and role, nothing more; the staff page showed them who is on call and everyone's open
    # caseload besides, as an admin sees it.
    new_case(seeded)  # cw1's
    for handle in ("coord", "sup"):
        web, _ = signed_in(seeded, clock, handle)
        page = web.get("/staff")
        assert page.status_code == 200 and "cw1" in page.text
        assert "on call" not in page.text and "Open cases" not in page.text, handle
        assert 'data-label="Active"' not in page.text, handle
    web, _ = signed_in(seeded, clock, "adm")  # an admin's is the whole account
    page = web.get("/staff")
    assert "supervisor, on call" in page.text and "Open cases" in page.text


def test_another_agencys_account_answers_as_none_on_the_staff_page_and_is_audited(
    seeded: App, clock: FixedClock
) -> None:
    # A new link, a role, the rota or a deactivation for south's cw3 answered as for nobody,
    # and no row said anyone had tried: the store's trail (operators') now says so.
    web, _ = signed_in(seeded, clock, "adm")
    csrf = csrf_of(web, "/staff")
    for path, data in (
        ("reset", {}),
        ("role", {"role": "supervisor"}),
        ("on-call", {"on_call": "yes"}),
        ("deactivate", {}),
    ):
        theirs = web.post(f"/staff/cw3/{path}", data={"csrf": csrf} | data)
        nobody = web.post(f"/staff/zz9/{path}", data={"csrf": csrf} | data)
        assert theirs.status_code == nobody.status_code == 404, path
        assert theirs.text == nobody.text, path
    with seeded.engine.connect() as conn:
        tried = conn.execute(
            select(AuditEvent.action, AuditEvent.details).where(
                AuditEvent.actor_handle == "adm",
                AuditEvent.outcome == "other_agency",
                AuditEvent.agency_id.is_(None),
            )
        ).all()
    assert sorted(action for action, _ in tried) == [
        "staff.deactivate",
        "staff.on_call",
        "staff.reset",
        "staff.role",
    ]
    assert {details["handle"] for _, details in tried} == {"cw3"}


def _said(page: str) -> str:
    """What the staff page says was done (its notice), as text."""
    found = re.search(r'<p class="done" role="status">(.*?)</p>', page, re.S)
    return found.group(1) if found else ""


def test_staff_actions_answer_with_a_redirect_so_a_refresh_sends_nothing_again(
    seeded: App, clock: FixedClock
) -> None:
    """A role change, the on-call rota and a deactivation answer 303 to the staff page, which
    says what was done once (post/redirect/get). Found by review: each answered 200 with the
    page, so a refresh sent the action again."""
    web, _ = signed_in(seeded, clock, "adm")
    csrf = csrf_of(web, "/staff")
    for path, data, said in (
        ("/staff/cw2/role", {"role": "supervisor"}, "cw2 is now supervisor (was caseworker)."),
        ("/staff/cw2/role", {"role": "supervisor"}, "cw2 is already supervisor."),
        ("/staff/cw2/on-call", {"on_call": "yes"}, "cw2 is on call."),
        ("/staff/sup/on-call", {"on_call": "no"}, "sup is off call."),
        ("/staff/cw2/on-call", {"on_call": "no"}, "cw2 is off call. Nobody in the agency"),
        ("/staff/coord/deactivate", {}, ""),
    ):
        done = web.post(path, data={"csrf": csrf} | data)
        assert done.status_code == 303 and done.headers["location"] == "/staff", path
        page = web.get("/staff")
        assert page.status_code == 200 and _said(page.text).startswith(said), (path, page.text)
        assert said == "" or said not in web.get("/staff").text  # said once
    assert _ok_count(seeded, "staff.deactivate") == 1
    # Said only on the page it was kept for, and only to the session that did it.
    web.post("/staff/cw2/on-call", data={"csrf": csrf, "on_call": "yes"})
    assert "cw2 is on call." not in web.get("/agencies").text
    other, _ = signed_in(seeded, clock, "adm")
    assert "cw2 is on call." not in other.get("/staff").text


def _ok_count(app: App, action: str) -> int:
    return sum(1 for a in actions(app, "staff.") if a == action)


def _resets(app: App) -> list[str]:
    return [a for a in actions(app, "staff.") if a in ("staff.reset", "staff.enrolment_issued")]


def test_a_reset_sent_again_by_a_refresh_resets_nothing_again(
    seeded: App, clock: FixedClock
) -> None:
    """A reset whose link went to the person's own route answers 303 to the staff page, which
    says so once. One whose link is shown to hand over (it cannot ride a redirect: never in a
    URL or a cookie) is shown on the form's answer; that form sent again (a refresh) after a
    reset since its page was shown resets nothing, and the link shown still works."""
    from pydantic import SecretStr

    from tests.web.helpers import client

    routes = "version: 1\nurls:\n  - json://127.0.0.1:9/hook:\n      - tag: cw1, chat\n"
    routed = App(
        seeded.settings.model_copy(update={"apprise_yaml": SecretStr(routes)}), seeded.clock
    )
    routed.engine = seeded.engine
    web, _ = signed_in(routed, clock, "adm")
    page = web.get("/staff").text
    shown = re.search(r'action="/staff/cw2/reset".*?name="shown" value="([^"]+)"', page, re.S)
    assert shown, page
    form = {"csrf": csrf_of(web, "/staff"), "shown": shown.group(1)}
    clock.advance(timedelta(seconds=1))
    sent = web.post("/staff/cw1/reset", data=form)
    assert sent.status_code == 303 and sent.headers["location"] == "/staff"
    said = _said(web.get("/staff").text)
    assert "Sign-in cleared and sessions ended for cw1" in said and "own route" in said, said
    handed = web.post("/staff/cw2/reset", data=form)
    assert handed.status_code == 200 and "Sign-in cleared and sessions ended for cw2" in handed.text
    link = re.search(r'<code class="link">[^<]*(/enrol/[^<]+)</code>', handed.text)
    assert link
    before = _resets(routed)
    clock.advance(timedelta(seconds=1))
    again = web.post("/staff/cw2/reset", data=form)  # the browser's refresh
    assert again.status_code == 303 and again.headers["location"] == "/staff"
    said = _said(web.get("/staff").text)
    assert "cw2" in said and "nothing was done" in said and "not shown again" in said, said
    assert _resets(routed) == before  # nothing reset, no new link
    assert client(routed).get(link.group(1)).status_code == 200  # the link shown still works
    fresh = csrf_of(web, "/staff")  # the page shown again: its form resets again
    page = web.get("/staff").text
    shown = re.search(r'action="/staff/cw2/reset".*?name="shown" value="([^"]+)"', page, re.S)
    assert shown
    clock.advance(timedelta(seconds=1))
    anew = web.post("/staff/cw2/reset", data={"csrf": fresh, "shown": shown.group(1)})
    assert anew.status_code == 200 and "/enrol/" in anew.text
