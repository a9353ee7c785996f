"""A case's lifecycle as a table: named states, the transitions between them, and which assessment
points each state takes.

    referred -> active -> discharge_pending -> discharged -> closed
                  ^              |                  |           |
                  +--------------+                  +-> reopened <+
                                                          |
                                         active, discharge_pending

The first completed assessment makes a case active; a ``discharge`` assessment makes it
discharge_pending; ``discharge`` then discharges it and opens the follow-ups; once the last
follow-up is done the case can close; a supervisor may reopen it.
"""

from __future__ import annotations

from harbour.domain.vocab import AssessmentPoint, CaseStatus
from harbour.errors import Conflict

S = CaseStatus
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.REFERRED: frozenset({S.ACTIVE}),
    S.ACTIVE: frozenset({S.DISCHARGE_PENDING}),
    S.DISCHARGE_PENDING: frozenset({S.ACTIVE, S.DISCHARGED}),
    S.DISCHARGED: frozenset({S.CLOSED, S.REOPENED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REOPENED: frozenset({S.ACTIVE, S.DISCHARGE_PENDING}),
}
# A change in the youth's situation takes a case back from discharge_pending to active.
SITUATION_CHANGES = frozenset(
    {AssessmentPoint.INCIDENT, AssessmentPoint.CONSIDERING_LEAVING, AssessmentPoint.JUST_LEFT}
)
AFTER_DISCHARGE = frozenset({AssessmentPoint.FOLLOW_UP, AssessmentPoint.INCIDENT})


def check_transition(current: CaseStatus, to: CaseStatus) -> None:
    """Refuse a move the lifecycle does not allow."""
    if to not in TRANSITIONS[current]:
        raise Conflict("transition_not_allowed", f"a {current} case cannot become {to}")


def check_point(status: CaseStatus, point: AssessmentPoint) -> None:
    """Refuse an assessment point a case in ``status`` does not take."""
    if status == S.CLOSED:
        raise Conflict("case_closed", "the case is closed: a supervisor may reopen it")
    if status == S.DISCHARGED and point not in AFTER_DISCHARGE:
        names = ", ".join(sorted(AFTER_DISCHARGE))
        raise Conflict("point_not_allowed", f"a discharged case takes only: {names}")
    if status != S.DISCHARGED and point == AssessmentPoint.FOLLOW_UP:
        raise Conflict("point_not_allowed", "follow-up assessments come after discharge")


def moves_after_assessment(status: CaseStatus, point: AssessmentPoint) -> list[CaseStatus]:
    """The states a completed assessment at ``point`` takes a case in ``status`` through."""
    moves: list[CaseStatus] = []
    if status in (S.REFERRED, S.REOPENED):
        status = S.ACTIVE
        moves.append(status)
    if point == AssessmentPoint.DISCHARGE and status == S.ACTIVE:
        moves.append(S.DISCHARGE_PENDING)
    elif point in SITUATION_CHANGES and status == S.DISCHARGE_PENDING:
        moves.append(S.ACTIVE)
    return moves
