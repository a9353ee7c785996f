"""The reminder sweep: once per threshold per due date, one digest per recipient per sweep."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.db.models import Alert, Assessment, Case, ReminderMark
from harbour.domain.vocab import AssessmentPoint, AssessmentStatus
from harbour.notify.reminders import sweep
from tests.notify.helpers import in_transaction, new_case, open_assessment, reassign, rows

SWEEP_EVERY = timedelta(
    hours=1
)  # the deployment sweeps every 15 minutes; hourly crosses the same thresholds
THRESHOLDS = ("assessment_due_soon", "assessment_due_today", "assessment_overdue")


def _sweep(app: App, batch: int = 500) -> dict[str, int]:
    return sweep(app.run, app.reference.policy, app.clock.now(), batch=batch)


def _sweep_a_day(uow: UnitOfWork, clock: FixedClock) -> None:
    """24 sweeps, one an hour; one transaction per simulated day keeps the test fast."""
    for _ in range(timedelta(days=1) // SWEEP_EVERY):
        sweep(in_transaction(uow), uow.reference.policy, clock.now())
        clock.advance(SWEEP_EVERY)


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def _digest_items(app: App) -> list[tuple[str, str, str, str]]:
    """(recipient, case_ref, kind, due_date) of every reminder in every digest."""
    return [
        (row.recipient, item["case_ref"], item["kind"], item["due_date"])
        for row in rows(app, kind="reminder_digest")
        for item in row.context["items"]
    ]


def _set(app: App, assessment: Assessment, **values: object) -> None:
    def work(uow: UnitOfWork) -> None:
        row = uow.session.get_one(Assessment, assessment.id)
        for name, value in values.items():
            setattr(row, name, value)

    app.run(work)


def _after_the_marks(monkeypatch: pytest.MonkeyPatch, then: Callable[[], None]) -> None:
    """Each batch of the sweep writes its marks, then ``then`` runs (another transaction's
    work, in the middle of the sweep's), then the batch goes on."""
    from harbour.notify import reminders

    record_marks = reminders._record_marks

    def and_then(uow: UnitOfWork, *args: Any) -> set[tuple[str, str]]:
        written = record_marks(uow, *args)
        then()
        return written

    monkeypatch.setattr(reminders, "_record_marks", and_then)


def test_a_month_of_sweeps_fires_each_threshold_once_per_due_date(
    seeded: App, clock: FixedClock
) -> None:
    clock.set(_at(1, 0))
    a_case, e_case, c_case, g_case, f_case = (new_case(seeded, f"M{n}") for n in range(5))
    d_case = new_case(seeded, "M9", caseworker=None)
    b_case = new_case(seeded, "M8", caseworker="cw2")
    open_assessment(seeded, a_case, _at(5, 14))  # 09:00 New York, before DST
    open_assessment(seeded, e_case, _at(5, 14))  # the same moment: one digest with both
    open_assessment(seeded, b_case, _at(9, 13))  # 09:00 EDT, the day after the change
    open_assessment(seeded, c_case, _at(20, 13), AssessmentPoint.FOLLOW_UP)
    open_assessment(seeded, d_case, _at(10, 13))  # no caseworker: the supervisor hears
    f = open_assessment(seeded, f_case, _at(12, 13))
    g = open_assessment(seeded, g_case, _at(4, 14))
    for day in range(1, 31):
        if day == 3:  # G's due_soon has fired; now it moves
            _set(seeded, g, due_at=_at(25, 13))
        if day == 11:
            _set(seeded, f, status=AssessmentStatus.COMPLETED, completed_at=clock.now())
        seeded.run(lambda uow: _sweep_a_day(uow, clock))

    refs = {
        case.id: "-".join(case.reference.split("-")[:3])
        for case in (a_case, b_case, c_case, d_case, e_case, f_case, g_case)
    }
    expected: Counter[tuple[str, str, str, str]] = Counter()
    for case, who, due in (
        (a_case, "cw1", "2026-03-05"),
        (e_case, "cw1", "2026-03-05"),
        (b_case, "cw2", "2026-03-09"),
        (d_case, "sup", "2026-03-10"),
        (g_case, "cw1", "2026-03-25"),
    ):
        expected.update((who, refs[case.id], kind, due) for kind in THRESHOLDS)
    expected.update(
        [
            ("cw1", refs[c_case.id], "follow_up_due", "2026-03-20"),
            ("cw1", refs[c_case.id], "follow_up_due", "2026-03-20"),  # due soon, due today
            ("cw1", refs[c_case.id], "assessment_overdue", "2026-03-20"),
            ("cw1", refs[f_case.id], "assessment_due_soon", "2026-03-12"),  # then completed
            ("cw1", refs[g_case.id], "assessment_due_soon", "2026-03-04"),  # then moved
        ]
    )
    assert Counter(_digest_items(seeded)) == expected

    digests = rows(seeded, kind="reminder_digest")
    per_sweep = Counter((row.recipient, row.created_at) for row in digests)
    assert set(per_sweep.values()) == {1}
    both = [row for row in digests if len(row.context["items"]) == 2]
    assert {item["case_ref"] for row in both for item in row.context["items"]} >= {
        refs[a_case.id],
        refs[e_case.id],
    }

    escalated = seeded.run(lambda uow: uow.session.scalars(select(Alert)).all())
    overdue_alerts = Counter(alert.case_id for alert in escalated)
    assert set(overdue_alerts.values()) == {1} and a_case.id in overdue_alerts
    assert f_case.id not in overdue_alerts
    assert seeded.run(lambda uow: uow.session.get_one(Case, a_case.id).escalated) is True
    assert {r.recipient for r in rows(seeded, kind="overdue_escalation")} == {"sup"}


def test_a_late_assessment_sends_only_its_latest_threshold(seeded: App, clock: FixedClock) -> None:
    case = new_case(seeded)
    open_assessment(seeded, case, clock.now() - timedelta(days=2))
    counts = _sweep(seeded)
    assert (counts["overdue"], counts["skipped"]) == (1, 2)
    assert [kind for _, _, kind, _ in _digest_items(seeded)] == ["assessment_overdue"]
    marks = seeded.run(lambda uow: uow.session.scalars(select(ReminderMark)).all())
    assert sorted((m.threshold, m.outcome) for m in marks) == [
        ("due_soon", "skipped"),
        ("due_today", "skipped"),
        ("overdue", "sent"),
    ]
    assert _sweep(seeded)["digests"] == 0


def test_a_case_given_to_another_caseworker_reminds_them_of_what_is_due(
    seeded: App, clock: FixedClock
) -> None:
    """Its reminder went to the caseworker before (one not sent yet is withdrawn from their
    digest: tests/notify/test_digest_withdrawal.py): the new caseworker is reminded at the next
    sweep, of the latest threshold passed; the escalation, the supervisors', stays fired. Given
    to the caseworker it has, nothing fires again. Found by review: the new caseworker was never
    reminded of that threshold."""
    case = new_case(seeded)  # cw1's
    open_assessment(seeded, case, clock.now() - timedelta(days=8))
    assert _sweep(seeded)["escalated"] == 1
    reassign(seeded, case, "cw1")
    assert _sweep(seeded)["digests"] == 0
    reassign(seeded, case, "cw2")
    counts = _sweep(seeded)
    assert (counts["overdue"], counts["skipped"], counts.get("escalated")) == (1, 2, None)
    assert sorted((who, kind) for who, _, kind, _ in _digest_items(seeded)) == [
        ("cw1", "assessment_overdue"),
        ("cw2", "assessment_overdue"),
    ]
    digests = rows(seeded, kind="reminder_digest")
    assert sorted((row.recipient, row.status) for row in digests) == [
        ("cw1", "cancelled"),  # not sent yet when the case was given to cw2
        ("cw2", "pending"),
    ]
    assert _sweep(seeded)["digests"] == 0


def test_many_assessments_in_batches_make_one_digest(seeded: App, clock: FixedClock) -> None:
    for n in range(7):
        open_assessment(seeded, new_case(seeded, f"B{n}"), clock.now() + timedelta(days=1))
    counts = _sweep(seeded, batch=3)
    assert (counts["assessments"], counts["due_soon"], counts["digests"]) == (7, 7, 1)
    [digest] = rows(seeded, kind="reminder_digest")
    assert (digest.recipient, digest.context["count"]) == ("cw1", 7)


def test_overdue_cases_are_marked_escalated_by_one_update_their_versions_moved_once(
    seeded: App, clock: FixedClock
) -> None:
    """A backlog's escalations mark their cases with one statement, not one per case (issue 16:
    7,500 of them after an outage); each case's version still moves once, so an edit made from
    an earlier read of it is refused as stale, and a later sweep leaves the cases alone."""
    from tests.support import executed

    cases = [new_case(seeded, f"E{n}") for n in range(3)]
    for case in cases:
        open_assessment(seeded, case, clock.now() - timedelta(days=30))

    def versions() -> dict[str, tuple[bool, int]]:
        found = seeded.run(lambda uow: uow.session.scalars(select(Case)).all())
        return {case.id: (case.escalated, case.version) for case in found}

    before = versions()
    with executed(seeded.engine) as seen:
        _sweep(seeded)
    updates = [s for s, _ in seen if s.lstrip().upper().startswith("UPDATE CASES")]
    after = versions()
    assert len(updates) == 1, updates
    assert {after[case.id] for case in cases} == {(True, before[cases[0].id][1] + 1)}

    clock.advance(timedelta(hours=1))
    _sweep(seeded)
    assert versions() == after


def test_a_case_is_escalated_only_while_its_overdue_work_is(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    # Overdue past the escalation: flagged, in the escalated caseload, and the supervisors'
    # alert open. Once the overdue assessment is done, the flag goes and the alert is taken by
    # who did it (it climbs no further); the next one, overdue past its own escalation, flags
    # the case again.
    from harbour.notify.alerts import escalate_unacknowledged
    from tests.cli.helpers import answers_file, ok

    case = new_case(seeded)
    assessment = open_assessment(seeded, case, clock.now() - timedelta(days=30))
    _sweep(seeded)
    listed = [row["case"] for row in ok(seeded, "cases", "--escalated", "--as", "sup")]
    assert case.reference in listed

    answers = answers_file(seeded, tmp_path, "done")
    point = assessment.point
    ok(seeded, "assess", case.reference, "--point", point, "--answers", answers, "--as", "cw1")
    assert seeded.run(lambda uow: uow.session.get_one(Case, case.id).escalated) is False
    assert ok(seeded, "cases", "--escalated", "--as", "sup") == []
    [alert] = seeded.run(lambda uow: uow.session.scalars(select(Alert)).all())
    assert (alert.case_id, alert.acknowledged_by) == (case.id, "cw1")
    clock.advance(timedelta(days=1))
    assert seeded.run(lambda uow: escalate_unacknowledged(uow, uow.now()))["escalated"] == 0

    clock.advance(timedelta(days=200))  # the next assessment, long overdue too
    _sweep(seeded)
    assert seeded.run(lambda uow: uow.session.get_one(Case, case.id).escalated) is True


def test_an_overdue_assessment_moved_stops_its_escalation_until_overdue_again(
    seeded: App, clock: FixedClock
) -> None:
    # Re-timed (or cancelled): the case is no longer escalated, and the escalation still open
    # is taken by Harbour, paging nobody more. Overdue past its new date's escalation, the
    # supervisors are paged again by a new alert; and again when it is moved back to the date
    # it was first escalated from (each firing an alert of its own).
    from harbour.cases import schedule
    from harbour.notify.alerts import escalate_unacknowledged

    case = new_case(seeded)
    first_due = clock.now() - timedelta(days=30)
    open_assessment(seeded, case, first_due)
    _sweep(seeded)

    def move_to(due: datetime) -> None:
        def work(uow: UnitOfWork) -> None:
            row = uow.session.get_one(Case, case.id)
            [open_now] = schedule.open_assessments(uow, row)
            schedule.open_assessment(uow, row, AssessmentPoint(open_now.point), due)

        seeded.run(work)

    def alerts_by_state() -> list[str]:
        found = seeded.run(lambda uow: uow.session.scalars(select(Alert)).all())
        return sorted(alert.acknowledged_by or "open" for alert in found)

    def escalated() -> bool:
        return seeded.run(lambda uow: uow.session.get_one(Case, case.id).escalated)

    move_to(clock.now() + timedelta(days=10))
    assert not escalated() and alerts_by_state() == ["harbour"]
    clock.advance(timedelta(days=1))
    assert seeded.run(lambda uow: escalate_unacknowledged(uow, uow.now()))["escalated"] == 0

    pages = len(rows(seeded, kind="overdue_escalation"))
    clock.advance(timedelta(days=40))
    _sweep(seeded)
    assert escalated() and alerts_by_state() == ["harbour", "open"]
    assert len(rows(seeded, kind="overdue_escalation")) > pages

    pages = len(rows(seeded, kind="overdue_escalation"))
    move_to(first_due)
    assert not escalated() and alerts_by_state() == ["harbour", "harbour"]
    clock.advance(timedelta(hours=1))
    _sweep(seeded)
    assert escalated() and alerts_by_state() == ["harbour", "harbour", "open"]
    assert len(rows(seeded, kind="overdue_escalation")) > pages


def test_an_assessment_done_while_its_escalation_is_written_is_not_escalated(
    seeded: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL: the mark's statement saw the assessment open; it was done and committed
    # before the sweep's escalation. The sweep holds the case and looks again: nobody is paged.
    # (On SQLite the sweep holds the one write lock: nothing can be done meanwhile.)
    if seeded.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's writers queue: no assessment is done during a sweep's batch")
    case = new_case(seeded)
    assessment = open_assessment(seeded, case, clock.now() - timedelta(days=30))
    done = {"status": AssessmentStatus.COMPLETED, "completed_at": clock.now()}
    _after_the_marks(monkeypatch, lambda: _set(seeded, assessment, **done))
    assert _sweep(seeded).get("escalated", 0) == 0
    assert seeded.run(lambda uow: uow.session.scalars(select(Alert)).all()) == []
    assert seeded.run(lambda uow: uow.session.get_one(Case, case.id).escalated) is False


def test_the_due_query_runs_without_jit_compilation_on_postgresql(seeded: App) -> None:
    # Over a store with marks its estimate crossed the JIT's threshold, and compiling it took
    # longer than running it: off for the sweep's read alone, not set on the connection (poolers
    # refuse startup options, and a deployer's own PGOPTIONS would be dropped).
    if seeded.engine.dialect.name == "sqlite":
        pytest.skip("a PostgreSQL setting")
    from sqlalchemy import text

    from harbour.domain.policy import Thresholds
    from harbour.notify.reminders import to_fire

    def jit_after(uow: UnitOfWork) -> tuple[str, str]:
        before = uow.session.execute(text("SHOW jit")).scalar_one()
        to_fire(uow, Thresholds.of(uow.reference.policy), uow.now(), after=(uow.now(), ""))
        return before, uow.session.execute(text("SHOW jit")).scalar_one()

    assert seeded.read(jit_after) == ("on", "off")
    assert seeded.read(lambda uow: uow.session.execute(text("SHOW jit")).scalar_one()) == "on"


def test_a_sweep_re_arming_an_escalation_and_a_re_time_of_its_case_do_not_deadlock(
    seeded: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL: the re-time holds the case and clears the escalation mark; the sweep holds
    # the mark it re-arms and takes the case next. The re-time leaves a mark the sweep holds,
    # so neither waits for the other in a circle, and the sweep escalates nothing moved.
    if seeded.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's writers queue: one transaction at a time")
    import threading

    from harbour.cases import schedule
    from harbour.db.models import ReminderMark
    from harbour.domain.policy import ESCALATION

    case = new_case(seeded)
    due = clock.now() - timedelta(days=30)
    assessment = open_assessment(seeded, case, due)
    seeded.run(  # an escalation mark for an earlier date: the sweep re-arms it
        lambda uow: uow.session.add(
            ReminderMark(
                assessment_id=assessment.id,
                threshold=ESCALATION,
                due_at=due - timedelta(days=50),
                fired_at=due - timedelta(days=40),
                outcome="sent",
            )
        )
    )
    case_held, marks_written = threading.Event(), threading.Event()
    tries: list[str] = []

    def re_time(uow: UnitOfWork) -> None:
        tries.append("re-time")
        row = uow.session.scalars(
            select(Case).where(Case.id == case.id).with_for_update(key_share=True)
        ).one()
        case_held.set()
        marks_written.wait(5)
        schedule.open_assessment(
            uow, row, AssessmentPoint(assessment.point), due + timedelta(days=60)
        )

    other = App(seeded.settings, clock)
    thread = threading.Thread(target=lambda: other.run(re_time))
    thread.start()
    case_held.wait(5)
    _after_the_marks(monkeypatch, lambda: (tries.append("marks"), marks_written.set()))
    try:
        counts = _sweep(seeded)
    finally:
        thread.join(20)
        other.dispose()
    assert tries == ["re-time", "marks"]  # each once: no deadlock broken and retried
    assert counts.get("escalated", 0) == 0
    assert seeded.run(lambda uow: uow.session.scalars(select(Alert)).all()) == []
