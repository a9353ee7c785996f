"""The reassessment sweep as one flow run on a schedule: a task per phase, each phase working
through its rows in batches (never a flow run per case)."""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from flows.relay import deliver_pending
from flows.tasks import StepFailed, harbour_task
from harbour.orchestration import sweep

open_due_assessments = harbour_task(sweep.open_due_assessments)
send_reminders = harbour_task(sweep.send_reminders)
escalate = harbour_task(sweep.escalate)
raise_overdue_visits = harbour_task(sweep.raise_overdue_visits)
alert_missing_steps = harbour_task(sweep.alert_missing_steps)
finish_events = harbour_task(sweep.finish_events)
sweep_time = harbour_task(sweep.sweep_time)
idle_phases = harbour_task(sweep.idle_phases)


# A run that takes longer is hung: the worst sweep measured (30,001 due at once, after an
# outage) took 78 s. Run one at a time, a hung sweep would hold every later one back; stopped
# here, it leaves the slot to the next quarter hour's, which redoes what it had not committed.
TIMEOUT_SECONDS = 600


@flow(
    name="reassessment_sweep",
    persist_result=False,
    log_prints=False,
    timeout_seconds=TIMEOUT_SECONDS,
)
def reassessment_sweep(now: datetime | None = None) -> dict[str, int]:
    """Escalate, open due assessments, remind, finish unprocessed events, then deliver. Each
    phase runs even if another failed; the run then fails naming the phases (codes only). With
    no store there, it fails once with that code: no phase, nor the relay, could do anything.

    Args:
        now: the sweep's moment (aware); by default Harbour's clock.
    """
    at = now or sweep_time()
    try:
        idle = idle_phases(at)
    except StepFailed as failed:  # every phase runs, and reports for itself
        if failed.cause == "store_not_initialised":
            raise  # one error, not six phases and the relay failing alike
        idle = []
    try:
        report = sweep.run_phases(
            [
                ("escalated", lambda: escalate(at)),
                ("visits", lambda: raise_overdue_visits(at)),
                ("missing", lambda: alert_missing_steps(at)),
                ("opened", lambda: open_due_assessments(at)),
                ("reminders", lambda: send_reminders(at)),
                ("events", lambda: finish_events(at)),
            ],
            idle,
        )
    finally:
        deliver_pending()  # what the phases that ran enqueued goes out either way
    return report.as_json()
