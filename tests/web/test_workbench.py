"""The plan workbench over HTTP: accept, reject, add, edit a step, the youth's copy, finalize
with the undecided-items choice, steps done, versions compared, documents printed and
downloaded; each as the ``harbour plan`` command makes it, each refusal writing nothing; with
the script (static/swap.js), each answered in place. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape
from typing import Any

import pytest
from sqlalchemy import func, select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, Plan, StepProgress
from harbour.domain.refs import short_form
from harbour.domain.vocab import ItemState
from harbour.plans.actions import show
from harbour.plans.opaque import detail, shown_key
from harbour.plans.snapshot import plan_items
from harbour.web.casework import DOCUMENT_CSP
from tests.cli.helpers import assess_just_left
from tests.notify.helpers import new_case
from tests.support import invoke
from tests.web.forming import counts, form_fields
from tests.web.helpers import OTHER_TWOS, csrf_of, signed_in, summary_names
from tests.web.test_console import refer_south


@pytest.fixture
def worked(seeded: App, clock: FixedClock) -> tuple[Any, str, str]:
    """cw1 signed in on a case with a draft plan (version 1): (client, case, full reference)."""
    case = new_case(seeded)
    assess_just_left(seeded, case.reference, "initial_contact")
    web, _ = signed_in(seeded, clock, "cw1")
    return web, short_form(case.reference), case.reference


def items(app: App, reference: str, version: int = 1) -> dict[str, tuple[str, str | None, Any]]:
    """The version's items as stored (their owners unsealed), without the risks section's
    placeholders."""
    rows = app.run(
        lambda uow: [
            (shown_key(uow, i), i.state, detail(uow, i).owner, i.due_on)
            for i in plan_items(
                uow,
                uow.session.scalars(
                    select(Plan)
                    .where(Plan.version_number == version)
                    .where(Plan.case_id == _case_id(uow, reference))
                ).one(),
            )
        ]
    )
    return {key: (state, owner, due) for key, state, owner, due in rows}


def _case_id(uow: Any, reference: str) -> str:
    from harbour.db.models import Case

    return str(uow.session.scalars(select(Case.id).where(Case.reference == reference)).one())


def actions(app: App, prefix: str = "plan.") -> list[str]:
    return list(
        app.run(
            lambda uow: uow.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.startswith(prefix), AuditEvent.outcome == "ok")
                .order_by(AuditEvent.seq)
            ).all()
        )
    )


def number_of(app: App, reference: str, key: str, version: int | None = None) -> int:
    """The number the workbench names an item by in its URLs (never its key)."""
    return next(i.number for i in show(app, "cw1", reference, version).items if i.key == key)


def page_of(web: Any, case: str) -> tuple[str, str]:
    page = web.get(f"/cases/{case}/plan")
    assert page.status_code == 200, page.text[-600:]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    return page.text, csrf.group(1)


def suggested(html: str, case: str, what: str = "accept") -> list[str]:
    return re.findall(
        rf'action="/cases/{case}/plan/{what}" class="inline-form" data-swap>\s*<input type="hidden" '
        r'name="csrf" value="[^"]+"><input type="hidden" name="version" value="\d+">'
        r'<input type="hidden" name="item" value="([^"]+)">',
        html,
    )


def test_work_the_draft_as_the_cli_would(
    seeded: App, clock: FixedClock, worked: tuple[Any, str, str]
) -> None:
    web, case, reference = worked
    html, csrf = page_of(web, case)
    for heading in ("Emergency", "Strategies", "Steps", "Finalize this version", "Versions"):
        assert heading in html
    to_accept = suggested(html, case)
    assert len(to_accept) >= 3, html[:3000]
    base = {"csrf": csrf, "version": "1"}
    first, second = to_accept[0], to_accept[1]
    number = number_of(seeded, reference, first)
    accepted = web.post(f"/cases/{case}/plan/accept", data=base | {"item": first, "number": number})
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/cases/{case}/plan#n-{number}"
    assert web.post(f"/cases/{case}/plan/reject", data=base | {"item": second}).status_code == 303
    due = (clock.now() + timedelta(days=7)).date().isoformat()
    added = web.post(
        f"/cases/{case}/plan/add",
        data=base
        | {"section": "steps", "text": "MKSTEP call the aunt", "owner": "youth", "due": due},
    )
    assert added.status_code == 303, added.text[-1500:]
    state = items(seeded, reference)
    assert state[first][0] == "accepted" and state[second][0] == "rejected"
    new_key = next(k for k, v in state.items() if v[0] == "added")
    assert state[new_key][1:] == ("youth", clock.now().date() + timedelta(days=7))
    html, _ = page_of(web, case)
    assert "MKSTEP call the aunt" in html  # the deliberate plan view shows what staff wrote

    later = (clock.now() + timedelta(days=14)).date().isoformat()
    edited = web.post(
        f"/cases/{case}/plan/edit",
        data=base | {"item": new_key, "owner": "caseworker", "due": later},
    )
    assert edited.status_code == 303
    assert items(seeded, reference)[new_key][1] == "caseworker"
    copy = web.post(
        f"/cases/{case}/plan/youth-copy", data=base | {"title": "MKTITLE", "hide_hotlines": "on"}
    )
    assert copy.status_code == 303
    html, _ = page_of(web, case)
    assert "MKTITLE" not in html and "the youth&#39;s own title" in html
    assert (
        web.post(
            f"/cases/{case}/steps/{new_key}/done",
            data={"csrf": csrf, "back": f"/cases/{case}/plan"},
        ).status_code
        == 303
    )

    keep = web.post(f"/cases/{case}/plan/finalize", data=base | {"choice": "keep"})
    assert (
        keep.status_code == 303
        and seeded.run(
            lambda uow: uow.session.scalars(
                select(Plan.status).where(Plan.case_id == _case_id(uow, reference))
            ).one()
        )
        == "draft"
    )
    undecided = [k for k, v in items(seeded, reference).items() if v[0] == "suggested"]
    assert undecided
    before = counts(seeded)
    refused = web.post(
        f"/cases/{case}/plan/finalize",
        data=base | {"choice": "leave_out", "leave_out": undecided[:1]},
    )
    if len(undecided) > 1:
        assert refused.status_code == 400 and "undecided" in refused.text
        assert counts(seeded) == before
    emergency = [k for k, v in items(seeded, reference).items() if k in html and v[0] == "accepted"]
    done = web.post(
        f"/cases/{case}/plan/finalize",
        data=base | {"choice": "accept_rest", "leave_out": undecided[:1]},
    )
    assert done.status_code == 303, done.text[-1500:]
    final = items(seeded, reference)
    assert undecided[0] not in final  # left out: suggested again next version
    assert all(final[k][0] == "accepted" for k in undecided[1:])
    assert emergency
    html, _ = page_of(web, case)
    assert "This version is final" in html and "/plan/accept" not in html

    # The CLI's audit rows for the same commands, in the same order.
    assert [a for a in actions(seeded) if not a.startswith("plan.documents")] == [
        "plan.item.accepted",
        "plan.item.rejected",
        "plan.item.add",
        "plan.item.edit",
        "plan.youth_copy",
        "plan.step.done",
        "plan.finalize",
    ]


def test_documents_print_and_download_as_the_cli_renders_them(
    seeded: App, worked: tuple[Any, str, str]
) -> None:
    web, case, reference = worked
    printed = web.get(f"/cases/{case}/plan/print/youth")
    assert printed.status_code == 200 and printed.headers["content-type"].startswith("text/html")
    assert printed.headers["content-security-policy"] == DOCUMENT_CSP
    assert printed.headers["cache-control"] == "no-store"
    assert "content-disposition" not in printed.headers and "<script" not in printed.text
    cli = invoke(seeded, "plan", "render", reference, "--audience", "youth", "--as", "cw1")
    assert printed.text == cli.stdout
    for audience, fmt in (("staff", "html"), ("family", "text"), ("youth", "md")):
        got = web.get(f"/cases/{case}/plan/download/{audience}.{fmt}?version=1")
        assert got.status_code == 200
        disposition = got.headers["content-disposition"]
        assert disposition.startswith("attachment; filename=")
        assert (case in disposition) is (audience == "staff")  # see the test below
        assert got.headers["cache-control"] == "no-store"
        cli = invoke(
            seeded,
            "plan",
            "render",
            reference,
            "--audience",
            audience,
            "--format",
            fmt,
            "--as",
            "cw1",
        )
        assert got.text == cli.stdout
    assert web.get(f"/cases/{case}/plan/print/everyone").status_code == 404
    assert web.get(f"/cases/{case}/plan/download/staff.pdf").status_code == 404
    assert web.get(f"/cases/{case}/plan/print/staff?version=x").status_code == 400
    assert web.get(f"/cases/{case}/plan/print/staff?version=9").status_code == 404


def test_the_youths_and_the_familys_copies_download_under_a_neutral_name(
    seeded: App, worked: tuple[Any, str, str]
) -> None:
    """A copy handed to the youth (their phone) or to the family is named as it is titled, "My
    plan" or "Our plan": never by the case reference, which no such copy shows, nor by whom it
    is for. The staff copy keeps the reference, to be told from other cases'."""
    web, case, reference = worked
    named = {}
    for audience, fmt in (
        ("youth", "html"),
        ("youth", "md"),
        ("youth", "text"),
        ("family", "html"),
        ("family", "text"),
        ("family", "md"),
        ("staff", "text"),
    ):
        got = web.get(f"/cases/{case}/plan/download/{audience}.{fmt}?version=1")
        assert got.status_code == 200 and got.headers["cache-control"] == "no-store"
        disposition = got.headers["content-disposition"]
        assert disposition.startswith("attachment; filename="), disposition
        named[audience, fmt] = disposition.removeprefix("attachment; filename=").strip('"')
    for (audience, _), name in named.items():
        if audience == "staff":
            assert case in name, name
            continue
        assert reference[:7] not in name and "HB-" not in name.upper(), name
        assert not {"youth", "family", "staff", "safety", "case"} & set(re.split(r"\W", name))
    assert named["youth", "html"] == "my-plan.html" and named["youth", "text"] == "my-plan.txt"
    assert named["family", "md"] == "our-plan.md"


