"""Which lifecycle events leave Harbour for an orchestrator, and in what form: ids and codes only.

The publisher (``flows/publisher.py``) takes a batch of unpublished events, emits the public ones
and marks the whole batch published. Events keep their ids, so a batch emitted twice (a crash
between emitting and marking) is recognised downstream as the same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from harbour import events
from harbour.app import App, UnitOfWork
from harbour.db.models import Assessment, LifecycleEvent
from harbour.orchestration import pipeline

PUBLIC = frozenset(
    {
        events.CASE_REFERRED,
        events.ASSESSMENT_SUBMITTED,
        events.ASSESSMENT_COMPLETED,
        events.CASE_ESCALATED,
        events.ALERT_ACKNOWLEDGED,
        events.CASE_DISCHARGED,
        events.MISSING_OPENED,
        events.MISSING_CLOSED,
        events.VISIT_OVERDUE,
    }
)


@dataclass(frozen=True)
class Outgoing:
    """One event as it may be shown outside Harbour."""

    id: str
    name: str
    case_id: str | None  # None: an event about no case (a visit overdue), named by its subject
    subject_id: str
    occurred_at: datetime
    flow: str | None  # the flow an assessment event starts; never its point (flow_of_assessment)

    @property
    def resource(self) -> dict[str, str]:
        named = (
            f"harbour.case.{self.case_id}" if self.case_id else f"harbour.alert.{self.subject_id}"
        )
        labels = {"prefect.resource.id": named}
        if self.flow is not None:
            labels["harbour.flow"] = self.flow
        return labels

    @property
    def payload(self) -> dict[str, str]:
        shown = {"case_id": self.case_id} if self.case_id else {}
        return shown | {"subject_id": self.subject_id}


def take_unpublished(app: App, limit: int = 100) -> tuple[list[str], list[Outgoing]]:
    """The ids of up to ``limit`` unpublished events, oldest first, and those to emit: the
    public ones not yet processed (work done in-process, before a server appeared or while it
    was down, triggers nothing)."""

    def work(uow: UnitOfWork) -> tuple[list[str], list[Outgoing]]:
        rows = uow.session.execute(
            select(LifecycleEvent, Assessment.point)
            .outerjoin(Assessment, Assessment.id == LifecycleEvent.subject_id)
            .where(LifecycleEvent.published_at.is_(None))
            .order_by(LifecycleEvent.occurred_at, LifecycleEvent.id)
            .limit(limit)
        ).all()
        public = [
            _outgoing(event, point)
            for event, point in rows
            if event.name in PUBLIC and event.processed_at is None
        ]
        return [event.id for event, _ in rows], public

    return app.run(work)


def _outgoing(event: LifecycleEvent, point: str | None) -> Outgoing:
    flow = pipeline.flow_of(event.name, point) if point is not None else None
    return Outgoing(event.id, event.name, event.case_id, event.subject_id, event.occurred_at, flow)


def mark_published(app: App, ids: list[str]) -> None:
    def work(uow: UnitOfWork) -> None:
        uow.session.execute(
            update(LifecycleEvent)
            .where(LifecycleEvent.id.in_(ids), LifecycleEvent.published_at.is_(None))
            .values(published_at=uow.now())
        )

    if ids:
        app.run(work)
