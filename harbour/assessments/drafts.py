"""Saving an assessment's answers as a draft, to come back to: the answers given so far, each
checked as a submission checks it (required ones may still be missing), sealed like submitted
answers, one per case, point and author (a later save replaces it). A draft is its author's
alone: the person who saved it sees it again when they open the same assessment, nobody else
does. Submitting the assessment removes the drafts of its point (``submit._store``) and still
validates every answer. A draft is never sent to Prefect, a lifecycle event or a log: its audit
row says the point and how many answers, no more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from harbour.access import Actor, agency_zone, audit, on_case
from harbour.app import App, UnitOfWork
from harbour.assessments.submit import CHECKED, parse_point
from harbour.cases import schedule
from harbour.cases import transitions as lifecycle
from harbour.clock import local_time
from harbour.db.models import AssessmentDraft, Case
from harbour.domain.risk import validate_answers
from harbour.errors import InvalidInput


@dataclass(frozen=True)
class Draft:
    """A draft as its author gets it back: the answers as the form shows them (text), and when
    it was saved, in the agency's time."""

    point: str
    answers: tuple[tuple[str, str], ...]  # (question id, answer)
    saved_at: datetime
    saved_local: str

    @property
    def answered(self) -> int:
        return len(self.answers)


def save_draft(app: App, actor_handle: str | None, ref: str, point: str, answers: object) -> Draft:
    """Save (or replace) the actor's draft of the case's assessment at ``point``; refused, and
    nothing written, when an answer given is not one the instrument takes or none is given."""
    at = parse_point(point)
    structured, free_text = validate_answers(app.reference.instrument, answers, partial=True)
    given = {qid: str(value) for qid, value in {**structured, **free_text}.items()}
    if not given:
        raise InvalidInput([("answers", "answer at least one question to save a draft")])

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Draft:
        lifecycle.check_point(uow, case, at)
        draft = _draft_of(uow, actor, case, at)
        now = uow.now()
        if draft is None:
            draft = AssessmentDraft(case_id=case.id, point=at, author_id=actor.staff_id)
        draft.assessment_id = next(
            (a.id for a in schedule.open_assessments(uow, case) if a.point == at), None
        )
        draft.saved_at = now
        uow.session.add(draft)
        uow.session.flush()  # its id binds the sealed value to this row
        uow.seal(draft, "answers", json.dumps(given, sort_keys=True))
        audit(uow, actor, "assessment.draft", case.id, point=at.value, answered=len(given))
        return _shown(uow, case, draft, given)

    return on_case(app, actor_handle, ref, "case.assess", work)


def open_draft(app: App, actor_handle: str | None, ref: str, point: str) -> Draft | None:
    """Before the form opens: may this actor assess this case at this point (as
    ``submit.check_can_assess``)? Then their own draft of it, if they saved one."""
    at = parse_point(point)

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Draft | None:
        lifecycle.check_point(uow, case, at)
        draft = _draft_of(uow, actor, case, at)
        if draft is None:
            return None
        given = json.loads(uow.unseal(draft, "answers") or "{}")
        audit(uow, actor, "assessment.draft.read", case.id, point=at.value)
        return _shown(uow, case, draft, given)

    return on_case(app, actor_handle, ref, "case.assess", work, recorded_as=CHECKED)


def _draft_of(uow: UnitOfWork, actor: Actor, case: Case, point: str) -> AssessmentDraft | None:
    return uow.session.scalar(
        select(AssessmentDraft).where(
            AssessmentDraft.case_id == case.id,
            AssessmentDraft.point == point,
            AssessmentDraft.author_id == actor.staff_id,
        )
    )


def _shown(uow: UnitOfWork, case: Case, draft: AssessmentDraft, given: dict[str, str]) -> Draft:
    zone = agency_zone(uow, case.agency_id)
    answers = tuple(sorted(given.items()))
    return Draft(draft.point, answers, draft.saved_at, local_time(draft.saved_at, zone))