def test_the_youths_own_title_is_on_their_card_not_in_the_pages_title(
    seeded: App, worked: tuple[Any, str, str]
) -> None:
    """The title the youth chose is kept sealed and the workbench never shows it again; the card
    opened to print shows it, as its heading, but not as the page's title, which the staff's
    browser keeps in its history (and tabs, and synced profile) with the page's address."""
    web, case, reference = worked
    _, csrf = page_of(web, case)
    own = web.post(
        f"/cases/{case}/plan/youth-copy", data={"csrf": csrf, "version": "1", "title": "MKTITLE"}
    )
    assert own.status_code == 303
    printed = web.get(f"/cases/{case}/plan/print/youth")
    assert printed.status_code == 200 and "<h1>MKTITLE</h1>" in printed.text
    titled = re.findall(r"<title>([^<]*)</title>", printed.text)
    assert titled == ["My plan"], titled
    cli = invoke(seeded, "plan", "render", reference, "--audience", "youth", "--as", "cw1")
    assert printed.text == cli.stdout  # as `plan render` writes it


def test_versions_compared_side_by_side(seeded: App, worked: tuple[Any, str, str]) -> None:
    web, case, reference = worked
    assess_just_left(seeded, reference, "incident")
    html, _ = page_of(web, case)
    assert 'action="/cases/' + case + '/plan/diff"' in html
    shown = web.get(f"/cases/{case}/plan/diff?v1=1&v2=2")
    assert shown.status_code == 200 and "Plan versions compared" in shown.text
    assert web.get(f"/cases/{case}/plan/diff?v1=1&v2=7").status_code == 400


def test_a_version_in_other_digits_is_refused_and_writes_nothing(
    seeded: App, worked: tuple[Any, str, str]
) -> None:
    web, case, _ = worked
    _, csrf = page_of(web, case)
    before = counts(seeded)
    for two in OTHER_TWOS:
        for path, asked in (
            ("plan", {"version": two}),
            ("plan/diff", {"v1": two, "v2": "1"}),
            ("plan/diff", {"v1": "1", "v2": two}),
            ("plan/print/staff", {"version": two}),
            ("plan/download/staff.html", {"version": two}),
        ):
            assert web.get(f"/cases/{case}/{path}", params=asked).status_code == 400, (path, asked)
        item = {"section": "steps", "text": "MKX", "owner": "youth"}
        added = web.post(f"/cases/{case}/plan/add", data={"csrf": csrf, "version": two} | item)
        assert added.status_code == 400 and "must be a plan version number" in added.text
    assert counts(seeded) == before


BAD: list[tuple[str, dict[str, str], str]] = [
    ("add", {"section": "steps", "text": "", "owner": "youth"}, "text"),
    ("add", {"section": "steps", "text": "MKX"}, "owner"),
    ("add", {"section": "steps", "text": "MKX", "owner": "youth", "due": "2001-01-01"}, "due"),
    ("add", {"section": "steps", "text": "MKX", "owner": "youth", "due": "soon"}, "due"),
    ("add", {"section": "emergency", "text": "MKX"}, "section"),
    ("add", {"section": "steps", "text": "x" * 1_000_000, "owner": "youth"}, "text"),
    ("add", {"section": "steps", "text": "MK\x00X", "owner": "youth"}, "text"),
    ("youth-copy", {"title": "x" * 500}, "title"),
    ("edit", {"item": "nope", "owner": "youth"}, ""),
    ("accept", {"item": "nope"}, ""),
]


@pytest.mark.parametrize(("what", "changed", "field"), BAD)
def test_bad_input_is_refused_and_writes_nothing(
    seeded: App, worked: tuple[Any, str, str], what: str, changed: dict[str, str], field: str
) -> None:
    web, case, _ = worked
    _, csrf = page_of(web, case)
    before = counts(seeded)
    answer = web.post(f"/cases/{case}/plan/{what}", data={"csrf": csrf, "version": "1"} | changed)
    assert answer.status_code == 400, answer.text[-800:]
    assert "Not done. Please check" in answer.text
    if field:
        assert f'id="f-{field}-error"' in answer.text, answer.text[-3000:]
    assert counts(seeded) == before


