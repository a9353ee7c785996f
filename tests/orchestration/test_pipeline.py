"""Lifecycle events processed once, in-process (inline) or left for the flows (prefect)."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from harbour import events
from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Staff
from harbour.errors import HarbourError
from harbour.orchestration import pipeline, steps
from harbour.orchestration.sweep import sweep
from tests.orchestration.helpers import case_by_reference, in_mode, lifecycle_events, refer


def _handle(app: App, staff_id: str | None) -> str | None:
    with app.sessions() as session:
        return session.get(Staff, staff_id).handle if staff_id else None


def test_inline_referral_is_assigned_least_loaded_and_processed(
    seeded: App, tmp_path: Path
) -> None:
    first = refer(seeded, tmp_path, "A")
    second = refer(seeded, tmp_path, "B")
    assert [_handle(seeded, c.caseworker_id) for c in (first, second)] == ["cw1", "cw2"]
    referred = lifecycle_events(seeded, events.CASE_REFERRED)
    assert len(referred) == 2 and all(e.processed_at is not None for e in referred)


def test_prefect_mode_leaves_the_event_to_the_flows_then_the_sweep(
    seeded: App, tmp_path: Path, clock: FixedClock
) -> None:
    app = in_mode(seeded, "prefect")
    case = refer(app, tmp_path)
    assert _handle(app, case.caseworker_id) == "cw1"  # assigned by the referral itself
    assert lifecycle_events(app, events.CASE_REFERRED)[0].processed_at is None
    assert sweep(app).events == 0  # still young: a triggered flow is expected to take it
    clock.advance(pipeline.PREFECT_GRACE + timedelta(seconds=1))
    assert sweep(app).events == 3  # referred; and assigned and opened, which call for no step
    assert lifecycle_events(app, events.CASE_REFERRED)[0].processed_at is not None
    assert _handle(app, case_by_reference(app, case.reference).caseworker_id) == "cw1"
    assert sweep(app).events == 0


def test_processing_an_event_twice_assigns_once(seeded: App, tmp_path: Path) -> None:
    app = in_mode(seeded, "prefect")
    case = refer(app, tmp_path)
    pipeline.process(app, events.CASE_REFERRED, case.id)
    pipeline.process(app, events.CASE_REFERRED, case.id)
    steps.assign_caseworker(app, case.id)  # a step run again on its own changes nothing
    assigned = lifecycle_events(app, events.CASE_ASSIGNED)
    assert len(assigned) == 1
    assert [e.processed_at is not None for e in lifecycle_events(app, events.CASE_REFERRED)] == [
        True
    ]


def test_a_failing_step_leaves_the_event_for_the_sweep_and_logs_no_value(
    seeded: App,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(app: App, case_id: str) -> None:
        raise ValueError("MARKERvalue quoted by a library")

    routes = pipeline.STEPS_OF_EVENT
    monkeypatch.setitem(routes, events.CASE_REFERRED, (broken, *steps.INITIAL_CONTACT))
    with caplog.at_level(logging.WARNING):
        case = refer(seeded, tmp_path)  # the referral itself is committed and reported
    assert "MARKER" not in caplog.text and "ValueError" in caplog.text
    assert lifecycle_events(seeded, events.CASE_REFERRED)[0].processed_at is None
    monkeypatch.undo()
    assert sweep(seeded).events == 1
    assert case_by_reference(seeded, case.reference).caseworker_id is not None


def test_an_agency_without_caseworkers_leaves_the_case_unassigned(
    seeded: App, tmp_path: Path
) -> None:
    with seeded.sessions() as session, session.begin():
        for staff in session.scalars(select(Staff).where(Staff.role == "caseworker")):
            staff.active = False
    case = refer(seeded, tmp_path)
    assert case.caseworker_id is None
    assert lifecycle_events(seeded, events.CASE_REFERRED)[0].processed_at is not None


def test_a_pass_over_pending_events_pauses_before_each_of_its_transactions(
    seeded: App, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page of events that call for no step is marked, and each routed event processed,
    after a pause (the sweep's ``WriterGap``, next test), so thousands of events after an
    outage never keep an SQLite writer waiting through them back to back."""
    app = in_mode(seeded, "prefect")
    for marker in ("A", "B"):
        refer(app, tmp_path, marker)  # referred (a step), assigned and opened (none) each
    clock.advance(pipeline.PREFECT_GRACE + timedelta(seconds=1))
    order: list[str] = []
    for name in ("_mark_unrouted", "_try"):
        real = getattr(pipeline, name)

        def writes(*args: object, real: Any = real) -> Any:
            order.append("write")
            return real(*args)

        monkeypatch.setattr(pipeline, name, writes)
    done = pipeline.process_pending(
        app, before=clock.now(), limit=2, between=lambda: order.append("gap")
    )
    assert done == 6
    assert order.count("write") >= 3
    assert order == ["gap", "write"] * order.count("write")


