"""Starting a cover of a colleague's case from the console, as ``harbour case cover`` does:
offered to a caseworker refused "not assigned to you"; refused without a reason, or for more
hours than the policy allows, writing nothing; once started it is audited, on the timeline, the
supervisors are told through the outbox (never why), and the case opens; it ends from the case
page, as ``case cover --end``. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, CaseCover, OutboxMessage
from harbour.domain.refs import short_form
from tests.cli.helpers import assess_just_left, referred_case
from tests.support import given, invoke
from tests.web.forming import counts, form_fields
from tests.web.helpers import (
    COMMAND_WORDS,
    OTHER_TWOS,
    autofocused,
    client,
    csrf_of,
    refusals,
    signed_in,
)
from tests.web.test_console import refer_south

MARK = "MKCOVER"


@pytest.fixture
def ref(seeded: App, tmp_path: Path) -> str:
    reference = referred_case(seeded, tmp_path, MARK, situation="just_left")
    assess_just_left(seeded, reference, "initial_contact")
    return reference


def written(app: App) -> dict[str, int]:
    """What a cover writes: the cover, the supervisors' notices, and the other rows."""

    def work(uow: Any) -> dict[str, int]:
        return {
            "covers": int(uow.session.scalar(select(func.count()).select_from(CaseCover))),
            "notices": int(
                uow.session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.kind == "cover_started")
                )
            ),
        }

    return counts(app) | app.run(work)


def test_a_caseworker_refused_a_colleagues_case_starts_a_cover_from_the_console(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    web, _ = signed_in(seeded, clock, "cw2")
    case = short_form(ref)
    refused = web.get(f"/cases/{case}")
    assert refused.status_code == 403
    assert f'<a href="/cases/{case}/cover">Start a cover of this case</a>' in refused.text
    form = web.get(f"/cases/{case}/cover")
    assert form.status_code == 200 and "Cover a colleague" in form.text
    assert 'value="8"' in form.text and "From 1 to 72" in form.text  # the policy's
    csrf = csrf_of(web, f"/cases/{case}/cover")
    before = written(seeded)

    bad = {
        "no reason": ({"reason": "  ", "hours": "4"}, "reason", "say why you cover the case"),
        "too long": ({"reason": f"{MARK} away", "hours": "73"}, "hours", "from 1 to 72"),
        "no hours": ({"reason": f"{MARK} away", "hours": "0"}, "hours", "from 1 to 72"),
        "not a number": ({"reason": f"{MARK} away", "hours": "4.5"}, "hours", "a whole number"),
        "NUL": ({"reason": f"{MARK}\x00", "hours": "4"}, "reason", ""),
        "1 MB": ({"reason": "x" * 1_000_000, "hours": "4"}, "reason", ""),
    } | {
        f"other digits {two!a}": ({"reason": f"{MARK} away", "hours": two}, "hours", "whole number")
        for two in OTHER_TWOS
    }
    for name, (fields, field, message) in bad.items():
        answer = web.post(f"/cases/{case}/cover", data={"csrf": csrf} | fields)
        assert answer.status_code == 400, name
        assert f'id="f-{field}-error"' in answer.text, (name, answer.text[-1500:])
        assert str(escape(message)) in answer.text, name
        assert written(seeded) == before, name
    assert web.post(f"/cases/{case}/cover", data={"reason": "away", "hours": "4"}).status_code == (
        403
    )  # no CSRF token
    assert written(seeded) == before

    started = web.post(
        f"/cases/{case}/cover",
        data={"csrf": csrf, "reason": f"{MARK} cw1 is off sick", "hours": "4"},
    )
    assert started.status_code == 303 and started.headers["location"] == f"/cases/{case}"
    page = web.get(f"/cases/{case}")
    assert page.status_code == 200 and "Covered by</dt><dd>cw2" in page.text
    assert MARK not in page.text
    after = written(seeded)
    assert after["covers"] == before["covers"] + 1 and after["notices"] > before["notices"]
    starts = seeded.run(
        lambda uow: [
            (r.actor_handle, r.details)
            for r in uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "case.cover.start")
            )
        ]
    )
    assert starts == [("cw2", {"hours": 4})]
    notices = seeded.run(
        lambda uow: [
            (r.recipient, r.context)
            for r in uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "cover_started")
            )
        ]
    )
    assert {recipient for recipient, _ in notices} == {"sup"}
    assert all(MARK not in repr(context) for _, context in notices)
    sealed = seeded.run(lambda uow: uow.session.scalars(select(CaseCover.reason_sealed)).all())
    assert sealed and all(MARK not in (s or "") for s in sealed)

    again = web.post(f"/cases/{case}/cover", data={"csrf": csrf, "reason": "again", "hours": "2"})
    assert again.status_code == 400 and "you cover the case already" in again.text
    assert written(seeded)["covers"] == after["covers"]