def test_a_stale_page_another_agencys_case_and_the_emergency_protocol(
    seeded: App, worked: tuple[Any, str, str]
) -> None:
    web, case, reference = worked
    html, csrf = page_of(web, case)
    key = suggested(html, case)[0]
    assess_just_left(seeded, reference, "incident")  # someone drafted version 2 meanwhile
    before = counts(seeded)
    stale = web.post(f"/cases/{case}/plan/accept", data={"csrf": csrf, "version": "1", "item": key})
    assert stale.status_code == 400 and "the plan changed since the page was opened" in stale.text
    assert counts(seeded) == before
    emergency = [k for k, v in items(seeded, reference, 2).items() if v[0] == "accepted"]
    refused = web.post(
        f"/cases/{case}/plan/finalize",
        data={"csrf": csrf, "version": "2", "choice": "accept_rest", "leave_out": emergency[0]},
    )
    assert refused.status_code == 400
    theirs = short_form(refer_south(seeded).reference)
    assert web.get(f"/cases/{theirs}/plan").status_code == 404
    gone = web.post(
        f"/cases/{theirs}/plan/accept", data={"csrf": csrf_of(web), "version": "1", "item": key}
    )
    assert gone.status_code == 404
    assert counts(seeded)["plans"] == before["plans"]


SWAP = {"HX-Request": "true"}  # what static/swap.js sends (htmx's header)


def test_decisions_swap_the_item_without_a_page_load_and_a_stale_page_says_so(
    seeded: App, clock: FixedClock, worked: tuple[Any, str, str]
) -> None:
    """With the script, accept, reject, edit and done/undo answer with the item's fragment (and
    the finalize form, and what was done), the same rows written as the redirecting form; a
    refusal comes back in the fragment beside its field; a page of a plan that moved on gets a
    plain message and a link; a missing CSRF token is still refused."""
    web, case, reference = worked
    html, csrf = page_of(web, case)
    assert '<script src="/static/swap.js" defer></script>' in html
    assert '<div id="workbench-status" role="status" tabindex="-1" data-live></div>' in html
    first, second = suggested(html, case)[:2]
    base = {"csrf": csrf, "version": "1"}

    accepted = web.post(f"/cases/{case}/plan/accept", data=base | {"item": first}, headers=SWAP)
    assert accepted.status_code == 200, accepted.text[-1500:]
    fragment = accepted.text
    assert "<!DOCTYPE" not in fragment and "<main" not in fragment
    assert re.search(rf'<li id="item-{re.escape(first)}" class="state-accepted"', fragment)
    assert fragment.count("<li id=") == 1 and 'id="finalize-section"' in fragment
    assert re.search(r'<div id="workbench-status" role="status"[^>]*>Accepted: ', fragment)
    assert f'name="csrf" value="{csrf}"' in fragment  # its forms work again
    rejected = web.post(f"/cases/{case}/plan/reject", data=base | {"item": second}, headers=SWAP)
    assert rejected.status_code == 200 and "Rejected: " in rejected.text
    assert items(seeded, reference)[first][0] == "accepted"
    assert items(seeded, reference)[second][0] == "rejected"

    step = next(
        k for k, v in items(seeded, reference).items() if v[0] != "rejected" and "step" in k
    )
    later = (clock.now() + timedelta(days=14)).date().isoformat()
    before = counts(seeded)
    refused = web.post(
        f"/cases/{case}/plan/edit",
        data=base | {"item": step, "owner": "caseworker", "due": "soon"},
        headers=SWAP,
    )
    assert refused.status_code == 400, refused.text[-1500:]
    assert '<details class="edit" open>' in refused.text
    assert re.search(r'id="f-due-steps-\d+-error"', refused.text)
    assert 'value="soon"' in refused.text and 'role="alert"' in refused.text
    assert counts(seeded) == before
    edited = web.post(
        f"/cases/{case}/plan/edit",
        data=base | {"item": step, "owner": "caseworker", "due": later},
        headers=SWAP,
    )
    assert edited.status_code == 200 and "Owner and due date saved" in edited.text
    assert f"; caseworker; due {later}" in edited.text
    back = {"csrf": csrf, "back": f"/cases/{case}/plan"}
    done = web.post(f"/cases/{case}/steps/{step}/done", data=back, headers=SWAP)
    assert done.status_code == 200 and "Recorded done" in done.text
    assert f"/steps/{number_of(seeded, reference, step)}/undo" in done.text
    undone = web.post(f"/cases/{case}/steps/{step}/undo", data=back, headers=SWAP)
    assert undone.status_code == 200 and "Recorded not done" in undone.text

    assert (
        web.post(f"/cases/{case}/plan/accept", data={"version": "1", "item": first}, headers=SWAP)
    ).status_code == 403  # no CSRF token: the refusal page (the script posts it plainly)

    assess_just_left(seeded, reference, "incident")  # someone drafted version 2 meanwhile
    before = counts(seeded)
    stale = web.post(f"/cases/{case}/plan/accept", data=base | {"item": second}, headers=SWAP)
    assert stale.status_code == 409
    assert 'role="alert"' in stale.text and "the plan changed since the page was opened" in (
        stale.text
    )
    assert f'<a href="/cases/{case}/plan">Open the plan as it is now</a>' in stale.text
    assert "<li id=" not in stale.text and counts(seeded) == before
    assert [a for a in actions(seeded) if not a.startswith("plan.documents")] == [
        "plan.item.accepted",
        "plan.item.rejected",
        "plan.item.edit",
        "plan.step.done",
        "plan.step.undone",
    ]


# Add, youth copy and finalize answered in place (static/swap.js): the part of the page they
# change comes back as a fragment, rendered from the same templates as the page; a finalize
# answers with the whole workbench as the reloaded page reads.

IN_PLACE_MARK = "MKINPLACE"


def workbench_of(html: str) -> str:
    """The ``<div id="workbench">`` of a page or fragment (it holds no other div of that name)."""
    start = html.index('<div id="workbench">')
    end = html.index("\n</div>\n", html.index('<p><a href="/cases/', start))
    return html[start:end]


def status_of(html: str) -> str:
    found = re.search(r'<div id="workbench-status"[^>]*>(.*?)</div>', html, re.S)
    assert found, html[-1500:]
    return found.group(0)


