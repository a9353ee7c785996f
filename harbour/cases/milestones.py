"""What a case has reached, kept on its row for the program report (``harbour.cases.report``):
when its first assessment was completed (``first_assessed_at``, set once), and whether the plan
version of its latest assessment is final (``latest_plan_final``).

Both follow from the case's assessments and plan versions, and change only when an assessment is
completed (it composes a new draft version, superseding an earlier draft) and when that draft
is finalised: ``note`` is called in the transaction of each, and nowhere else writes them. A
case's latest plan version is always its latest assessment's (every completed assessment
composes one, numbered in order). Nothing else moves them: an override changes a level, not a
plan's status; a reopened or closed case keeps its assessments and plans (the report counts
active cases by status); a key rotation re-seals values only.
"""

from __future__ import annotations

from sqlalchemy import update

from harbour.app import UnitOfWork
from harbour.db.models import Assessment, Case, Plan
from harbour.domain.vocab import PlanStatus


def note(uow: UnitOfWork, case: Case, assessment: Assessment, plan: Plan) -> None:
    """``assessment`` is the case's latest completed assessment and ``plan`` its version, as
    they now stand (just composed, or just finalised).

    Written by an UPDATE of these columns alone, which leaves the case's version as it is (the
    session's copy of the case follows): a finalize is not refused because the sweep escalated
    the case meanwhile, and the sweep is not refused for a finalize. A finalize and a new
    assessment still exclude each other, by the plan versions' own version column."""
    first = case.first_assessed_at or assessment.completed_at
    final = plan.status == PlanStatus.FINAL
    uow.session.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(first_assessed_at=first, latest_plan_final=final)
    )
