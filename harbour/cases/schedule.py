"""When a case's assessments fall due: opening them, re-timing them, and the dry run.

A case that is open always has its next assessment open (status ``open`` with ``due_at``), so
reminders can fire before it is due: the periodic ``planning_meeting`` assessment while the case
is open (due at the earlier of the risk level's interval after the last assessment and the
planning-meeting interval after the last meeting), and the next ``follow_up`` after discharge
(due by the policy, counted from the discharge). ``case.next_due_at`` is the earliest open due.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select, union_all

from harbour import events
from harbour.access import Actor, agency_zone, may, on_case
from harbour.app import App, UnitOfWork
from harbour.clock import local_time
from harbour.db.models import Assessment, Case, LifecycleEvent, ReminderMark
from harbour.domain.policy import (
    ESCALATION,
    Policy,
    follow_up_dues,
    initial_contact_due,
    next_due,
    planning_meeting_due,
    reminder_times,
)
from harbour.domain.vocab import AssessmentPoint, AssessmentStatus, CaseStatus, RiskLevel
from harbour.errors import InvalidInput
from harbour.notify.hooks import overdue_work_gone
from harbour.notify.reminders import fired, forget_marks

P = AssessmentPoint
OPEN_CASE = (CaseStatus.ACTIVE, CaseStatus.REOPENED, CaseStatus.DISCHARGE_PENDING)
NEEDS_NEXT = (*OPEN_CASE, CaseStatus.DISCHARGED)  # cases that always have an assessment open
MEETINGS = (P.INITIAL_CONTACT, P.PLANNING_MEETING)  # what the planning cadence counts from


def open_assessments(uow: UnitOfWork, case: Case) -> list[Assessment]:
    return list(
        uow.session.scalars(
            select(Assessment)
            .where(Assessment.case_id == case.id, Assessment.status == AssessmentStatus.OPEN)
            .order_by(Assessment.due_at, Assessment.id)
        )
    )


def open_assessment(
    uow: UnitOfWork, case: Case, point: AssessmentPoint, due_at: datetime
) -> Assessment:
    """The case's open assessment for ``point``, due at ``due_at``: one per case and point."""
    found = next((a for a in open_assessments(uow, case) if a.point == point), None)
    if found is None:
        found = _new_open(uow, case, point, due_at)
    elif found.due_at != due_at:
        found.due_at = due_at
        # Its escalation, taken as it moves (``refresh_next_due``), fires again if it comes
        # back to the date it fired for: that mark no longer says anyone was paged.
        forget_marks(
            uow, ReminderMark.assessment_id == found.id, ReminderMark.threshold == ESCALATION
        )
    refresh_next_due(uow, case)
    return found


def _new_open(uow: UnitOfWork, case: Case, point: AssessmentPoint, due_at: datetime) -> Assessment:
    opened = Assessment(
        case_id=case.id, point=point, status=AssessmentStatus.OPEN, opened_at=uow.now()
    )
    opened.due_at = due_at
    uow.add(opened)
    events.record_new(uow, case.id, events.ASSESSMENT_OPENED, opened.id, point=point.value)
    return opened


def cancel_open(uow: UnitOfWork, case: Case, points: Sequence[AssessmentPoint] = ()) -> None:
    """Cancel the case's open assessments (of ``points``, or all)."""
    for assessment in open_assessments(uow, case):
        if not points or assessment.point in points:
            assessment.status = AssessmentStatus.CANCELLED
    refresh_next_due(uow, case)


def refresh_next_due(uow: UnitOfWork, case: Case) -> None:
    """The case's schedule as its open assessments now stand: when the next one falls due, and
    whether it is still escalated (only while an open assessment is past its escalation for
    the due date it has: once that work is done, cancelled or re-timed, the flag goes)."""
    uow.session.flush()
    case.next_due_at = uow.session.scalar(
        select(func.min(Assessment.due_at)).where(
            Assessment.case_id == case.id, Assessment.status == AssessmentStatus.OPEN
        )
    )
    if case.escalated:
        escalated = select(Assessment.id).where(
            Assessment.case_id == case.id,
            Assessment.status == AssessmentStatus.OPEN,
            fired(ESCALATION),
        )
        case.escalated = bool(uow.session.scalar(escalated.exists().select()))
        if not case.escalated:  # the overdue work is done, cancelled or re-timed
            overdue_work_gone(uow, case)


