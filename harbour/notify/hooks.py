"""What the rest of the domain tells the notification layer, inside its own transaction.

Each hook writes outbox rows (and alerts) in the caller's unit of work, so a notification exists
exactly when the change that caused it was committed. Delivery happens later, in the relay.
"""

from __future__ import annotations

from harbour.app import UnitOfWork
from harbour.db.models import Assessment, Case


def case_assigned(uow: UnitOfWork, case: Case) -> None:
    """A caseworker was given a case: tell them (pointer only)."""


def assessment_completed(
    uow: UnitOfWork, case: Case, assessment: Assessment, previous_level: str | None
) -> None:
    """Risk raised to high: caseworker and supervisor. Imminent: an alert to on-call and
    supervisor on the urgent lane, at once."""


def case_discharged(uow: UnitOfWork, case: Case) -> None:
    """The case left the program; follow-ups are scheduled by the domain."""