def said_in(html: str) -> str:
    """What the workbench's live region says, as text."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", status_of(html))).split())


def plan_status(app: App, reference: str) -> str:
    query = select(Plan.status)
    return str(
        app.run(
            lambda uow: uow.session.scalars(
                query.where(Plan.case_id == _case_id(uow, reference))
            ).one()
        )
    )


def test_without_the_script_an_items_refused_change_comes_back_in_that_items_form(
    seeded: App, clock: FixedClock, worked: tuple[Any, str, str]
) -> None:
    """Posted the ordinary way (no script, or swap.js falling back), a step's refused edit
    comes back open in the step's own form, what was typed kept and the reason beside its
    field, as the script's fragment has it: not in the form adding the youth's own item,
    whose empty fields it filled (a second refused date there) while the step's was closed."""
    web, case, reference = worked
    _, csrf = page_of(web, case)
    step = next(
        k for k, v in items(seeded, reference).items() if v[0] != "rejected" and "step" in k
    )
    before = counts(seeded)
    data = {"csrf": csrf, "version": "1", "item": step, "owner": "caseworker", "due": "soon"}
    refused = web.post(f"/cases/{case}/plan/edit", data=data)
    assert refused.status_code == 400, refused.text[-800:]
    page = refused.text
    mine = page[page.index(f'<li id="item-{step}"') :]
    mine = mine[: mine.index("</li>")]
    assert '<details class="edit" open>' in mine and 'value="soon"' in mine
    assert re.search(r'id="f-due-steps-\d+-error"', mine)
    assert '<option value="caseworker" selected>' in mine
    add = page[page.index('id="add-section"') :]
    add = add[: add.index("</section>")]
    assert 'value="soon"' not in add and "error" not in add
    assert '<option value="caseworker" selected>' not in add
    assert "Not done. Please check" in page and page.count('value="soon"') == 1
    assert counts(seeded) == before


def step_form(html: str, case: str, key: str) -> dict[str, Any]:
    """Step ``key``'s edit form on a page (or fragment), as the browser sends it unchanged."""
    mine = html[html.index(f'<li id="item-{key}"') :]
    return form_fields(mine[: mine.index("</li>")], f"/cases/{case}/plan/edit")


def beside(html: str, field: str) -> str:
    """The refusal beside a field of a step's form (its id carries the step's place)."""
    found = re.search(rf'<span class="error" id="f-{field}-steps-\d+-error">(.*?)</span>', html)
    assert found, html[-3000:]
    return unescape(found.group(1))


def test_a_step_with_an_owner_is_not_offered_none(
    seeded: App, worked: tuple[Any, str, str]
) -> None:
    """A step needs an owner: its edit form offers no "No owner" (chosen, it was sent as no
    change, and the page said "nothing changed", or saved the date and kept the owner, unsaid).
    A step with none yet shows it blank, as it is."""
    web, case, _ = worked
    html, _ = page_of(web, case)
    forms = re.findall(
        r'<input type="hidden" name="shown_owner" value="([^"]*)">(.*?)</select>', html, re.S
    )
    assert forms
    for owner, form in forms:
        assert ('<option value="">' in form) is (owner == ""), (owner, form[-400:])


@pytest.mark.parametrize("headers", [{}, SWAP], ids=["form", "script"])
def test_a_step_changed_in_two_tabs_keeps_both_changes(
    seeded: App, clock: FixedClock, worked: tuple[Any, str, str], headers: dict[str, str]
) -> None:
    """Two tabs (or two people) on the workbench: one changes a step's owner, the other, opened
    before it, only the step's due date. Each form sends what it changed from what it showed, so
    both changes stay (the second no longer puts back the owner its page showed). Both changing
    the owner: the second is refused beside it, saying what it became, its own choice kept in
    the form, nothing written; saved again, it is the owner."""
    web, case, reference = worked
    tab_a, _ = page_of(web, case)
    tab_b, _ = page_of(web, case)
    step = next(
        k for k, v in items(seeded, reference).items() if v[0] != "rejected" and "step" in k
    )
    was = items(seeded, reference)[step][1]
    first, second = [o for o in ("family", "agency", "caseworker", "youth") if o != was][:2]
    later = (clock.now() + timedelta(days=20)).date()
    edit, saved = f"/cases/{case}/plan/edit", 200 if headers else 303
    by_a = web.post(edit, data=step_form(tab_a, case, step) | {"owner": first}, headers=headers)
    assert by_a.status_code == saved, by_a.text[-1500:]
    by_b = step_form(tab_b, case, step) | {"due": later.isoformat()}
    assert web.post(edit, data=by_b, headers=headers).status_code == saved
    assert items(seeded, reference)[step][1:] == (first, later)

    before = counts(seeded)
    again = web.post(edit, data=step_form(tab_b, case, step) | {"owner": second}, headers=headers)
    assert again.status_code == 400, again.text[-1500:]
    said = beside(again.text, "owner")
    assert f"changed to {first} since" in said, said
    kept = step_form(again.text, case, step)
    assert kept["owner"] == second and kept["due"] == later.isoformat()
    assert counts(seeded) == before and items(seeded, reference)[step][1] == first
    assert web.post(edit, data=kept, headers=headers).status_code == saved
    assert items(seeded, reference)[step][1:] == (second, later)

    unchanged = web.post(edit, data=step_form(page_of(web, case)[0], case, step), headers=headers)
    assert unchanged.status_code == 400 and "nothing changed" in beside(unchanged.text, "owner")
    assert items(seeded, reference)[step][1:] == (second, later)


@pytest.mark.parametrize("headers", [{}, SWAP], ids=["form", "script"])
def test_the_youth_copy_form_keeps_their_title_until_it_is_taken_off(
    seeded: App, worked: tuple[Any, str, str], headers: dict[str, str]
) -> None:
    """The youth's own title is never shown back, so the form's empty title is no wish for
    none: saved to hide the hotlines, the form keeps the title (as ``plan youth-copy
    --hide-hotlines`` does), and only choosing the neutral title takes it off. A tab opened
    before the hotlines were hidden, saving a title, leaves them hidden. A title typed with
    the neutral one chosen is refused, nothing written."""
    web, case, reference = worked
    path, saved = f"/cases/{case}/plan/youth-copy", 200 if headers else 303

    def save(page: str, changed: dict[str, str]) -> Any:
        return web.post(path, data=form_fields(page, path) | changed, headers=headers)

    def copy() -> tuple[str | None, bool]:
        plan = show(seeded, "cw1", reference)
        return plan.youth_title, plan.hide_hotlines

    before_hiding, _ = page_of(web, case)
    assert save(page_of(web, case)[0], {"title": "MKTITLE"}).status_code == saved
    assert save(page_of(web, case)[0], {"hide_hotlines": "on"}).status_code == saved
    assert copy() == ("MKTITLE", True)
    assert save(before_hiding, {"title": "MKOTHER"}).status_code == saved
    assert copy() == ("MKOTHER", True)

    page, _ = page_of(web, case)
    assert "MKOTHER" not in page
    before = counts(seeded)
    both = save(page, {"title": "MKTHIRD", "neutral_title": "on"})
    assert both.status_code == 400 and 'id="f-title-error"' in both.text, both.text[-1500:]
    assert 'value="MKTHIRD"' in both.text and "MKOTHER" not in both.text
    assert copy() == ("MKOTHER", True) and counts(seeded) == before
    assert save(page, {"neutral_title": "on"}).status_code == saved
    assert copy() == (None, True)
    assert 'name="neutral_title"' not in page_of(web, case)[0]  # none to take off


