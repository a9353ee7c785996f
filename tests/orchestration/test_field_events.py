"""Lifecycle events of safety in the field: a missing episode opened and closed, a visit not
checked in by its deadline. Recorded in the transaction of the change, published with ids only
(a visit's event names its alert, never a case, as the alert does); on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from harbour import events
from harbour.app import App
from harbour.cases import missing, visits
from harbour.clock import FixedClock
from harbour.notify.visit_checks import raise_overdue
from harbour.orchestration.publishing import take_unpublished
from tests.conftest import START
from tests.orchestration.helpers import in_mode, lifecycle_events, refer
from tests.support import invoke

WHERE = "MKEVENTWHERE 4 Dock Road"
NUMBER = "MKEVENTNUMBER-1"


def test_a_missing_episode_opens_and_closes_with_ids_only(seeded: App, tmp_path: Path) -> None:
    app = in_mode(seeded, "prefect")
    case = refer(app, tmp_path, "MKEV")
    take_unpublished(app)  # the referral's, not this test's
    since = (START - timedelta(hours=1)).isoformat()
    opened = missing.report_missing(app, "cw1", case.reference, since)
    missing.record_step(app, "cw1", case.reference, "law_enforcement", NUMBER)
    missing.report_return(app, "cw1", case.reference, START.isoformat())
    [first] = lifecycle_events(app, events.MISSING_OPENED)
    [last] = lifecycle_events(app, events.MISSING_CLOSED)
    assert (first.case_id, first.subject_id) == (case.id, opened.id)
    assert (last.case_id, last.subject_id) == (case.id, opened.id)
    _, public = take_unpublished(app)
    shown = [(p.name, p.payload, p.resource) for p in public if p.name.startswith("harbour.case.m")]
    payload = {"case_id": case.id, "subject_id": opened.id}
    resource = {"prefect.resource.id": f"harbour.case.{case.id}"}
    assert sorted(shown) == [  # one transaction's moment: the order of the two is not kept
        (events.MISSING_CLOSED, payload, resource),
        (events.MISSING_OPENED, payload, resource),
    ]
    assert NUMBER not in repr(public) and "MKEV" not in repr(public)


def test_a_visit_overdue_is_an_event_of_its_alert_once_per_deadline(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    case = refer(seeded, tmp_path, "MKEV")
    view = visits.start_visit(
        seeded, "cw1", back_at="16:30", location=WHERE, case_ref=case.reference
    )
    clock.set(view.deadline_at + timedelta(minutes=1))
    assert seeded.run(lambda uow: raise_overdue(uow, clock.now())) == 1
    assert seeded.run(lambda uow: raise_overdue(uow, clock.now())) == 0
    [event] = lifecycle_events(seeded, events.VISIT_OVERDUE)
    alert_id = visits.list_visits(seeded, "cw1")[0].alert_id
    assert (event.case_id, event.subject_id) == (None, alert_id)  # no case, as its alert
    _, public = take_unpublished(in_mode(seeded, "prefect"))
    [item] = [p for p in public if p.name == events.VISIT_OVERDUE]
    assert item.payload == {"subject_id": alert_id}
    assert item.resource == {"prefect.resource.id": f"harbour.alert.{alert_id}"}
    assert WHERE not in repr(item) and "MKEV" not in repr(item)

    visits.extend(seeded, "cw1", 30)  # a new deadline alerts afresh if it passes too
    clock.advance(timedelta(hours=1))
    assert seeded.run(lambda uow: raise_overdue(uow, clock.now())) == 1
    assert len(lifecycle_events(seeded, events.VISIT_OVERDUE)) == 2


def test_the_missing_commands_follow_through_once_committed_as_the_console_does(
    seeded: App, tmp_path: Path
) -> None:
    # `harbour missing` ran its follow-through once committed (the console runs it for all
    # three), but `missing-step` and `returned` did not: the return's events (the episode
    # closed, the screening opened) waited for another command or the sweep.
    case = refer(seeded, tmp_path, "MKEV")
    ref = case.reference[:12]
    since = (START - timedelta(hours=1)).isoformat()
    for command in (
        ("missing", ref, "--since", since),
        ("missing-step", ref, "supervisor_told"),
        ("returned", ref, "--at", START.isoformat()),
    ):
        done = invoke(seeded, *command, "--as", "cw1")
        assert done.exit_code == 0, done.stderr
        waiting = [e.name for e in lifecycle_events(seeded) if e.processed_at is None]
        assert waiting == [], (command[0], waiting)