def test_a_refused_cover_says_why_in_the_pages_words(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    # No reason, and another cover asked for once the cover started (a form without the first's
    # key): each was refused in the command line's words, "(@FILE or -)" beside the reason and
    # "end that cover first (--end)" above the form.
    web, _ = signed_in(seeded, clock, "cw2")
    path = f"/cases/{short_form(ref)}/cover"
    csrf = csrf_of(web, path)
    before = written(seeded)
    bare = web.post(path, data={"csrf": csrf, "reason": "", "hours": "8"})
    assert bare.status_code == 400 and written(seeded) == before
    said = refusals(bare.text)
    assert 'id="f-reason-error">say why you cover the case</span>' in bare.text, said
    assert not COMMAND_WORDS.search(said), said
    assert '<a href="#f-reason">Why you cover the case</a>: ' in bare.text  # its label
    both = web.post(path, data={"csrf": csrf, "reason": " ", "hours": "4.5"})  # each beside its own
    assert 'id="f-reason-error"' in both.text and 'id="f-hours-error"' in both.text
    fields = {"csrf": csrf, "reason": f"{MARK} cw1 is off sick", "hours": "8"}
    assert web.post(path, data=fields).status_code == 303
    after = written(seeded)
    again = web.post(path, data=fields)
    assert again.status_code == 400 and written(seeded) == after
    said = refusals(again.text)
    assert "you cover the case already" in said and "End my cover now" in said, said
    assert not COMMAND_WORDS.search(said), said


def actions(app: App, prefix: str) -> list[str]:
    return app.run(
        lambda uow: list(
            uow.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.startswith(prefix), AuditEvent.outcome == "ok")
                .order_by(AuditEvent.seq)
            )
        )
    )


def test_a_cover_form_sent_twice_starts_one_cover_and_says_so_twice(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    # A double click, or a slow network and a second click: the second post was answered "No
    # cover started: you cover the case already" though the first had started it. The form's
    # key makes the second the first (audited as a replay); with other values, or from a fresh
    # form while the cover runs, it is still refused; once that cover ended, it starts nothing.
    web, _ = signed_in(seeded, clock, "cw2")
    case = short_form(ref)
    path = f"/cases/{case}/cover"
    form = form_fields(web.get(path).text, path) | {"reason": f"{MARK} away", "hours": "4"}
    assert form.get("idempotency_key")
    first = web.post(path, data=form)
    assert first.status_code == 303, refusals(first.text)
    once = written(seeded)
    second = web.post(path, data=form)
    assert second.status_code == 303, refusals(second.text)
    assert second.headers["location"] == first.headers["location"] == f"/cases/{case}"
    # Answered as the first, with the replay's row only: not the case's access row again.
    replayed = once | {"audit_ok": once["audit_ok"] + 1}
    assert written(seeded) == replayed
    assert actions(seeded, "case.cover") == [
        "case.cover",
        "case.cover.start",
        "case.cover.start.replayed",
    ]

    other = web.post(path, data=form | {"hours": "2"})
    assert other.status_code == 400 and "already submitted with other values" in refusals(
        other.text
    )
    fresh = form_fields(web.get(path).text, path) | {"reason": f"{MARK} away", "hours": "4"}
    assert fresh["idempotency_key"] != form["idempotency_key"]
    again = web.post(path, data=fresh)
    assert again.status_code == 400 and "you cover the case already" in refusals(again.text)
    assert written(seeded) == replayed

    csrf = csrf_of(web, f"/cases/{case}")
    assert web.post(f"/cases/{case}/cover/end", data={"csrf": csrf}).status_code == 303
    ended = written(seeded)
    late = web.post(path, data=form)  # back, then the same form sent again: nothing running
    assert late.status_code == 400 and written(seeded) == ended
    said = refusals(late.text)
    assert "sent before" in said and "open it again" in said, said
    assert not COMMAND_WORDS.search(said), said
    assert running(seeded) == 0


def test_a_cover_is_refused_where_it_is_not_needed_or_not_theirs(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    case = short_form(ref)
    form = {"reason": f"{MARK} away", "hours": "4"}
    theirs = short_form(refer_south(seeded).reference)
    staff = {handle: signed_in(seeded, clock, handle)[0] for handle in ("cw1", "sup", "cw2")}
    tokens = {handle: csrf_of(web) for handle, web in staff.items()}
    before = written(seeded)  # signed in: what the refusals must not add to
    for handle, needed in (("cw1", "assigned to you"), ("sup", "supervisors act on every case")):
        answer = staff[handle].post(f"/cases/{case}/cover", data=form | {"csrf": tokens[handle]})
        assert answer.status_code == 400 and needed in answer.text, handle
    foreign = staff["cw2"].post(f"/cases/{theirs}/cover", data=form | {"csrf": tokens["cw2"]})
    assert foreign.status_code == 404 and MARK not in foreign.text
    assert written(seeded) == before
    assert client(seeded).get(f"/cases/{case}/cover").status_code == 303  # signed out


def ends(app: App) -> list[tuple[str | None, dict[str, Any]]]:
    return app.run(
        lambda uow: [
            (r.actor_handle, r.details)
            for r in uow.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "case.cover.end", AuditEvent.outcome == "ok")
                .order_by(AuditEvent.seq)
            )
        ]
    )


