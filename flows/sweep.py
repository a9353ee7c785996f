"""The reassessment sweep as one flow run on a schedule: a task per phase, each phase working
through its rows in batches (never a flow run per case)."""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from flows.relay import deliver_pending
from flows.tasks import harbour_task
from harbour import sweep

open_due_assessments = harbour_task(sweep.open_due_assessments)
send_reminders = harbour_task(sweep.send_reminders)
escalate = harbour_task(sweep.escalate)
finish_events = harbour_task(sweep.finish_events)
sweep_time = harbour_task(sweep.sweep_time)


@flow(name="reassessment_sweep", persist_result=False, log_prints=False)
def reassessment_sweep(now: datetime | None = None) -> dict[str, int]:
    """Open due assessments, remind, escalate, finish unprocessed events, then deliver.

    Args:
        now: the sweep's moment (aware); by default Harbour's clock.
    """
    at = now or sweep_time()
    report = sweep.SweepReport(
        opened=open_due_assessments(at),
        reminders=send_reminders(at),
        escalated=escalate(at),
        events=finish_events(at),
    )
    deliver_pending()
    return report.as_json()
