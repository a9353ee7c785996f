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
