"""The sweep: what the policy says is due is reminded, once; batches change nothing."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update

from benchmarks.sweep import check_due_set, outbox_rows, seed_cases
from harbour.app import App
from harbour.cases import missing, visits
from harbour.clock import FixedClock
from harbour.db.models import Agency, Alert, Assessment, Case, ReminderMark, ThreatSource
from harbour.domain.policy import reminder_times
from harbour.errors import HarbourError
from harbour.notify.order_reminders import any_due
from harbour.orchestration.sweep import idle_phases, sweep
from tests.cli.helpers import answers_file
from tests.conftest import START
from tests.orchestration.helpers import assess, refer
from tests.support import executed


@pytest.mark.parametrize(("batch", "page"), [(7, 5), (500, 20_000)])
def test_the_due_set_is_the_policy_s_and_a_second_sweep_adds_nothing(
    app: App, clock: FixedClock, batch: int, page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In batches and read in pages (of 5 candidates: a page's batches, then the next page's)
    or not, the same set is reminded, once."""
    from harbour.notify import reminders

    monkeypatch.setattr(reminders, "READ_PAGE", page)
    clock.set(START)
    seed_cases(app, 120)
    report = sweep(app, batch=batch)
    assert report.reminders > 0 and report.escalated == 0  # alerts: none yet to re-escalate
    check_due_set(app, START)
    enqueued = outbox_rows(app)
    assert sweep(app, batch=batch).reminders == 0
    assert outbox_rows(app) == enqueued