@pytest.mark.parametrize("headers", [{}, SWAP], ids=["form", "script"])
def test_the_add_form_sent_twice_adds_one_item(
    seeded: App, worked: tuple[Any, str, str], headers: dict[str, str]
) -> None:
    """A double click without the script, or a post retried (swap.js posts the form the
    ordinary way when its request has no answer): the form's idempotency key makes it one
    item, the second answered as the first. The form comes back empty with a new key (the next
    item is another), refused with its own (put right, it is still one item); its key sent with
    other wording is refused, nothing written."""
    web, case, reference = worked
    path, saved = f"/cases/{case}/plan/add", 200 if headers else 303
    step = {"section": "steps", "text": "MKTWICE call the aunt", "owner": "youth"}
    sent = form_fields(page_of(web, case)[0], path) | step
    answers = [web.post(path, data=sent, headers=headers) for _ in range(2)]
    assert [a.status_code for a in answers] == [saved, saved], answers[1].text[-1500:]
    assert len([k for k, v in items(seeded, reference).items() if v[0] == "added"]) == 1
    done = [a for a in actions(seeded) if not a.startswith("plan.documents")]
    assert done == ["plan.item.add", "plan.item.add.replayed"]
    again = form_fields(answers[1].text if headers else page_of(web, case)[0], path)
    assert again["idempotency_key"] not in ("", sent["idempotency_key"])

    late = web.post(path, data=again | step | {"due": "soon"}, headers=headers)
    assert late.status_code == 400 and form_fields(late.text, path) == again | step | {
        "due": "soon"
    }
    before = counts(seeded)
    other = web.post(path, data=sent | {"text": "MKTWICE other"}, headers=headers)
    assert other.status_code in (400, 409), other.text[-1500:]
    assert "already submitted with other values" in other.text
    assert "MKTWICE other</textarea>" in other.text and counts(seeded) == before
    if headers:  # in place: said once in the live region, not "Not done: form: ..."
        assert said_in(other.text).startswith("Not done: this form was already submitted")


def test_add_youth_copy_and_finalize_answer_in_place(
    seeded: App, clock: FixedClock, worked: tuple[Any, str, str]
) -> None:
    web, case, reference = worked
    html, csrf = page_of(web, case)
    for action in ("add", "youth-copy", "finalize"):
        assert f'action="/cases/{case}/plan/{action}" class="form" data-swap>' in html
    base = {"csrf": csrf, "version": "1"}

    # Added: the sections with the new item (which takes the focus), the form empty again.
    due = (clock.now() + timedelta(days=7)).date().isoformat()
    added = web.post(
        f"/cases/{case}/plan/add",
        data=base
        | {"section": "steps", "text": f"{IN_PLACE_MARK} call the aunt", "owner": "youth"}
        | {"due": due},
        headers=SWAP,
    )
    assert added.status_code == 200, added.text[-1500:]
    fragment = added.text
    assert "<!DOCTYPE" not in fragment and "<main" not in fragment
    new_key = next(k for k, v in items(seeded, reference).items() if v[0] == "added")
    assert re.search(
        rf'<li id="item-{re.escape(new_key)}" class="state-added" tabindex="-1" data-focus>',
        fragment,
    )
    assert fragment.count(" data-focus") == 1
    assert '<div id="plan-sections">' in fragment and 'id="add-section"' in fragment
    assert 'id="finalize-section"' in fragment and f"; youth; due {due}" in fragment
    assert "</textarea>" in fragment.split('id="f-text"')[1].split("\n")[0]  # empty again
    said = status_of(fragment)
    assert 'role="status"' in said and f"Added: {IN_PLACE_MARK} call the aunt." in said
    assert f'name="csrf" value="{csrf}"' in fragment  # its forms work again

    # Refused: beside its field, what was typed kept, the message announced; nothing written.
    before = counts(seeded)
    refused = web.post(
        f"/cases/{case}/plan/add",
        data=base
        | {"section": "steps", "text": f"{IN_PLACE_MARK} later", "owner": "youth", "due": "soon"},
        headers=SWAP,
    )
    assert refused.status_code == 400, refused.text[-1500:]
    assert 'id="f-due-error"' in refused.text and 'value="soon"' in refused.text
    assert f"{IN_PLACE_MARK} later</textarea>" in refused.text
    said = status_of(refused.text)
    assert 'role="alert"' in said and "data-focus" in said and "due:" in said
    assert "data-focus>" not in refused.text.split('id="workbench-status"')[0]
    assert counts(seeded) == before
    nul = web.post(
        f"/cases/{case}/plan/add",
        data=base | {"section": "steps", "text": "MK\x00X", "owner": "youth"},
        headers=SWAP,
    )
    assert nul.status_code == 400 and 'id="f-text-error"' in nul.text
    assert counts(seeded) == before
    # Only a step has an owner and a due date: for a strategy they are refused beside their
    # fields, as `plan add` refuses them, not dropped unseen.
    strategy = web.post(
        f"/cases/{case}/plan/add",
        data=base
        | {"section": "strategies", "text": f"{IN_PLACE_MARK} aunt", "owner": "family", "due": due},
        headers=SWAP,
    )
    assert strategy.status_code == 400, strategy.text[-1500:]
    assert 'id="f-owner-error"' in strategy.text and 'id="f-due-error"' in strategy.text
    said = status_of(strategy.text)
    assert "only steps have an owner" in said and "only steps have a due date" in said
    assert counts(seeded) == before

    # The youth's copy: its settings as they are now, the title never shown back once saved.
    copy = web.post(
        f"/cases/{case}/plan/youth-copy",
        data=base | {"title": "MKTITLE", "hide_hotlines": "on"},
        headers=SWAP,
    )
    assert copy.status_code == 200, copy.text[-1500:]
    assert 'id="youth-copy-section"' in copy.text and "MKTITLE" not in copy.text
    assert "It has the youth&#39;s own title." in copy.text
    assert 'id="f-hide_hotlines" name="hide_hotlines" type="checkbox" checked' in copy.text
    assert "Youth copy saved: their own title, hotlines hidden." in status_of(copy.text)
    assert "<li id=" not in copy.text  # the items are as they were
    before = counts(seeded)
    long = web.post(
        f"/cases/{case}/plan/youth-copy", data=base | {"title": "x" * 500}, headers=SWAP
    )
    assert long.status_code == 400 and 'id="f-title-error"' in long.text
    assert 'role="alert"' in status_of(long.text)
    assert counts(seeded) == before

    # Finalize: "keep" changes nothing; leaving out one while others stay undecided is refused
    # beside the choice; then final, and the whole workbench as the reloaded page reads.
    kept = web.post(f"/cases/{case}/plan/finalize", data=base | {"choice": "keep"}, headers=SWAP)
    assert kept.status_code == 200 and "Still a draft" in status_of(kept.text)
    assert plan_status(seeded, reference) == "draft"
    undecided = [k for k, v in items(seeded, reference).items() if v[0] == "suggested"]
    assert len(undecided) > 1
    before = counts(seeded)
    refused = web.post(
        f"/cases/{case}/plan/finalize",
        data=base | {"choice": "leave_out", "leave_out": undecided[:1]},
        headers=SWAP,
    )
    assert refused.status_code == 400, refused.text[-1500:]
    assert 'id="finalize-section"' in refused.text and 'id="f-choice-error"' in refused.text
    assert 'id="f-choice-leave_out" name="choice" value="leave_out" checked' in refused.text
    assert 'role="alert"' in status_of(refused.text) and counts(seeded) == before
    done = web.post(
        f"/cases/{case}/plan/finalize", data=base | {"choice": "accept_rest"}, headers=SWAP
    )
    assert done.status_code == 200, done.text[-1500:]
    assert plan_status(seeded, reference) == "final"
    said = status_of(done.text)
    assert "Finalized" in said and "version 1" in said and "data-focus" in said
    reloaded, _ = page_of(web, case)
    assert workbench_of(done.text) == workbench_of(reloaded)  # as the reloaded page reads
    assert "Version 1, final" in done.text and "This version is final" in done.text
    for gone in ("/plan/accept", "/plan/reject", "/plan/add", "/plan/youth-copy", "/plan/edit"):
        assert gone not in done.text, gone

    # The old page's form, sent again once final: refused, with a link to the plan as it is.
    before = counts(seeded)
    late = web.post(
        f"/cases/{case}/plan/add",
        data=base | {"section": "steps", "text": f"{IN_PLACE_MARK} late", "owner": "youth"},
        headers=SWAP,
    )
    assert late.status_code == 409, late.text[-1500:]
    assert 'role="alert"' in status_of(late.text) and "version 1 is final" in late.text
    assert f'<a href="/cases/{case}/plan">Open the plan as it is now</a>' in late.text
    assert counts(seeded) == before

    # The CLI's audit rows for the same commands, in the same order.
    assert [a for a in actions(seeded) if not a.startswith("plan.documents")] == [
        "plan.item.add",
        "plan.youth_copy",
        "plan.finalize",
    ]