def open_initial(uow: UnitOfWork, case: Case) -> Assessment:
    """The initial-contact assessment of a referred case, due by the policy."""
    due = initial_contact_due(
        uow.reference.policy, case.created_at, agency_zone(uow, case.agency_id)
    )
    return open_assessment(uow, case, P.INITIAL_CONTACT, due)


def open_initial_new(uow: UnitOfWork, case: Case, zone: ZoneInfo) -> Assessment:
    """``open_initial`` for a case created in this transaction (added, not yet written): it has
    no assessment to look for, and it is written once, its due date included, with its assessment
    (by the same flush, or ``inserting`` block: the case's INSERT first). ``zone``: its agency's."""
    due = initial_contact_due(uow.reference.policy, case.created_at, zone)
    case.next_due_at = due
    return _new_open(uow, case, P.INITIAL_CONTACT, due)


def plan_next(uow: UnitOfWork, case: Case, completed: Assessment) -> None:
    """After an assessment: open (or re-time) the case's next one."""
    if case.status == CaseStatus.DISCHARGED:
        open_next_follow_up(uow, case)
        open_thorough_after_imminent(uow, case, completed)
        return
    if case.status not in OPEN_CASE:
        return
    cancel_open(uow, case, [P.INITIAL_CONTACT])  # contact has been made
    due = periodic_due(uow, case, completed)
    open_assessment(uow, case, P.PLANNING_MEETING, due)


def open_thorough_after_imminent(uow: UnitOfWork, case: Case, completed: Assessment) -> None:
    """After discharge, an assessment at imminent (an incident, a follow-up, or a level raised
    by hand) is followed by the thorough assessment as the policy's imminent interval says,
    opened as an ``incident`` (what a discharged case takes at any time), not left to the next
    follow-up months away: imminent threat overrides everything, after discharge too. Its
    level lowered by hand from imminent, the thorough assessment it opened is cancelled, as an
    open case's next assessment is re-timed to the level overridden (``plan_next``)."""
    if completed.completed_at is None:
        return
    if completed.level != RiskLevel.IMMINENT:
        opened = [
            a
            for a in open_assessments(uow, case)
            if a.point == P.INCIDENT and a.opened_at >= completed.completed_at
        ]
        if opened:
            cancel_open(uow, case, [P.INCIDENT])
        return
    policy, zone = uow.reference.policy, agency_zone(uow, case.agency_id)
    due = next_due(policy, completed.completed_at, RiskLevel.IMMINENT, zone)
    open_assessment(uow, case, P.INCIDENT, due)


def periodic_due(uow: UnitOfWork, case: Case, completed: Assessment) -> datetime:
    policy, zone = uow.reference.policy, agency_zone(uow, case.agency_id)
    assert completed.completed_at is not None and completed.level is not None
    by_level = next_due(policy, completed.completed_at, RiskLevel(completed.level), zone)
    meeting = last_meeting(uow, case) or completed.completed_at
    return min(by_level, planning_meeting_due(policy, meeting, zone))


def last_meeting(uow: UnitOfWork, case: Case) -> datetime | None:
    return uow.session.scalar(
        select(func.max(Assessment.completed_at)).where(
            Assessment.case_id == case.id,
            Assessment.status == AssessmentStatus.COMPLETED,
            Assessment.point.in_(MEETINGS),
        )
    )


def open_after_reopen(uow: UnitOfWork, case: Case) -> Assessment:
    """A reopened case is assessed as soon as a new referral would be."""
    policy = uow.reference.policy
    due = initial_contact_due(policy, uow.now(), agency_zone(uow, case.agency_id))
    return open_assessment(uow, case, P.PLANNING_MEETING, due)


def discharged_at(uow: UnitOfWork, case: Case) -> datetime | None:
    """When the case was last discharged (from its event log)."""
    return uow.session.scalar(_last_discharge(case.id))


def _last_discharge(case_id: Any) -> Any:
    return select(func.max(LifecycleEvent.occurred_at)).where(
        LifecycleEvent.case_id == case_id, LifecycleEvent.name == events.CASE_DISCHARGED
    )


