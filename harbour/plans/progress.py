"""Progress on a plan's actionable steps, as recorded: done or undone, by whom and when, kept apart from the
plan versions (``StepProgress``, appended only), so a final version stays as agreed while its steps
are worked through.

A step is one item of the steps or emergency sections. Its progress key is its key, which is
stable across versions (a step carried into the next version is still done), except an emergency
step's, scoped to its version (each imminent threat's protocol is done afresh). Documents read the
progress as it stood at their version's moment (finalised, or composed): the same request always
renders the same bytes; ``plan show`` reads it as it stands now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from harbour.app import UnitOfWork
from harbour.db.models import Plan, PlanItem, StepProgress
from harbour.domain.steps import progress_key


@dataclass(frozen=True)
class Done:
    at: datetime
    by_id: str | None


def document_moment(plan: Plan) -> datetime:
    """The moment a final (or superseded) version's documents show progress as of: finalised,
    else composed. An open draft's show it as it stands (``snapshot``)."""
    return plan.finalized_at or plan.created_at


def key_of(plan: Plan, row: PlanItem) -> str:
    """The progress key of ``row``, an item of version ``plan``."""
    return progress_key(plan.version_number, row.key, row.section)


def done_as_of(uow: UnitOfWork, case_id: str, moment: datetime) -> dict[str, Done]:
    """Each progress key done at ``moment`` (its last record then says done), with when and by."""
    rows = uow.session.scalars(
        select(StepProgress)
        .where(StepProgress.case_id == case_id, StepProgress.at <= moment)
        .order_by(StepProgress.seq)
    )
    last: dict[str, StepProgress] = {}
    for row in rows:
        last[row.key] = row
    return {key: Done(row.at, row.by_id) for key, row in last.items() if row.done}
