"""Actionable steps of a plan, as progress is tracked on them: which items are steps, how their
progress is keyed, and when an open one is overdue. Plain values only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from harbour.domain.vocab import ItemState, PlanSection

ACTIONABLE = frozenset({PlanSection.STEPS, PlanSection.EMERGENCY})
ON_THE_PLAN = frozenset({ItemState.ACCEPTED, ItemState.ADDED})


def progress_key(version_number: int, key: str, section: str) -> str:
    """A step's key is stable across versions, so a step done stays done; an emergency step's is
    scoped to its version: each imminent threat's protocol is done afresh."""
    return f"{key}@v{version_number}" if section == PlanSection.EMERGENCY else key


def not_recordable(section: str, state: str, *, latest: bool) -> str | None:
    """Why progress on an item of a version (``latest``: the case's newest) is not recorded
    there; None: it is. Only a step on the plan is done. A step's progress is the case's, its
    key the same on every version, so it is recorded on the latest, the version that says
    whether it is still on the plan: an older one may hold it agreed where the latest rejected
    or left it out, and done, it would come back. An emergency step's progress is its own
    version's, so it is recorded on whichever version holds it."""
    if section not in ACTIONABLE:
        return "not a step: only steps and emergency steps are done"
    if state == ItemState.REJECTED:
        return "a rejected step is not on the plan"
    if not latest and section != PlanSection.EMERGENCY:
        return (
            "only an emergency step is recorded on an earlier version: "
            "record this step on the latest version (no --version)"
        )
    return None


def carried(progress: str) -> bool:
    """Whether a progress key is a step's that carries into later versions."""
    return "@v" not in progress


def done_now(records: Iterable[tuple[str, bool]]) -> set[str]:
    """The keys whose last record, in the order given, says done."""
    last: dict[str, bool] = {}
    for key, done in records:
        last[key] = done
    return {key for key, done in last.items() if done}


def overdue(section: str, state: str, due_on: date | None, today: date, done: bool) -> bool:
    """An open step on the plan, past its due date (a carried step keeps its date)."""
    return (
        section in ACTIONABLE
        and state in ON_THE_PLAN
        and due_on is not None
        and due_on < today
        and not done
    )
