"""A youth who goes missing: the episode, its reporting steps, and the return.

``report_missing`` records when the youth was last seen and opens the steps the law asks for
(a law-enforcement report, a report to NCMEC, the supervisor told), each due the policy's
``missing_report_within`` after the youth was last seen; the alerts as those deadlines near and
pass come from ``harbour.notify.missing_alerts``. ``record_step`` marks a step done (a report's
number, sealed, with it). ``report_return`` closes the episode and opens a ``just_left``
assessment (the return screening) due within ``return_assessment_within``: a youth back from
running away has just left wherever they were, and the instrument's return questions and the
after-leaving strategies are asked and offered at that point. ``withdraw_episode`` is a
supervisor's way out of an episode recorded in error (the wrong case, a mistyped last-seen time):
kept, with its reason sealed, no longer open, its alerts taken, and no return screening.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from harbour import events
from harbour.access import Actor, agency_zone, audit, on_case
from harbour.app import App, UnitOfWork
from harbour.cases import schedule
from harbour.clock import local_time
from harbour.db.models import Alert, Assessment, Case, MissingEpisode, MissingStep, Staff
from harbour.domain import refs
from harbour.domain.moments import parse_moment
from harbour.domain.text import Note, check_line
from harbour.domain.vocab import AssessmentPoint, AssessmentStatus, CaseStatus, MissingStepKind
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.notify import missing_alerts
from harbour.validation import parse

REPORTED = (MissingStepKind.LAW_ENFORCEMENT, MissingStepKind.NCMEC)  # steps with a number
NUMBER_MAX = 60


class _WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    reason: Note


@dataclass(frozen=True)
class StepView:
    step: str
    due_at: datetime
    done_at: datetime | None
    done_by: str | None
    has_report_number: bool


@dataclass(frozen=True)
class EpisodeView:
    """A missing episode as staff see it: operational values only (report numbers stay
    sealed; `harbour case show` shows them)."""

    id: str
    case_reference: str
    last_seen_at: datetime
    returned_at: datetime | None
    steps: tuple[StepView, ...]
    alerts: tuple[str, ...]  # the alerts this command opened or took
    assessment_due_at: datetime | None
    zone: ZoneInfo
    owner: str | None = None  # who does the steps: the case's caseworker (None: its supervisors)
    withdrawn_at: datetime | None = None  # withdrawn as recorded in error

    def as_json(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "episode": self.id,
            "case": self.case_reference,
            "last_seen_at": moment(self.last_seen_at),
            "returned_at": moment(self.returned_at),
            "steps": [
                {
                    "step": s.step,
                    "due_at": moment(s.due_at),
                    "done_at": moment(s.done_at),
                    "done_by": s.done_by,
                    "report_number_recorded": s.has_report_number,
                }
                for s in self.steps
            ],
            "alerts": list(self.alerts),
            "assessment_due_at": moment(self.assessment_due_at),
            "withdrawn_at": moment(self.withdrawn_at),
        }

    def local(self, moment: datetime | None) -> str:
        return local_time(moment, self.zone) if moment else "-"


def report_missing(app: App, actor_handle: str | None, ref: str, since: str) -> EpisodeView:
    """Record that the youth has been missing since ``since`` (when last seen); refused while
    an episode is open or the case is closed."""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> EpisodeView:
        zone = agency_zone(uow, case.agency_id)
        last_seen = _moment(since, zone, uow.now(), "--since")
        if case.status == CaseStatus.CLOSED:
            raise Conflict("case_closed", "the case is closed: reopen it first")
        if open_episode(uow, case) is not None:
            raise Conflict("missing_open", "the youth is already recorded missing")
        episode = MissingEpisode(
            case_id=case.id,
            last_seen_at=last_seen,
            recorded_at=uow.now(),
            recorded_by_id=actor.staff_id,
        )
        uow.session.add(episode)
        uow.session.flush()
        due = last_seen + uow.reference.policy.missing_report_within.delta
        uow.session.add_all(
            MissingStep(episode_id=episode.id, step=kind.value, due_at=due)
            for kind in MissingStepKind
        )
        uow.session.flush()
        audit(uow, actor, "case.missing", case.id, episode_id=episode.id)
        events.record_new(uow, case.id, events.MISSING_OPENED, episode.id)
        missing_alerts.raise_due(uow, uow.now(), episode.id)
        opened = missing_alerts_of(uow, episode.id)
        return _view(uow, case, episode, zone, opened)

    return on_case(app, actor_handle, ref, "case.missing", work)


def record_step(
    app: App, actor_handle: str | None, ref: str, step: str, report_number: str | None = None
) -> EpisodeView:
    """Mark a step of the open episode done, now, by the actor (a report's number with it);
    once every step is done, the episode's alerts stop. A step already recorded is refused
    (who recorded it, and when, and its report number stay as they were)."""
    kind = _step_kind(step)
    number = _report_number(kind, report_number)

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> EpisodeView:
        episode = open_episode(uow, case)
        if episode is None:
            raise NotFound("no_missing_episode", "the youth is not recorded missing")
        row = uow.session.scalars(
            select(MissingStep).where(
                MissingStep.episode_id == episode.id, MissingStep.step == kind.value
            )
        ).one()
        if row.done_at is not None:  # recorded once: a second never overwrites the first
            by = uow.session.scalar(select(Staff.handle).where(Staff.id == row.done_by_id))
            when = local_time(row.done_at, agency_zone(uow, case.agency_id))
            raise Conflict(
                "step_done", f"{kind.value} was recorded done by {by} at {when}; nothing changed"
            )
        row.done_at, row.done_by_id = uow.now(), actor.staff_id
        if number is not None:
            uow.seal(row, "report_number", number)
        uow.session.flush()
        audit(uow, actor, "case.missing.step", case.id, episode_id=episode.id, step=kind.value)
        taken: list[str] = []
        if all(s.done_at is not None for s in _steps(uow, episode)):
            taken = missing_alerts.settle(uow, episode.id, actor.handle)
        return _view(uow, case, episode, agency_zone(uow, case.agency_id), taken)

    return on_case(app, actor_handle, ref, "case.missing", work)


def report_return(app: App, actor_handle: str | None, ref: str, at: str) -> EpisodeView:
    """The youth is back (at ``at``): the episode closes, its alerts stop, and a ``just_left``
    assessment (return screening) is opened, due within the policy's 72 hours of the return."""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> EpisodeView:
        zone = agency_zone(uow, case.agency_id)
        back = _moment(at, zone, uow.now(), "--at")
        episode = open_episode(uow, case)
        if episode is None:
            raise NotFound("no_missing_episode", "the youth is not recorded missing")
        if back < episode.last_seen_at:
            raise InvalidInput([("--at", "is before the youth was last seen")])
        episode.returned_at, episode.returned_by_id = back, actor.staff_id
        due = back + uow.reference.policy.return_assessment_within.delta
        assessment = schedule.open_assessment(uow, case, AssessmentPoint.JUST_LEFT, due)
        episode.assessment_id = assessment.id
        audit(uow, actor, "case.returned", case.id, episode_id=episode.id)
        events.record(uow, case.id, events.MISSING_CLOSED, episode.id)
        taken = missing_alerts.settle(uow, episode.id, actor.handle)
        return _view(uow, case, episode, zone, taken, assessment.due_at)

    return on_case(app, actor_handle, ref, "case.missing", work)


def withdraw_episode(
    app: App, actor_handle: str | None, ref: str, reason: str | None
) -> EpisodeView:
    """A supervisor withdraws the open episode as recorded in error, with a reason (sealed):
    it is kept, no longer open, its alerts are taken, and no return screening is opened.
    Refused, changing nothing, without a reason or when no episode is open."""
    if not reason or not reason.strip():
        raise InvalidInput([("--reason", "say why the episode was recorded in error")])
    data = parse(_WithdrawIn, {"reason": reason}, prefix="--")

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> EpisodeView:
        episode = open_episode(uow, case)
        if episode is None:
            raise NotFound(
                "no_missing_episode", "the youth is not recorded missing: nothing to withdraw"
            )
        episode.withdrawn_at, episode.withdrawn_by_id = uow.now(), actor.staff_id
        uow.seal(episode, "withdrawn_reason", data.reason)
        uow.session.flush()
        audit(uow, actor, "case.missing.withdraw", case.id, episode_id=episode.id)
        events.record(uow, case.id, events.MISSING_CLOSED, episode.id)
        taken = missing_alerts.settle(uow, episode.id, actor.handle)
        return _view(uow, case, episode, agency_zone(uow, case.agency_id), taken)

    return on_case(app, actor_handle, ref, "case.missing.withdraw", work)


def current_episode(app: App, actor_handle: str | None, ref: str) -> EpisodeView | None:
    """The case's open episode and its steps (report numbers stay sealed: whether one was
    recorded only), for those who work the case; None when the youth is not missing. Audited
    on the case as ``case.missing.read``."""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> EpisodeView | None:
        episode = open_episode(uow, case)
        if episode is None:
            return None
        zone = agency_zone(uow, case.agency_id)
        return _view(uow, case, episode, zone, missing_alerts_of(uow, episode.id))

    return on_case(app, actor_handle, ref, "case.missing.read", work)


def open_episode(uow: UnitOfWork, case: Case) -> MissingEpisode | None:
    return uow.session.scalar(
        select(MissingEpisode).where(MissingEpisode.case_id == case.id, MissingEpisode.still_open())
    )


def open_return_screening(uow: UnitOfWork, case: Case) -> Assessment | None:
    """The case's return screening not yet done: the open assessment a return opened."""
    return uow.session.scalar(
        select(Assessment)
        .join(MissingEpisode, MissingEpisode.assessment_id == Assessment.id)
        .where(Assessment.case_id == case.id, Assessment.status == AssessmentStatus.OPEN)
        .limit(1)
    )


def missing_alerts_of(uow: UnitOfWork, episode_id: str) -> list[str]:
    return list(
        uow.session.scalars(
            select(Alert.id)
            .where(Alert.kind.in_(missing_alerts.KINDS), Alert.source_id == episode_id)
            .order_by(Alert.opened_at, Alert.kind)
        )
    )


def _moment(text: str, zone: ZoneInfo, now: datetime, option: str) -> datetime:
    try:
        return parse_moment(text, zone, now, "past")
    except ValueError as exc:
        raise InvalidInput([(option, str(exc))]) from None


def _step_kind(step: str) -> MissingStepKind:
    try:
        return MissingStepKind(step)
    except ValueError:
        known = ", ".join(MissingStepKind)
        raise InvalidInput([("STEP", f"one of: {known}")]) from None


def _report_number(kind: MissingStepKind, number: str | None) -> str | None:
    if number is None or number == "":
        return None
    if kind not in REPORTED:
        raise InvalidInput([("--report-number", "only for law_enforcement and ncmec")])
    try:
        return check_line(number, NUMBER_MAX)
    except ValueError as exc:
        raise InvalidInput([("--report-number", str(exc))]) from None


def _steps(uow: UnitOfWork, episode: MissingEpisode) -> list[MissingStep]:
    return list(
        uow.session.scalars(
            select(MissingStep)
            .where(MissingStep.episode_id == episode.id)
            .order_by(MissingStep.due_at, MissingStep.step)
        )
    )


def _view(
    uow: UnitOfWork,
    case: Case,
    episode: MissingEpisode,
    zone: ZoneInfo,
    alerts: list[str],
    assessment_due_at: datetime | None = None,
) -> EpisodeView:
    steps = _steps(uow, episode)
    ids = {s.done_by_id for s in steps if s.done_by_id}
    found = uow.session.execute(select(Staff.id, Staff.handle).where(Staff.id.in_(ids)))
    handles = {staff_id: handle for staff_id, handle in found}
    order = list(MissingStepKind)
    owner = uow.session.get(Staff, case.caseworker_id) if case.caseworker_id else None
    return EpisodeView(
        id=episode.id,
        case_reference=refs.short_form(case.reference),
        last_seen_at=episode.last_seen_at,
        returned_at=episode.returned_at,
        steps=tuple(
            StepView(
                s.step,
                s.due_at,
                s.done_at,
                handles.get(s.done_by_id or ""),
                s.report_number_sealed is not None,
            )
            for s in sorted(steps, key=lambda s: order.index(MissingStepKind(s.step)))
        ),
        alerts=tuple(alerts),
        assessment_due_at=assessment_due_at,
        zone=zone,
        owner=owner.handle if owner else None,
        withdrawn_at=episode.withdrawn_at,
    )