def test_a_case_left_without_its_next_assessment_gets_one_before_its_first_reminder(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    case = refer(seeded, tmp_path)
    assess(seeded, case.reference, "initial_contact", answers_file(seeded, tmp_path, "a"))
    with seeded.sessions() as session, session.begin():  # as if a crash had lost it
        lost_due, zone = session.execute(
            select(Case.next_due_at, Agency.timezone).join(Agency, Agency.id == Case.agency_id)
        ).one()
        session.execute(delete(Assessment).where(Assessment.status == "open"))
    assert lost_due is not None
    first_reminder = min(
        at for _, at in reminder_times(seeded.reference.policy, lost_due, ZoneInfo(zone))
    )
    # The sweep probes only the cases due within its reminders' horizon (not the whole
    # caseload): nothing of this case is late before its first reminder, and then the lost
    # assessment is opened again in the same sweep that sends that reminder, on time.
    clock.set(first_reminder)
    report = sweep(seeded)
    assert (report.opened, report.reminders) == (1, 1)
    assert sweep(seeded).opened == 0
    with seeded.sessions() as session:
        open_now = session.execute(
            select(Assessment.point, Assessment.due_at).where(Assessment.status == "open")
        )
        assert list(open_now) == [("planning_meeting", lost_due)]


def test_a_phase_is_idle_until_its_rows_come_due_and_an_idle_sweep_takes_no_row(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """One read says which phases have nothing due; each runs again from the moment it has:
    a visit past its deadline, a missing youth's steps within their warning, an alert past its
    acknowledgement time, an order near its expiry, a case missing its next assessment. A sweep
    with nothing new locks no row (PostgreSQL) and takes no write lock (SQLite)."""
    case = refer(seeded, tmp_path)
    everything = ["escalated", "visits", "missing", "opened", "reminders"]
    assert idle_phases(seeded, START) == everything[:-1]  # the referral's first reminder
    sweep(seeded)
    assert idle_phases(seeded, START) == everything
    with executed(seeded.engine) as statements:
        report = sweep(seeded).as_json()
    assert set(report.values()) == {0}
    shown = [str(sql) for sql, _ in statements]
    assert not [sql for sql in shown if "FOR UPDATE" in sql or "BEGIN IMMEDIATE" in sql]
    # Two reads: the probe's five statements (the agencies' zones for the orders' dates, the
    # quick questions, the zones for the cutoffs, the cases missing their next, the reminders)
    # and the events' page; on SQLite, the BEGIN of each.
    assert len(shown) <= 8

    visit = visits.start_visit(
        seeded, "cw1", back_at=(START + timedelta(minutes=60)).isoformat(), location="MKV 1 Elm"
    )
    assert "visits" in idle_phases(seeded, visit.deadline_at - timedelta(seconds=1))
    assert "visits" not in idle_phases(seeded, visit.deadline_at)
    clock.set(visit.deadline_at)
    assert sweep(seeded).visits == 1
    assert idle_phases(seeded, clock.now()) == everything  # alerted: once

    since = clock.now() - timedelta(hours=2)
    steps_due = missing.report_missing(seeded, "cw1", case.reference, since.isoformat()).steps[0]
    warned_from = steps_due.due_at - seeded.reference.policy.missing_warn_before.delta
    assert "missing" in idle_phases(seeded, warned_from - timedelta(seconds=1))
    assert "missing" not in idle_phases(seeded, warned_from)
    clock.set(warned_from)
    assert sweep(seeded).missing == 1
    assert "missing" in idle_phases(seeded, steps_due.due_at - timedelta(seconds=1))  # warned
    assert "missing" not in idle_phases(seeded, steps_due.due_at)  # then overdue

    # The visit's alert, unacknowledged, climbs at its next escalation time.
    climbs_at = seeded.run(
        lambda uow: uow.session.scalar(
            select(Alert.next_escalation_at).where(Alert.case_id.is_(None))
        )
    )
    assert "escalated" in idle_phases(seeded, climbs_at - timedelta(seconds=1))
    assert "escalated" not in idle_phases(seeded, climbs_at)

    # A protective order nearing its expiry: its 7-day reminder, then nothing until renewed.
    expiry = (clock.now() + timedelta(days=5)).date()
    seeded.run(
        lambda uow: uow.session.execute(
            update(ThreatSource)
            .where(ThreatSource.case_id == case.id)
            .values(protective_order=True, protective_order_expires_on=expiry)
        )
    )
    assert "reminders" not in idle_phases(seeded, clock.now())
    assert sweep(seeded).reminders == 1
    assert "reminders" in idle_phases(seeded, clock.now())
    # Renewed, 8 days from its end in the agency's zone: the 30-day reminder now, the 7-day one
    # from the agency's midnight a day later (not UTC's).
    zone = ZoneInfo(seeded.run(lambda uow: uow.session.scalar(select(Agency.timezone).join(Case))))
    expiry = clock.now().astimezone(zone).date() + timedelta(days=8)
    seeded.run(
        lambda uow: uow.session.execute(
            update(ThreatSource)
            .where(ThreatSource.case_id == case.id)
            .values(protective_order_expires_on=expiry)
        )
    )
    assert sweep(seeded).reminders == 1
    seven_days = datetime.combine(expiry - timedelta(days=7), time(0), tzinfo=zone)

    def order_due(at: datetime) -> bool:  # the orders' part of the reminders' question
        return bool(seeded.read(lambda uow: uow.session.scalar(select(any_due(uow, at)))))

    assert not order_due(seven_days - timedelta(seconds=1)) and order_due(seven_days)

    # A case left without its next assessment: the opening phase runs once its first reminder
    # comes due, and the reminders with it (what it opens may be due at once).
    assess(seeded, case.reference, "initial_contact", answers_file(seeded, tmp_path, "a"))
    with seeded.sessions() as session, session.begin():
        lost_due, zone = session.execute(
            select(Case.next_due_at, Agency.timezone).join(Agency, Agency.id == Case.agency_id)
        ).one()
        session.execute(delete(ReminderMark))
        session.execute(delete(Assessment).where(Assessment.status == "open"))
    assert lost_due is not None
    first = min(at for _, at in reminder_times(seeded.reference.policy, lost_due, ZoneInfo(zone)))
    assert {"opened", "reminders"} <= set(idle_phases(seeded, first - timedelta(seconds=1)))
    assert not {"opened", "reminders"} & set(idle_phases(seeded, first))


def test_when_the_probe_cannot_read_every_phase_runs(
    seeded: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unreadable(work: object) -> None:
        raise HarbourError("database_unavailable", "the store cannot be reached")

    monkeypatch.setattr(seeded, "read", unreadable)
    assert idle_phases(seeded, START) == []
    assert "sweep probe failed: database_unavailable" in caplog.text


def test_when_the_reference_files_cannot_be_read_every_phase_runs(seeded: App) -> None:
    """The probe reads the policy inside its guard: a policy that cannot be loaded leaves every
    phase to run (and fail, naming its code) rather than stopping the sweep before escalation."""
    app = App(seeded.settings.model_copy(update={"policy_file": Path("/nonexistent.yaml")}))
    try:
        assert idle_phases(app, START) == []
    finally:
        app.dispose()


def test_standby_relays_on_every_pass_and_sweeps_once_a_quarter_hour(
    seeded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `harbour serve` does while the Prefect server is away (tests/flows/test_publisher.py
    has it against a server that is not there): the relay every pass, the sweep at the
    schedule's pace, and a failing one stops neither."""
    from harbour.orchestration import pipeline, standby
    from harbour.orchestration import sweep as sweeping

    done: list[str] = []

    def failing_sweep(app: App) -> None:
        done.append("sweep")
        raise HarbourError("sweep_incomplete")

    monkeypatch.setattr(sweeping, "sweep", failing_sweep)
    monkeypatch.setattr(pipeline, "deliver", lambda app: done.append("relay") or 0)
    seconds = [0.0]
    away = standby.Standby(seeded, monotonic=lambda: seconds[0])
    for seconds[0] in (0, 10, standby.SWEEP_EVERY - 1, standby.SWEEP_EVERY):
        away()
    assert done == ["sweep", "relay", "relay", "relay", "sweep", "relay"]