def _follow_ups_done(case_id: Any, since: Any) -> Any:
    """How many follow-ups the case has completed since ``since`` (its last discharge)."""
    return select(func.count(Assessment.id)).where(
        Assessment.case_id == case_id,
        Assessment.point == P.FOLLOW_UP,
        Assessment.status == AssessmentStatus.COMPLETED,
        Assessment.completed_at >= since,
    )


def follow_up_schedule(uow: UnitOfWork, case: Case) -> tuple[list[datetime], int]:
    """(every follow-up due time since the last discharge, how many are done)."""
    since = discharged_at(uow, case)
    if since is None:
        return [], 0
    dues = follow_up_dues(uow.reference.policy, since, agency_zone(uow, case.agency_id))
    done = uow.session.scalar(_follow_ups_done(case.id, since))
    return dues, int(done or 0)


def follow_ups_remaining(uow: UnitOfWork, case: Case) -> int:
    dues, done = follow_up_schedule(uow, case)
    return max(len(dues) - done, 0)


def follow_up_opens_at(uow: UnitOfWork, case: Case) -> datetime | None:
    """When the open follow-up may be recorded: as its due-soon reminder fires."""
    due = uow.session.scalar(
        select(Assessment.due_at).where(
            Assessment.case_id == case.id,
            Assessment.point == P.FOLLOW_UP,
            Assessment.status == AssessmentStatus.OPEN,
        )
    )
    if due is None:
        return None
    policy = uow.reference.policy
    return dict(reminder_times(policy, due, agency_zone(uow, case.agency_id)))["due_soon"]


def open_next_follow_up(uow: UnitOfWork, case: Case) -> Assessment | None:
    """Open the next follow-up after discharge, if any remain; once the policy's are all done,
    one more as the interval for high risk says while the latest assessment since discharge
    found high risk (as a discharge assessment at high risk does not discharge the case: the
    case is not closed on it, nor left with nothing due). At imminent, the thorough assessment
    comes first (``open_thorough_after_imminent``), and its level decides. The latest found
    lower (a level lowered by hand, say), the one more follow-up is withdrawn."""
    dues, done = follow_up_schedule(uow, case)
    if done < len(dues):
        return open_assessment(uow, case, P.FOLLOW_UP, dues[done])
    latest = latest_since_discharge(uow, case)
    if latest is not None and latest.level == RiskLevel.HIGH and latest.completed_at:
        policy, zone = uow.reference.policy, agency_zone(uow, case.agency_id)
        due = next_due(policy, latest.completed_at, RiskLevel.HIGH, zone)
        return open_assessment(uow, case, P.FOLLOW_UP, due)
    cancel_open(uow, case, [P.FOLLOW_UP])
    return None


def latest_since_discharge(uow: UnitOfWork, case: Case) -> Assessment | None:
    """The case's latest assessment completed since its last discharge (a follow-up or an
    incident), if any."""
    since = discharged_at(uow, case)
    if since is None:
        return None
    return uow.session.scalars(
        select(Assessment)
        .where(
            Assessment.case_id == case.id,
            Assessment.status == AssessmentStatus.COMPLETED,
            Assessment.completed_at >= since,
        )
        .order_by(Assessment.completed_at.desc(), Assessment.id.desc())
        .limit(1)
    ).first()


# -- for the sweep ------------------------------------------------------------------------------