def test_the_sweep_passes_its_writer_gap_to_the_pass_over_pending_events(
    seeded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harbour.db.writer_gap import WriterGap
    from harbour.orchestration import sweep as sweeping

    handed: dict[str, Any] = {}

    def process_pending(app: App, **options: Any) -> int:
        handed.update(options)
        return 0

    monkeypatch.setattr(pipeline, "process_pending", process_pending)
    sweeping.finish_events(seeded, seeded.clock.now())
    assert isinstance(handed["between"], WriterGap)


def test_events_failing_for_ever_hold_back_no_command_s_own(
    seeded: App, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command processes the events it recorded, whatever older ones wait: a page of events
    whose step fails every time (or a backlog left by another mode) is the sweep's, and used
    to be the only page every command took, its own referral left unprocessed, its caseworker
    untold, until the next sweep."""
    stuck: set[str] = set()

    def broken(app: App, case_id: str) -> None:
        if case_id in stuck:
            raise HarbourError("broken", "fails every time")

    monkeypatch.setitem(
        pipeline.STEPS_OF_EVENT, events.CASE_REFERRED, (broken, *steps.INITIAL_CONTACT)
    )
    for number in range(pipeline.INLINE_BATCH):
        stuck.add(refer(in_mode(seeded, "prefect"), tmp_path, f"S{number}").id)
        clock.advance(timedelta(seconds=1))
    refer(seeded, tmp_path, "OLDER")  # inline: processed, but the stuck ones first, and fail
    clock.advance(timedelta(seconds=1))
    case = refer(seeded, tmp_path, "MINE")
    mine = [e for e in lifecycle_events(seeded, events.CASE_REFERRED) if e.subject_id == case.id]
    assert mine[0].processed_at is not None
    with seeded.sessions() as session:
        from harbour.db.models import OutboxMessage

        notices = session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.case_id == case.id)
        ).all()
    assert notices == ["case_assigned"]


def test_an_event_whose_step_keeps_failing_is_told_to_its_agency_s_admins_once(
    seeded: App, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A referral whose steps fail every time was retried by every sweep, a warning logged each
    time, and nobody told: its caseworker never heard of the case. Once it has failed a few
    times over an hour (four sweeps), the agency's admins are told, once (the case's short
    reference, the event and the code: no value), `harbour notify check` names it until a try
    succeeds, and every sweep still tries it."""
    from harbour.db.models import OutboxMessage
    from harbour.domain import refs
    from tests.support import invoke

    def broken(app: App, case_id: str) -> None:
        raise ValueError("MARKERvalue quoted by a library")

    monkeypatch.setitem(
        pipeline.STEPS_OF_EVENT, events.CASE_REFERRED, (broken, *steps.INITIAL_CONTACT)
    )
    case = refer(seeded, tmp_path)  # inline: its first try fails

    def notices() -> list[Any]:
        M = OutboxMessage
        with seeded.sessions() as session:
            query = select(M.recipient, M.case_id, M.lane, M.context)
            return list(session.execute(query.where(M.kind == "event_stuck")))

    def failing(handle: str) -> list[Any]:
        checked = invoke(seeded, "notify", "check", "--as", handle, "--json")
        return list(checked.json()["events_failing"])

    for _ in range(3):  # 45 minutes: failing, but not for long
        clock.advance(timedelta(minutes=15))
        assert sweep(seeded).events == 0
    assert notices() == [] and failing("adm") == []
    for _ in range(3):  # an hour and a half
        clock.advance(timedelta(minutes=15))
        assert sweep(seeded).events == 0
    short = refs.short_form(case.reference)
    told = notices()
    assert [(r.recipient, r.case_id, r.lane) for r in told] == [("adm", case.id, "normal")]
    assert told[0].context == {
        "case_ref": short,
        "path": f"/cases/{case.reference}",
        "event": events.CASE_REFERRED,
        "error": "ValueError",
    }
    [shown] = failing("adm")
    assert (shown["case_ref"], shown["event"], shown["error"]) == (
        short,
        events.CASE_REFERRED,
        "ValueError",
    )
    assert shown["tries"] >= 7
    checked = invoke(seeded, "notify", "check", "--as", "adm")
    assert checked.exit_code == 2  # (the seeded store has no routes: that is said first)
    said = f"case {short} (north): {events.CASE_REFERRED} keeps failing: ValueError"
    assert said in checked.stdout and "MARKER" not in checked.stdout + checked.stderr
    assert failing("sup2") == []  # another agency's

    assert sweep(seeded).events == 0  # still tried, and told once only
    assert len(notices()) == 1
    monkeypatch.undo()
    clock.advance(timedelta(minutes=15))
    assert sweep(seeded).events == 1
    assert failing("adm") == [] and len(notices()) == 1