def test_a_page_of_a_plan_that_moved_on_is_told_so_in_place(
    seeded: App, worked: tuple[Any, str, str]
) -> None:
    """Another assessment drafted version 2 while the page showed version 1: the add is refused
    with the message and a link to the plan as it is; without the script, the page again."""
    web, case, reference = worked
    _, csrf = page_of(web, case)
    assess_just_left(seeded, reference, "incident")
    before = counts(seeded)
    fields = {"csrf": csrf, "version": "1", "section": "steps", "text": f"{IN_PLACE_MARK} x"}
    stale = web.post(f"/cases/{case}/plan/add", data=fields | {"owner": "youth"}, headers=SWAP)
    assert stale.status_code == 409
    assert "the plan changed since the page was opened" in stale.text
    assert f'<a href="/cases/{case}/plan">Open the plan as it is now</a>' in stale.text
    assert 'id="workbench"' not in stale.text and counts(seeded) == before
    # It said "Not done: not done: the plan changed ...": the refusal's own label repeated.
    assert said_in(stale.text).startswith("Not done: the plan changed since"), stale.text
    plain = web.post(f"/cases/{case}/plan/finalize", data={"csrf": csrf, "version": "1"})
    assert plain.status_code == 400 and "<!DOCTYPE" in plain.text
    assert counts(seeded) == before


def test_an_emergency_step_is_recorded_on_its_version_after_a_newer_one(
    seeded: App, clock: FixedClock
) -> None:
    """Imminent at initial contact (version 1), a planning meeting the next day (version 2, no
    protocol): the emergency page and version 1's workbench record the steps on version 1, as
    ``plan done`` does."""
    from harbour.assessments.submit import submit_assessment
    from tests.cli.helpers import safest

    case_row = new_case(seeded)
    reference, case = case_row.reference, short_form(case_row.reference)
    danger = safest(seeded) | {"situation": "just_left", "immediate_danger": "yes"}
    submit_assessment(seeded, "cw1", reference, "initial_contact", danger)
    clock.advance(timedelta(hours=20))
    submit_assessment(seeded, "cw1", reference, "planning_meeting", safest(seeded))
    web, _ = signed_in(seeded, clock, "cw1")

    back = f"/cases/{case}/emergency"
    page = web.get(back).text
    steps = re.findall(rf'action="/cases/{case}/steps/([a-z_.]+)/done"', page)
    assert steps == list(seeded.reference.instrument.emergency_protocol)
    assert page.count('name="version" value="1"') == len(steps)
    csrf = csrf_of(web, back)
    before = counts(seeded)
    bad = {"csrf": csrf, "back": back, "version": "one"}
    assert web.post(f"/cases/{case}/steps/{steps[1]}/done", data=bad).status_code == 400
    assert counts(seeded) == before
    marked = web.post(
        f"/cases/{case}/steps/{steps[1]}/done", data={"csrf": csrf, "back": back, "version": "1"}
    )
    assert marked.status_code == 303 and marked.headers["location"] == back
    assert web.get(back).text.count('<span class="done">done</span>') == 1

    first = web.get(f"/cases/{case}/plan?version=1").text
    numbers = [number_of(seeded, reference, key, 1) for key in steps]  # the workbench's names
    assert f'action="/cases/{case}/steps/{numbers[1]}/undo"' in first
    assert f'action="/cases/{case}/steps/{numbers[0]}/done"' in first
    mine = f"/cases/{case}/plan?version=1"
    undone = web.post(
        f"/cases/{case}/steps/{steps[1]}/undo",
        data={"csrf": csrf, "back": mine, "version": "1"},
        headers=SWAP,
    )
    assert undone.status_code == 200 and "Recorded not done" in undone.text
    assert f'action="/cases/{case}/steps/{numbers[1]}/done"' in undone.text
    assert '<span class="done">done</span>' not in web.get(back).text


def test_a_step_of_an_earlier_version_is_not_recorded_there_as_plan_done_refuses(
    seeded: App, clock: FixedClock, worked: tuple[Any, str, str]
) -> None:
    """Version 1 final, version 2 drafted: version 1's workbench offers no step to record (only
    an emergency step is recorded on an earlier version), and a form posted anyway is refused
    by the same rule as ``plan done --version 1``, writing nothing; version 2's offers it."""
    _, case, reference = worked
    invoke(seeded, "plan", "finalize", reference, "--accept-rest", "--as", "cw1")
    clock.advance(timedelta(days=3))
    assess_just_left(seeded, reference)
    web, _ = signed_in(seeded, clock, "cw1")  # days on: signed in afresh
    step = next(k for k, v in items(seeded, reference, 2).items() if k.startswith("step:"))
    first = web.get(f"/cases/{case}/plan?version=1").text
    assert "/done" not in first and "/undo" not in first
    number = number_of(seeded, reference, step, 2)
    assert f'action="/cases/{case}/steps/{number}/done"' in web.get(f"/cases/{case}/plan").text
    back = f"/cases/{case}/plan?version=1"
    before = counts(seeded), progress(seeded)
    refused = web.post(
        f"/cases/{case}/steps/{step}/done",
        data={"csrf": csrf_of(web, back), "back": back, "version": "1"},
    )
    assert refused.status_code == 400, refused.text[-800:]
    assert "only an emergency step is recorded on an earlier version" in refused.text
    said = problems_summary(refused.text)  # on that version's workbench, in the page's words
    assert 'id="workbench"' in refused.text and "--version" not in said, said
    assert (counts(seeded), progress(seeded)) == before


