"""A caseworker hears of an assignment once, however often the initial-contact step runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import OutboxMessage
from harbour.orchestration import pipeline, steps
from harbour.orchestration.sweep import finish_events
from tests.cli.helpers import answers_file
from tests.orchestration.helpers import assess, in_mode, refer


def _notices(app: App) -> int:
    with app.sessions() as session:
        count = session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "case_assigned")
        )
    return int(count or 0)


def test_a_rerun_after_the_case_changed_sends_no_second_notice(
    seeded: App, tmp_path: Path, clock: FixedClock
) -> None:
    app = in_mode(seeded, "prefect")
    case = refer(app, tmp_path)
    steps.open_initial_assessment(app, case.id)
    steps.assign_caseworker(app, case.id)  # the flow dies here, before marking its event done
    clock.advance(timedelta(minutes=2))
    assess(app, case.reference, "initial_contact", answers_file(app, tmp_path, "a"))
    clock.advance(pipeline.PREFECT_GRACE + timedelta(minutes=1))
    finish_events(app, clock.now())  # the sweep runs the steps again
    steps.assign_caseworker(app, case.id)
    assert _notices(app) == 1
