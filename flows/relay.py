"""The outbox relay as a flow: on a short schedule, and as the last task of every other flow."""

from __future__ import annotations

from prefect import flow

from flows.tasks import harbour_task
from harbour.orchestration import pipeline

deliver_pending = harbour_task(pipeline.deliver)


# A run that takes longer is hung (a pass over 500 due rows, or moving 7,501 unacknowledged
# alerts up a tier, takes seconds): run one at a time, a hung relay would hold the slot, and no
# alert would climb its ladder. Its rows' lease is as long: what it claimed goes to the next.
TIMEOUT_SECONDS = 120


@flow(
    name="deliver_notifications",
    persist_result=False,
    log_prints=False,
    timeout_seconds=TIMEOUT_SECONDS,
)
def deliver_notifications() -> int:
    """Send what is pending in the outbox, urgent lane first; returns how many were sent."""
    return deliver_pending()
