"""Saving an assessment as a draft, over HTTP: the answers given so far kept for their author
(sealed, one per case, point and author, replaced by a later save), shown again when they open
the same assessment and to nobody else, refused and unwritten when an answer is not one the
instrument takes, removed when the assessment is submitted; submitting still checks every
answer; the case page says that it exists to those who may assess the case. Each test runs on
SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import AssessmentDraft, AuditEvent
from harbour.domain.refs import short_form
from tests.notify.helpers import new_case
from tests.support import given, invoke
from tests.web.forming import counts
from tests.web.helpers import OTHER_TWOS, signed_in
from tests.web.test_assessment import answered, form_of, opened
from tests.web.test_console import refer_south

WORRY = "DraftCanary7 worried about the weekend"


def drafts(app: App) -> list[tuple[str, str | None]]:
    """Each draft's point and sealed answers (the raw column: a token, never the text)."""
    query = select(AssessmentDraft.point, AssessmentDraft.answers_sealed)
    return [tuple(row) for row in app.run(lambda uow: uow.session.execute(query).all())]


def unchanged(app: App, before: dict[str, int]) -> bool:
    """Nothing of the case written by a draft: its audit row aside (the form's reads too)."""
    return counts(app) | {"audit_ok": 0} == before | {"audit_ok": 0}


def test_a_draft_is_saved_reloaded_replaced_and_cleared_by_the_submission(
    seeded: App, clock: FixedClock
) -> None:
    case = short_form(new_case(seeded).reference)
    web, _ = signed_in(seeded, clock, "cw1")
    fields = form_of(web, case, "initial_contact")
    before = counts(seeded)
    partial = {"answers.immediate_danger": "no", "answers.youth_worries": WORRY}
    saved = web.post(f"/cases/{case}/assess", data=fields | partial | {"save_draft": "1"})
    assert saved.status_code == 200  # the form again, from the draft: no URL names the point
    [(point, token)] = drafts(seeded)
    assert point == "initial_contact" and token and "Canary" not in token
    assert unchanged(seeded, before)  # no assessment, plan, lifecycle event: a draft only

    page = saved.text
    assert "Your draft, saved" in page and "2 answers given so far" in page
    assert 'name="answers.immediate_danger" value="no" checked' in page
    assert WORRY in page

    again = {"answers.immediate_danger": "no", "answers.violence": "yes"}
    web.post(f"/cases/{case}/assess", data=fields | again | {"save_draft": "1"})
    [(_, token2)] = drafts(seeded)  # replaced, not a second draft
    assert token2 != token
    page = opened(web, case, "initial_contact").text
    assert WORRY not in page and 'name="answers.violence" value="yes" checked' in page

    details = seeded.run(
        lambda uow: uow.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "assessment.draft")
        ).all()
    )
    assert details == [{"point": "initial_contact", "answered": 2}] * 2  # no answer in audit

    # Submitting still checks every answer: the draft's two are not enough.
    short = web.post(f"/cases/{case}/assess", data=fields | again)
    assert short.status_code == 400 and "is required" in short.text
    assert len(drafts(seeded)) == 1
    done = web.post(f"/cases/{case}/assess", data=fields | answered(seeded))
    assert done.status_code == 200 and "Assessment recorded" in done.text
    assert drafts(seeded) == []


def test_bad_draft_answers_are_refused_and_write_nothing(seeded: App, clock: FixedClock) -> None:
    case = short_form(new_case(seeded).reference)
    web, _ = signed_in(seeded, clock, "cw1")
    fields = form_of(web, case, "initial_contact")
    web.post(f"/cases/{case}/assess", data=fields | {"answers.violence": "no", "save_draft": "1"})
    kept, before = drafts(seeded), counts(seeded)
    for changed, field in (
        ({"answers.immediate_danger": "maybe"}, "answers-immediate_danger"),
        ({"answers.network_reach": "9"}, "answers-network_reach"),
        ({"answers.network_reach": "\x00"}, "answers-network_reach"),
        *(({"answers.network_reach": two}, "answers-network_reach") for two in OTHER_TWOS),
        ({"answers.youth_worries": "x" * 1_000_000}, "answers-youth_worries"),
        ({"answers.youth_worries": "a\x00b"}, "answers-youth_worries"),
    ):
        refused = web.post(f"/cases/{case}/assess", data=fields | changed | {"save_draft": "1"})
        assert refused.status_code == 400 and f'id="f-{field}-error"' in refused.text, changed
    empty = web.post(f"/cases/{case}/assess", data=fields | {"save_draft": "1"})
    assert empty.status_code == 400 and "at least one question" in empty.text
    no_csrf = {k: v for k, v in fields.items() if k != "csrf"}
    stale = web.post(
        f"/cases/{case}/assess", data=no_csrf | {"answers.violence": "yes", "save_draft": "1"}
    )
    assert stale.status_code == 403
    moon = web.post(f"/cases/{case}/assess", data=fields | {"point": "moon", "save_draft": "1"})
    assert moon.status_code == 400
    assert drafts(seeded) == kept and counts(seeded) == before