def test_a_step_rejected_since_the_page_was_opened_is_refused_on_the_workbench(
    seeded: App, worked: tuple[Any, str, str]
) -> None:
    """A step rejected (in another tab, by a colleague) after the page was opened, then "Done"
    on the page: refused on the workbench as its other refusals are, the step named by its
    wording (not the command line's ITEM), the item shown as it is now with the script (not a
    bare error page, which swap.js would post again), the page again without it; nothing
    written."""
    web, case, reference = worked
    html, csrf = page_of(web, case)
    numbers = re.findall(rf'action="/cases/{case}/steps/(\d+)/done"', html)
    assert numbers, html[-3000:]
    step = next(i for i in show(seeded, "cw1", reference).items if str(i.number) == numbers[0])
    taken = {"csrf": csrf, "version": "1", "item": step.key}
    assert web.post(f"/cases/{case}/plan/reject", data=taken).status_code == 303
    back = {"csrf": csrf, "version": "1", "back": f"/cases/{case}/plan"}
    before = counts(seeded), progress(seeded)
    plain = web.post(f"/cases/{case}/steps/{numbers[0]}/done", data=back)
    assert plain.status_code == 400, plain.text[-800:]
    assert 'id="workbench"' in plain.text and 'id="finalize-section"' in plain.text
    said = problems_summary(plain.text)
    assert step.staff_text in said and "a rejected step is not on the plan" in said, said
    assert "ITEM" not in said, said
    swapped = web.post(f"/cases/{case}/steps/{numbers[0]}/done", data=back, headers=SWAP)
    assert swapped.status_code == 400, swapped.text[-800:]
    assert "<!DOCTYPE" not in swapped.text  # a fragment: swap.js would send a page's form again
    assert re.search(rf'<li id="item-{re.escape(step.key)}" class="state-rejected"', swapped.text)
    said = status_of(swapped.text)
    assert 'role="alert"' in said and step.staff_text in unescape(said) and "ITEM" not in said
    assert (counts(seeded), progress(seeded)) == before


def test_the_workbench_summary_names_each_field_by_its_label(
    seeded: App, worked: tuple[Any, str, str]
) -> None:
    """Without the script, a refused form comes back on the page with the summary at the top:
    it linked each field by the form's internal name ("leave_out", "text"), not its label."""
    web, case, _ = worked
    _, csrf = page_of(web, case)
    base = {"csrf": csrf, "version": "1"}
    before = counts(seeded)
    for path, data, names in (
        (
            "add",
            {"section": "steps", "text": "", "due": "soon"},
            ["Wording (kept encrypted)", "Due date"],
        ),
        ("youth-copy", {"title": "x" * 100}, ["Their own title for it"]),
        ("finalize", {"choice": "accept_rest", "leave_out": "resource:emergency"}, ["Leave out"]),
        ("finalize", {"choice": "leave_out"}, ["Suggestions nobody has decided on"]),
    ):
        refused = web.post(f"/cases/{case}/plan/{path}", data=base | data)
        assert refused.status_code == 400, (path, refused.text[-1500:])
        assert summary_names(refused.text) == names, path
    assert counts(seeded) == before


def progress(app: App) -> int:
    return int(
        app.run(lambda uow: uow.session.scalar(select(func.count()).select_from(StepProgress)))
    )


EXIT_PLAN = "step:leave.escape_route"


def carried_past_its_date(app: App, clock: FixedClock) -> str:
    """A case whose version 1 (considering leaving) agreed the exit plan, due in a week, and
    whose version 2, drafted two weeks on (just left), suggests it again, its date gone by."""
    from harbour.assessments.submit import submit_assessment
    from tests.cli.helpers import safest

    reference = new_case(app).reference
    considering = safest(app) | {"situation": "considering_leaving"}
    submit_assessment(app, "cw1", reference, "initial_contact", considering)
    invoke(app, "plan", "finalize", reference, "--accept-rest", "--as", "cw1")
    clock.advance(timedelta(days=14))
    just_left = safest(app) | {"situation": "just_left"}
    submit_assessment(app, "cw1", reference, "planning_meeting", just_left)
    return reference


def late_step_page(app: App, clock: FixedClock) -> tuple[Any, str, str, str]:
    """``carried_past_its_date``'s case open in cw1's console: the client, the case as the page
    names it, the page's CSRF token, and the late step's wording as the page shows it."""
    reference = carried_past_its_date(app, clock)
    case = short_form(reference)
    web, _ = signed_in(app, clock, "cw1")
    _, csrf = page_of(web, case)
    wording = next(i.staff_text for i in show(app, "cw1", reference).items if i.key == EXIT_PLAN)
    return web, case, csrf, wording


def test_a_step_accepted_past_its_date_opens_its_date_to_change(
    seeded: App, clock: FixedClock
) -> None:
    """Accepting a step suggested again after its date went by is refused, as by ``plan
    accept``, writing nothing: the item's form to change its date opens, showing its owner and
    the date gone by; saved with a new date, the step is accepted."""
    reference = carried_past_its_date(seeded, clock)
    case = short_form(reference)
    web, _ = signed_in(seeded, clock, "cw1")
    html, csrf = page_of(web, case)
    assert "; due 2026-03-09" in html
    base = {"csrf": csrf, "version": "2", "item": EXIT_PLAN}
    before = counts(seeded)
    refused = web.post(f"/cases/{case}/plan/accept", data=base, headers=SWAP)
    assert refused.status_code == 400, refused.text[-800:]
    assert "was due 2026-03-09, before today (2026-03-16): give it a new due date" in refused.text
    assert '<details class="edit" open>' in refused.text
    assert 'name="due" type="date" value="2026-03-09"' in refused.text
    assert '<option value="youth" selected>' in refused.text
    assert counts(seeded) == before and items(seeded, reference, 2)[EXIT_PLAN][0] == "suggested"
    edited = base | {"owner": "youth", "due": "2026-03-20"}
    assert web.post(f"/cases/{case}/plan/edit", data=edited, headers=SWAP).status_code == 200
    accepted = web.post(f"/cases/{case}/plan/accept", data=base, headers=SWAP)
    assert accepted.status_code == 200 and "Accepted" in accepted.text
    assert items(seeded, reference, 2)[EXIT_PLAN][::2] == ("accepted", date(2026, 3, 20))


def test_a_step_accepted_past_its_date_is_refused_in_the_pages_words(
    seeded: App, clock: FixedClock
) -> None:
    """Refused, with the script or without, beside the due date of the step's own form (open),
    the step named by its wording and what to do there: not ``plan edit``'s flags, not its key;
    nothing written."""
    web, case, csrf, wording = late_step_page(seeded, clock)
    before = counts(seeded)
    for headers in ({}, SWAP):
        refused = web.post(
            f"/cases/{case}/plan/accept",
            data={"csrf": csrf, "version": "2", "item": EXIT_PLAN},
            headers=headers,
        )
        assert refused.status_code == 400, refused.text[-800:]
        assert '<details class="edit" open>' in refused.text
        beside = re.search(
            r'<span class="error" id="f-due-steps-\d+-error">(.*?)</span>', refused.text
        )
        assert beside, refused.text[-3000:]
        said = unescape(beside.group(1))
        assert wording in said and "was due 2026-03-09, before today (2026-03-16)" in said, said
        assert EXIT_PLAN not in said + problems_summary(refused.text)
        assert not [flag for flag in CLI_WORDS if flag in unescape(refused.text)]
    assert counts(seeded) == before


