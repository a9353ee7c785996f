"""What the rest of the domain tells the notification layer, inside its own transaction.

Each hook writes outbox rows (and alerts) in the caller's unit of work, so a notification exists
exactly when the change that caused it was committed. Delivery happens later, in the relay.
"""

from __future__ import annotations

from sqlalchemy import select

from harbour.app import UnitOfWork
from harbour.db.models import Alert, Assessment, Case, OutboxMessage, ReminderMark, Staff
from harbour.domain.policy import ESCALATION
from harbour.domain.vocab import (
    AlertKind,
    AssessmentStatus,
    Lane,
    NotificationKind,
    RiskLevel,
    Role,
)
from harbour.notify import alerts, recipients
from harbour.notify.digests import REASSIGNED, withdraw_case
from harbour.notify.order_reminders import forget_order_marks
from harbour.notify.outbox import enqueue, settle
from harbour.notify.reminders import forget_marks


def case_assigned(uow: UnitOfWork, case: Case, assignment: str) -> None:
    """A caseworker was given a case: tell them (pointer only), once per ``assignment`` (the
    assignment's event id, or "referral" for a caseworker the referral named), and page them
    about its standing alerts whose tier counts them now (``alerts.page_joining``)."""
    if case.caseworker_id is None:
        return
    people = recipients.caseworker_or_supervisors(uow, case)
    enqueue(
        uow,
        NotificationKind.CASE_ASSIGNED,
        recipients=people,
        case=case,
        dedupe=f"assigned:{case.id}:{assignment}",
        context={},
        lane=Lane.NORMAL,
    )
    alerts.page_joining(uow, case, people)


def reminders_handed_over(uow: UnitOfWork, case: Case) -> None:
    """A case given to another caseworker: the reminders its open assessments and its
    protective orders have had fire again, for the new caseworker, at the next sweep (its
    escalation, the supervisors', stays fired), the digests not yet sent carry it to nobody
    (``digests.withdraw_case``), and a caseworker it was taken from is no longer told it is
    theirs, or asked to review its raised level, by a notice not yet sent
    (``_notices_handed_over``)."""
    assessments = select(Assessment.id).where(
        Assessment.case_id == case.id, Assessment.status == AssessmentStatus.OPEN
    )
    forget_marks(
        uow, ReminderMark.assessment_id.in_(assessments), ReminderMark.threshold != ESCALATION
    )
    forget_order_marks(uow, case.id)
    withdraw_case(uow, case.reference)
    _notices_handed_over(uow, case)


def _notices_handed_over(uow: UnitOfWork, case: Case) -> int:
    """Settle the case's "assigned to you" and "level raised" notices not yet sent to anyone
    but its caseworker now and the supervisors (who are told of a raised level too): a case
    given back before its notice went out (the relay sends the normal lane every minute, a
    failing route retries for longer) told the caseworker it was taken from that it was
    theirs. As ``withdraw_case`` settles a digest: one that reached a route already is sent,
    the rest cancelled (``REASSIGNED``); a send under way is not recalled. How many.
    "Assigned to you" is kept for the caseworker now alone: a supervisor the case was taken
    from (``assign`` gives cases to supervisors too) is no more its caseworker than anyone."""
    caseworker = uow.session.scalar(select(Staff.handle).where(Staff.id == case.caseworker_id))
    keep = [caseworker, *recipients.in_role(uow, case.agency_id, Role.SUPERVISOR)]
    M = OutboxMessage
    raised = (M.kind == NotificationKind.RISK_RAISED) & M.recipient.not_in(
        [handle for handle in keep if handle is not None]
    )
    assigned = (M.kind == NotificationKind.CASE_ASSIGNED) & (
        M.recipient.is_distinct_from(caseworker)
    )
    return settle(uow, (M.case_id == case.id) & (raised | assigned), REASSIGNED)


def cover_started(uow: UnitOfWork, case: Case, cover_id: str, handle: str) -> None:
    """A caseworker started covering a case not assigned to them: its agency's supervisors are
    told who and which case (never why: the reason stays in Harbour), and the one covering is
    paged about its standing alerts whose tier counts them now (``alerts.page_joining``)."""
    enqueue(
        uow,
        NotificationKind.COVER_STARTED,
        recipients=recipients.in_role(uow, case.agency_id, Role.SUPERVISOR),
        case=case,
        dedupe=f"cover:{cover_id}",
        context={"staff": handle},
        lane=Lane.NORMAL,
    )
    alerts.page_joining(uow, case, [handle])


def assessment_completed(
    uow: UnitOfWork, case: Case, assessment: Assessment, previous_level: str | None
) -> None:
    """Risk raised to high: caseworker and supervisor. Imminent: an alert to on-call and
    supervisor on the urgent lane, at once."""
    level = assessment.level
    if level == RiskLevel.IMMINENT:
        source = alerts.imminent_source(uow, assessment)
        alerts.open_alert(
            uow, case, AlertKind.IMMINENT_THREAT, source, NotificationKind.IMMINENT_THREAT
        )
    elif level == RiskLevel.HIGH and _rank(previous_level) < RiskLevel.HIGH.rank:
        people = recipients.caseworker_or_supervisors(uow, case)
        people += recipients.in_role(uow, case.agency_id, Role.SUPERVISOR)
        enqueue(
            uow,
            NotificationKind.RISK_RAISED,
            recipients=people,
            case=case,
            dedupe=f"risk_raised:{assessment.id}",
            context={},
            lane=Lane.NORMAL,
        )


def overdue_work_done(uow: UnitOfWork, assessment: Assessment, handle: str) -> None:
    """An assessment was done: its overdue escalation, if one is open, is taken by who did it
    (as a missing youth's alerts are once the steps are), so it pages nobody further."""
    # Its escalation as its mark says it fired (one opened before escalations were keyed so has
    # the assessment's id for its source).
    sources = [assessment.id]
    mark = uow.session.get(ReminderMark, (assessment.id, ESCALATION))
    if mark is not None:
        sources.append(alerts.overdue_source(assessment.id, mark.due_at, mark.fired_at))
    found = select(Alert).where(
        Alert.kind == AlertKind.OVERDUE_ESCALATION, Alert.source_id.in_(sources)
    )
    for alert in uow.session.scalars(found).all():
        alerts.close(uow, alert, handle)


def overdue_work_gone(uow: UnitOfWork, case: Case) -> None:
    """The case is no longer escalated (its overdue assessment cancelled, or moved to a later
    date): the overdue escalations still open on it are taken by Harbour, paging nobody further."""
    still_open = select(Alert).where(
        Alert.case_id == case.id,
        Alert.kind == AlertKind.OVERDUE_ESCALATION,
        Alert.acknowledged_at.is_(None),
    )
    for alert in uow.session.scalars(still_open).all():
        alerts.close(uow, alert, "harbour")


def _rank(level: str | None) -> int:
    return RiskLevel(level).rank if level else -1