def cases_missing_next(uow: UnitOfWork, *, due_by: datetime) -> list[str]:
    """Open or discharged cases with no open assessment (a crash, an old policy), by id: an
    anti-join over the cases with no next due date or one by ``due_by``, the sweep's reminder
    horizon (indexed: ``ix_cases_due``). A case that lost its open assessment but kept a later
    due date is found once that date comes within the horizon: by the sweep in which its first
    reminder comes due, which opens it before its reminders run, so none is late; the rest of
    the caseload is never probed.

    In two steps, each over a range the indexes hold: the cases in range with no open assessment
    due by ``due_by`` (that range of ``ix_assessments_open_due``; an anti-join over every open
    assessment of the caseload cost five times the due query); then, for those few (nearly
    always none but the cases with no due date), the exact test. The cases in range are read as
    two ranges of ``ix_cases_due`` (due by then; no due date): asked for both at once,
    PostgreSQL's planner read every case of the caseload, three times the due query.

    PostgreSQL joins the two ranges by a hashed anti-join (``NOT EXISTS``), which spills to disk
    past ``work_mem``: asked ``NOT IN`` instead, with planner statistics it could not hash
    133,000 case ids within ``work_mem`` and read them again for every case, and a sweep over a
    million cases took 460 s (the anti-join: 66 ms, the due query 49 ms). SQLite builds
    ``NOT IN``'s set as an index of its own, whatever its size; its anti-join searched
    assessments case by case, a third slower."""
    has_open = exists().where(
        Assessment.case_id == Case.id, Assessment.status == AssessmentStatus.OPEN
    )
    open_due = (Assessment.status == AssessmentStatus.OPEN, Assessment.due_at <= due_by)
    if uow.session.get_bind().dialect.name == "postgresql":
        without_open_due = ~exists().where(Assessment.case_id == Case.id, *open_due)
    else:
        without_open_due = Case.id.not_in(select(Assessment.case_id).where(*open_due))
    in_range = [
        select(Case.id).where(near, Case.status.in_(NEEDS_NEXT), without_open_due)
        for near in (Case.next_due_at <= due_by, Case.next_due_at.is_(None))
    ]
    maybe = list(uow.session.scalars(union_all(*in_range)))
    exact: set[str] = set()
    finished = _follow_ups_finished(len(uow.reference.policy.follow_ups_after_discharge))
    for first in range(0, len(maybe), CHECK_CHUNK):
        chunk = maybe[first : first + CHECK_CHUNK]
        query = select(Case.id).where(Case.id.in_(chunk), ~has_open, ~finished)
        exact.update(uow.session.scalars(query))
    return sorted(exact)


def _follow_ups_finished(count: int) -> Any:
    """A discharged case with every follow-up done since its last discharge (``count`` by the
    policy), or with no discharge on record: nothing to open (``open_next_follow_up``), so not
    found sweep after sweep until someone closes it. A policy with more follow-ups finds it
    again."""
    since = _last_discharge(Case.id).correlate(Case).scalar_subquery()
    done = _follow_ups_done(Case.id, since).correlate(Case).scalar_subquery()
    return and_(Case.status == CaseStatus.DISCHARGED, or_(since.is_(None), done >= count))


CHECK_CHUNK = 1000  # case ids per exact test


def ensure_next(uow: UnitOfWork, case: Case) -> Assessment | None:
    """Open the case's next assessment if it has none open (idempotent)."""
    if open_assessments(uow, case):
        return None
    if case.status == CaseStatus.DISCHARGED:
        return open_next_follow_up(uow, case)
    latest = uow.session.scalar(
        select(Assessment)
        .where(Assessment.case_id == case.id, Assessment.status == AssessmentStatus.COMPLETED)
        .order_by(Assessment.completed_at.desc())
        .limit(1)
    )
    if latest is None or case.status not in OPEN_CASE:
        return None
    return open_assessment(uow, case, P.PLANNING_MEETING, periodic_due(uow, case, latest))


# -- the dry run ----------------------------------------------------------------------------------


PROJECTED_THRESHOLDS = frozenset({"due_soon", "due_today"})  # a projection is done on time
PROJECTED_AT_MOST = 4


@dataclass(frozen=True)
class ScheduleEntry:
    """One line of the dry run: an assessment falling due, or one of its reminders."""

    at: datetime
    local: str
    what: str
    threshold: str | None
    point: str | None  # None in a summary (``withheld``)
    projected: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "local": self.local,
            "what": self.what,
            "threshold": self.threshold,
            "point": self.point,
            "projected": self.projected,
        }


@dataclass(frozen=True)
class ScheduleView:
    """``harbour schedule REF``: the dry run's lines within the window, with what it assumed
    and how many lines fell after the window (left out)."""

    case_reference: str
    weeks: int
    until_local: str
    zone: str
    risk_level: str | None
    entries: tuple[ScheduleEntry, ...]
    left_out: int  # lines after the window
    next_left_out: str | None  # the first of them, local time


