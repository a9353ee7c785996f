"""The outbox relay as a flow: on a short schedule, and as the last task of every other flow."""

from __future__ import annotations

from prefect import flow

from flows.tasks import harbour_task
from harbour.orchestration import pipeline

deliver_pending = harbour_task(pipeline.deliver)


@flow(name="deliver_notifications", persist_result=False, log_prints=False)
def deliver_notifications() -> int:
    """Send what is pending in the outbox, urgent lane first; returns how many were sent."""
    return deliver_pending()