def running(app: App) -> int:
    return int(
        app.run(
            lambda uow: uow.session.scalar(
                select(func.count()).select_from(CaseCover).where(CaseCover.ended_at.is_(None))
            )
        )
    )


def test_a_cover_ends_from_the_case_page_as_case_cover_end_does(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    """The one covering ends theirs (and the case leaves their caseload), a supervisor every
    cover of the case; the same service, audit row and timeline entry as ``case cover --end``;
    a refusal (no cover running) beside the button, writing nothing; CSRF checked; refused to a
    coordinator and on another agency's case."""
    case = short_form(ref)
    path = f"/cases/{case}"
    cw2, _ = signed_in(seeded, clock, "cw2")
    csrf = csrf_of(cw2, f"{path}/cover")
    cw2.post(f"{path}/cover", data={"csrf": csrf, "reason": f"{MARK} away", "hours": "4"})
    page = cw2.get(path).text
    assert f'action="/cases/{case}/cover/end"' in page and "End my cover now" in page
    before = counts(seeded)
    assert cw2.post(f"{path}/cover/end", data={}).status_code == 403  # no CSRF token
    assert running(seeded) == 1 and counts(seeded) == before
    ended = cw2.post(f"{path}/cover/end", data={"csrf": csrf})
    assert ended.status_code == 303 and ended.headers["location"] == "/"
    assert running(seeded) == 0 and ends(seeded) == [("cw2", {"caseworker": "cw2"})]
    assert cw2.get(path).status_code == 403  # not theirs any more
    again = cw2.post(f"{path}/cover/end", data={"csrf": csrf})
    assert again.status_code == 409 and "no cover of this case is running" in again.text

    # A supervisor ends a colleague's cover (started here by the CLI) from the same page.
    reason = given(f"{MARK} off sick")
    assert invoke(seeded, "case", "cover", ref, "--reason", reason, "--as", "cw2").exit_code == 0
    sup, _ = signed_in(seeded, clock, "sup")
    coord, _ = signed_in(seeded, clock, "coord")
    page = sup.get(path).text
    assert "End the cover now" in page and "cw2 no longer sees the case" in page
    assert "/cover/end" not in coord.get(path).text
    theirs = short_form(refer_south(seeded).reference)
    tokens = {"coord": csrf_of(coord), "sup": csrf_of(sup)}  # the caseload: a read, audited
    before = counts(seeded)
    refused = coord.post(f"{path}/cover/end", data={"csrf": tokens["coord"]})
    assert refused.status_code == 403 and running(seeded) == 1
    foreign = sup.post(f"/cases/{theirs}/cover/end", data={"csrf": tokens["sup"]})
    assert foreign.status_code == 404 and counts(seeded) == before
    done = sup.post(f"{path}/cover/end", data={"csrf": tokens["sup"]})
    assert done.status_code == 303 and done.headers["location"] == path
    assert running(seeded) == 0
    after = sup.get(path).text
    assert "Covered by" not in after and "cover ended" in after  # on the timeline
    before = counts(seeded)
    stale = sup.post(f"{path}/cover/end", data={"csrf": tokens["sup"]})  # a second click
    assert stale.status_code == 409
    assert "Not done: no cover" in stale.text
    [said] = autofocused(stale.text)  # the reason takes the focus
    assert 'id="f-end-cover-error"' in said and 'tabindex="-1"' in said, said
    assert counts(seeded) == before and ends(seeded)[1:] == [("sup", {"caseworker": "cw2"})]

    # The CLI's own end writes the same row.
    assert invoke(seeded, "case", "cover", ref, "--reason", reason, "--as", "cw2").exit_code == 0
    assert invoke(seeded, "case", "cover", ref, "--end", "--as", "sup").exit_code == 0
    assert ends(seeded)[2:] == [("sup", {"caseworker": "cw2"})]