def preview(app: App, actor_handle: str | None, ref: str, weeks: int = 8) -> ScheduleView:
    """``harbour schedule REF``: what will fall due and fire in the coming weeks."""
    if not 1 <= weeks <= 104:
        raise InvalidInput([("--weeks", "from 1 to 104")])

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> ScheduleView:
        zone = agency_zone(uow, case.agency_id)
        until = uow.now() + timedelta(weeks=weeks)
        every = _all_entries(uow, case, weeks)
        if not may(uow, actor, case, "case.read"):  # a summary: see ``withheld``
            every = [withheld(e) for e in every]
        later = [e for e in every if e.at > until]
        return ScheduleView(
            case_reference=case.reference,
            weeks=weeks,
            until_local=local_time(until, zone),
            zone=zone.key,
            risk_level=case.risk_level,
            entries=tuple(e for e in every if e.at <= until),
            left_out=len(later),
            next_left_out=later[0].local if later else None,
        )

    return on_case(app, actor_handle, ref, "case.summary", work)


def withheld(entry: ScheduleEntry) -> ScheduleEntry:
    """A line as a summary shows it (a coordinator's, once the case has its caseworker): when,
    and whether an assessment or a reminder, never its point. A return screening is due at
    "just left", which says what the youth's situation is: the summary's timeline keeps every
    point out (``plans.overview.SUMMARY_DETAILS``), and so does its schedule, every point alike,
    so that a point left out says nothing by its absence."""
    what = entry.what.removeprefix(f"{entry.point} ")
    return dataclasses.replace(entry, point=None, what=what)


def _all_entries(uow: UnitOfWork, case: Case, weeks: int) -> list[ScheduleEntry]:
    """The dry run's lines from now, in time order (some of them after the window of ``weeks``).

    Open assessments as they stand, with every reminder and the escalation; after them, up to
    four assessments that would follow if each were done on its due date (or now, if that is
    past) at the case's current level, marked ``projected``: only their reminders before they
    are due, and none before the assessment they follow exists.
    """
    now, policy, zone = uow.now(), uow.reference.policy, agency_zone(uow, case.agency_id)
    until = now + timedelta(weeks=weeks)
    entries: list[ScheduleEntry] = []
    for point, due, opens in _dues(uow, case, policy, zone, until):
        projected = opens is not None
        entries.append(_entry(due, f"{point} assessment due", None, point, projected, zone))
        for threshold, at in reminder_times(policy, due, zone):
            if opens is not None and (threshold not in PROJECTED_THRESHOLDS or at < opens):
                continue
            entries.append(_entry(at, f"{point} reminder", threshold, point, projected, zone))
    return sorted((e for e in entries if now <= e.at), key=lambda e: e.at)


def _dues(
    uow: UnitOfWork, case: Case, policy: Policy, zone: ZoneInfo, until: datetime
) -> list[tuple[str, datetime, datetime | None]]:
    """(point, due, None) for open assessments; (point, due, opens) for projected ones, where
    ``opens`` is when the one before is assumed done."""
    found: list[tuple[str, datetime, datetime | None]] = [
        (a.point, a.due_at, None) for a in open_assessments(uow, case) if a.due_at
    ]
    now = uow.now()
    if case.status == CaseStatus.DISCHARGED:
        dues, done = follow_up_schedule(uow, case)
        later = dues[done + 1 :][:PROJECTED_AT_MOST]
        found += [
            (P.FOLLOW_UP.value, due, max(before, now))
            for before, due in zip(dues[done:], later, strict=False)
        ]
    elif case.status in OPEN_CASE and case.risk_level:
        found += _projected_meetings(policy, zone, case, found, until, now)
    return found


def _projected_meetings(
    policy: Policy,
    zone: ZoneInfo,
    case: Case,
    found: list[tuple[str, datetime, datetime | None]],
    until: datetime,
    now: datetime,
) -> list[tuple[str, datetime, datetime | None]]:
    level = RiskLevel(case.risk_level or RiskLevel.LOW)
    at = next((due for point, due, _ in found if point == P.PLANNING_MEETING), None)
    projected: list[tuple[str, datetime, datetime | None]] = []
    while at is not None and at <= until and len(projected) < PROJECTED_AT_MOST:
        done = max(at, now)
        at = min(next_due(policy, done, level, zone), planning_meeting_due(policy, done, zone))
        projected.append((P.PLANNING_MEETING.value, at, done))
    return projected


def _entry(
    at: datetime, what: str, threshold: str | None, point: str, projected: bool, zone: ZoneInfo
) -> ScheduleEntry:
    return ScheduleEntry(at, local_time(at, zone), what, threshold, str(point), projected)