def test_a_draft_is_its_authors_alone(seeded: App, clock: FixedClock) -> None:
    case = short_form(new_case(seeded).reference)
    web, _ = signed_in(seeded, clock, "cw1")
    fields = form_of(web, case, "initial_contact")
    draft = {"answers.youth_worries": WORRY, "save_draft": "1"}
    assert web.post(f"/cases/{case}/assess", data=fields | draft).status_code == 200

    sup, _ = signed_in(seeded, clock, "sup")  # may assess the case, but the draft is cw1's
    theirs = opened(sup, case, "initial_contact")
    assert theirs.status_code == 200 and WORRY not in theirs.text
    assert "Your draft" not in theirs.text

    other, _ = signed_in(seeded, clock, "cw2")  # not assigned to them: refused, as assessing is
    assert opened(other, case, "initial_contact").status_code == 403
    fields2 = form_of(other, short_form(new_case(seeded, caseworker="cw2").reference), "incident")
    saved = other.post(f"/cases/{case}/assess", data=fields2 | draft)
    assert saved.status_code == 403

    south = short_form(refer_south(seeded).reference)  # another agency's case: not found
    assert opened(web, south, "initial_contact").status_code == 404
    assert web.post(f"/cases/{south}/assess", data=fields | draft).status_code == 404
    assert len(drafts(seeded)) == 1


def test_the_case_page_says_a_draft_exists_to_those_who_may_assess_it(
    seeded: App, clock: FixedClock
) -> None:
    """Its point, when and by whom, never its answers; its author presses its button to
    continue it (a POST: the point is in no URL); others who may assess the case (a supervisor,
    a colleague covering it) see that it is there, not a way into it; a coordinator, who may
    not assess, does not see it at all."""
    reference = new_case(seeded).reference
    case = short_form(reference)
    web, _ = signed_in(seeded, clock, "cw1")
    fields = form_of(web, case, "initial_contact")
    draft = {"answers.youth_worries": WORRY, "save_draft": "1"}
    assert web.post(f"/cases/{case}/assess", data=fields | draft).status_code == 200

    said = re.compile(
        r"A draft of the initial contact assessment saved \d{4}-\d\d-\d\d \d\d:\d\d \S+ by cw1: "
    )
    button = '<input type="hidden" name="point" value="initial_contact">'  # "continue it"'s form
    page = web.get(f"/cases/{case}").text
    assert said.search(page) and button in page and WORRY not in page
    assert "Your draft, saved" in opened(web, case, "initial_contact").text

    sup, _ = signed_in(seeded, clock, "sup")
    theirs = sup.get(f"/cases/{case}").text
    assert said.search(theirs) and "only they can continue it" in theirs
    assert button not in theirs and WORRY not in theirs
    reason = given("MKREASON away")
    assert (
        invoke(seeded, "case", "cover", reference, "--reason", reason, "--as", "cw2").exit_code == 0
    )
    covering, _ = signed_in(seeded, clock, "cw2")
    assert said.search(covering.get(f"/cases/{case}").text)
    coord, _ = signed_in(seeded, clock, "coord")
    summary = coord.get(f"/cases/{case}")
    assert summary.status_code == 200 and "A draft of" not in summary.text

    done = web.post(f"/cases/{case}/assess", data=fields | answered(seeded))
    assert done.status_code == 200 and "A draft of" not in web.get(f"/cases/{case}").text