def problems_summary(page: str) -> str:
    """What the page's summary (or the fragment's status) says was not done."""
    found = re.search(r'class="error-summary".*?</div>', page, re.S)
    assert found, page[-1500:]
    return unescape(found.group(0))


# Finalizing refused over suggestions still undecided: said in the finalize form's terms


CLI_WORDS = ("--accept-rest", "--leave-out", "plan accept", "plan edit", "--due", "--no-due")


def said_beside_the_choice(page: str) -> str:
    found = re.search(r'<span class="error" id="f-choice-error">(.*?)</span>', page, re.S)
    assert found, page[-1500:]
    return unescape(found.group(1))


def test_finalize_refused_over_undecided_items_names_them_as_the_page_shows_them(
    seeded: App, worked: tuple[Any, str, str]
) -> None:
    """Leaving out none while suggestions stay undecided is refused beside the form's choice,
    each item by the wording staff see on the page (not its key), in the form's own terms: no
    command-line flag anywhere on the answer, with the script or without; nothing written."""
    web, case, reference = worked
    _, csrf = page_of(web, case)
    waiting = {
        i.key: i.staff_text
        for i in show(seeded, "cw1", reference).items
        if i.state == ItemState.SUGGESTED
    }
    assert len(waiting) > 1
    before = counts(seeded)
    for headers in ({}, SWAP):
        refused = web.post(
            f"/cases/{case}/plan/finalize",
            data={"csrf": csrf, "version": "1", "choice": "leave_out"},
            headers=headers,
        )
        assert refused.status_code == 400, refused.text[-800:]
        said = said_beside_the_choice(refused.text)
        assert all(wording in said for wording in waiting.values()), said
        assert not [key for key in waiting if key in said], said
        assert not [flag for flag in CLI_WORDS if flag in unescape(refused.text)]
    assert counts(seeded) == before


def test_finalize_refused_over_a_step_past_its_date_names_it_as_the_page_shows_it(
    seeded: App, clock: FixedClock
) -> None:
    """Accepting the rest when one of them is a step whose date went by is refused, the step
    named by its wording, with what the page offers: a new date (its own form) or leaving it
    out (ticked below); no command-line flag; nothing written."""
    web, case, csrf, wording = late_step_page(seeded, clock)
    before = counts(seeded)
    refused = web.post(
        f"/cases/{case}/plan/finalize",
        data={"csrf": csrf, "version": "2", "choice": "accept_rest"},
    )
    assert refused.status_code == 400, refused.text[-800:]
    said = said_beside_the_choice(refused.text)
    assert wording in said and "was due 2026-03-09" in said and EXIT_PLAN not in said, said
    assert not [flag for flag in CLI_WORDS if flag in unescape(refused.text)]
    assert counts(seeded) == before


def test_finalize_refused_over_ticked_items_that_stay_names_them_as_the_page_shows_them(
    seeded: App, worked: tuple[Any, str, str]
) -> None:
    """Ticking to leave out what cannot be (the emergency number; a suggestion someone accepted
    after the page was opened) is refused beside the ticks, with the script or without, each
    item by the wording staff see on the page, not its key; nothing written."""
    web, case, reference = worked
    html, csrf = page_of(web, case)
    emergency, decided = "resource:emergency", suggested(html, case)[0]
    taken = {"csrf": csrf, "version": "1", "item": decided}  # since the page was opened
    assert web.post(f"/cases/{case}/plan/accept", data=taken).status_code == 303
    wording = {i.key: i.staff_text for i in show(seeded, "cw1", reference).items}
    before = counts(seeded)
    for headers in ({}, SWAP):
        refused = web.post(
            f"/cases/{case}/plan/finalize",
            data={
                "csrf": csrf,
                "version": "1",
                "choice": "accept_rest",
                "leave_out": [emergency, decided],
            },
            headers=headers,
        )
        assert refused.status_code == 400, refused.text[-800:]
        beside = re.search(r'<span class="error" id="f-leave_out-error">(.*?)</span>', refused.text)
        assert beside, refused.text[-3000:]
        said = unescape(beside.group(1))
        assert wording[emergency] in said and wording[decided] in said, said
        assert not [
            key for key in (emergency, decided) if key in said + problems_summary(refused.text)
        ]
    assert counts(seeded) == before


def test_finalize_refused_keeps_the_items_ticked_to_leave_out(
    seeded: App, worked: tuple[Any, str, str]
) -> None:
    """Refused (leaving out only those ticked while others stay undecided), the finalize form
    comes back with the same boxes ticked and the same choice, with the script or without, so
    sending it again after deciding the rest leaves out what was ticked; nothing written."""
    web, case, _ = worked
    path = f"/cases/{case}/plan/finalize"
    page, _ = page_of(web, case)
    boxes = re.findall(r'name="leave_out" value="([^"]+)">', page)  # not the disabled ones
    assert len(boxes) > 2, boxes
    before = counts(seeded)
    for headers in ({}, SWAP):
        sent = form_fields(page, path) | {"choice": "leave_out", "leave_out": boxes[:2]}
        refused = web.post(path, data=sent, headers=headers)
        assert refused.status_code == 400, refused.text[-1500:]
        kept = form_fields(refused.text, path)
        assert kept["choice"] == "leave_out" and kept["leave_out"] == boxes[:2], kept
    assert counts(seeded) == before


def test_no_item_key_goes_into_a_url(
    seeded: App, clock: FixedClock, worked: tuple[Any, str, str]
) -> None:
    """An item's key says what the youth disclosed and plans (``step:leave.escape_route``, a
    risk's rule), which is why it is kept opaque at rest (``plans.opaque``): the workbench names
    items by their numbers in its URLs (a step's done/undo form, where a decision leads back to),
    so no key reaches a proxy's access log, nor the browser's history. Done by number, a step is
    recorded as by its key, and the fragment answering it is the step's own."""
    web, case, reference = worked
    keys = [k for k in items(seeded, reference) if not k.startswith("emergency")]
    html, csrf = page_of(web, case)
    urls = re.findall(r'(?:action|href)="([^"]+)"', html)
    assert urls and not [u for u in urls if any(k in unescape(u) for k in keys)]
    assert re.search(rf'action="/cases/{case}/steps/\d+/done"', html)
    base = {"csrf": csrf, "version": "1"}
    for what, item in (("accept", suggested(html, case)[0]), ("reject", suggested(html, case)[1])):
        number = str(number_of(seeded, reference, item))
        answer = web.post(
            f"/cases/{case}/plan/{what}", data=base | {"item": item, "number": number}
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/cases/{case}/plan#n-{number}"
        assert f'id="n-{number}"' in web.get(f"/cases/{case}/plan").text
    key = next(k for k in keys if k.startswith("step:"))
    number = str(number_of(seeded, reference, key))
    back = {"csrf": csrf, "back": f"/cases/{case}/plan"}
    done = web.post(f"/cases/{case}/steps/{number}/done", data=back, headers=SWAP)
    assert done.status_code == 200 and "Recorded done" in done.text
    assert f'<li id="item-{key}"' in done.text and f"/steps/{number}/undo" in done.text
    assert next(i for i in show(seeded, "cw1", reference).items if i.key == key).done_at
