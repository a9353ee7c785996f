"""A youth who goes missing: the reporting steps' alerts as the deadline nears and passes, their
escalation, the steps recorded, the return and its assessment; on SQLite and PostgreSQL with the
simulated clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from harbour.app import App
from harbour.cases import missing
from harbour.cases.caseload import caseload_page
from harbour.cases.reads import caseload, show_case
from harbour.clock import FixedClock
from harbour.db.models import Alert, Assessment, MissingStep
from harbour.demo.receivers import MAIL_DOMAIN, RouteBook, SmtpServer
from harbour.domain.vocab import AlertKind, AssessmentStatus, Lane, OutboxStatus
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.notify.alerts import acknowledge
from harbour.notify.missing_alerts import any_due
from harbour.notify.relay import deliver
from harbour.orchestration.sweep import sweep
from tests.conftest import START
from tests.notify.conftest import FAST
from tests.notify.helpers import new_case, rows
from tests.support import given, invoke

NUMBER = "MKREPORT-2026-0042"


def _alerts(app: App) -> list[Alert]:
    return app.run(
        lambda uow: list(uow.session.scalars(select(Alert).order_by(Alert.opened_at, Alert.kind)))
    )


def test_the_steps_alert_as_the_deadline_nears_escalate_once_past_and_stop_when_done(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer
) -> None:
    case = new_case(napp)
    since = (START - timedelta(hours=2)).isoformat()
    view = missing.report_missing(napp, "cw1", case.reference, since)
    assert [s.due_at for s in view.steps] == [START + timedelta(hours=22)] * 3
    assert view.alerts == () and sweep(napp).missing == 0

    clock.set(START + timedelta(hours=18))  # four hours before the deadline
    assert sweep(napp).missing == 1
    assert sweep(napp).missing == 0  # once
    [due] = _alerts(napp)
    assert due.kind == AlertKind.MISSING_STEPS_DUE
    assert {r.lane for r in rows(napp, alert_id=due.id)} == {Lane.NORMAL}  # not danger yet
    assert {r.recipient for r in rows(napp, alert_id=due.id)} >= {"cw1", "sup"}
    deliver(napp, config=FAST)
    [mail_to_cw1] = [m for m in smtp.to(f"cw1@{MAIL_DOMAIN}") if due.id[:8] in m.subject]
    assert "missing" not in mail_to_cw1.subject.lower()  # a lock screen shows the subject
    assert case.reference[:12] in mail_to_cw1.subject and due.id[:8] in mail_to_cw1.subject
    assert "Missing-youth steps due" in mail_to_cw1.text

    clock.set(START + timedelta(hours=22))  # the deadline passes
    assert sweep(napp).missing == 1
    overdue = [a for a in _alerts(napp) if a.kind == AlertKind.MISSING_STEPS_OVERDUE]
    assert len(overdue) == 1 and overdue[0].tier == 0
    clock.advance(timedelta(minutes=11))
    deliver(napp, config=FAST)  # unacknowledged: up the ladder
    climbed = napp.run(lambda uow: uow.session.get_one(Alert, overdue[0].id))
    assert climbed.tier == 1

    missing.record_step(napp, "cw1", case.reference, "law_enforcement", NUMBER)
    missing.record_step(napp, "cw1", case.reference, "ncmec")
    assert all(a.acknowledged_at is None for a in _alerts(napp))  # a step is still open
    done = missing.record_step(napp, "sup", case.reference, "supervisor_told")
    assert set(done.alerts) == {a.id for a in _alerts(napp)}
    assert all(a.acknowledged_by == "sup" for a in _alerts(napp))
    pending = [r for r in rows(napp) if r.status == OutboxStatus.PENDING and r.alert_id]
    assert pending == []
    for message in smtp.received:
        assert NUMBER not in message.text


def test_the_relay_s_minute_pass_pages_the_deadline_passed_not_the_next_sweep(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer
) -> None:
    """The reporting deadline passes between two sweeps: the relay's pass a minute later opens
    the overdue alert (urgent: someone may be in danger) and pages on-call and the supervisors,
    as it does a missed visit check-in. Found by review: only the sweep opened it, up to 15
    minutes (the sweep's period, longer than the alert's acknowledgement window) after."""
    case = new_case(napp)
    missing.report_missing(napp, "cw1", case.reference, (START - timedelta(hours=2)).isoformat())
    clock.set(START + timedelta(hours=18))  # warned by the sweep, four hours before
    assert sweep(napp).missing == 1
    deliver(napp, config=FAST)
    clock.set(START + timedelta(hours=22, minutes=1))  # a minute past the deadline
    assert deliver(napp, config=FAST).raised == 1  # the relay's minute pass
    [overdue] = [a for a in _alerts(napp) if a.kind == AlertKind.MISSING_STEPS_OVERDUE]
    assert {r.lane for r in rows(napp, alert_id=overdue.id)} == {Lane.URGENT}
    assert [m for m in smtp.to(f"sup@{MAIL_DOMAIN}") if overdue.id[:8] in m.subject]
    assert deliver(napp, config=FAST).raised == 0  # once
    assert sweep(napp).missing == 0


@pytest.mark.parametrize("found_by", ["command", "relay"])
def test_a_deadline_passed_unwarned_opens_the_overdue_alert_alone(
    napp: App, clock: FixedClock, mail: RouteBook, found_by: str
) -> None:
    # A youth last seen a day ago (or a deadline that passed while no relay nor sweep ran)
    # opened the warning and the overdue alert at once: two alerts, two pages, for one fact.
    # As reminders do, only the latest threshold fires and the earlier one never does later;
    # the overdue alert pages whom the warning would have too (the steps are the caseworker's).
    from harbour.cases.cover import start_cover

    case = new_case(napp)
    hours = 30 if found_by == "command" else 2
    since = (START - timedelta(hours=hours)).isoformat()
    view = missing.report_missing(napp, "cw1", case.reference, since)
    if found_by == "relay":
        assert view.alerts == ()
        clock.set(START + timedelta(hours=23))  # past the deadline, not warned
        assert deliver(napp, config=FAST).raised == 1
    [overdue] = _alerts(napp)
    assert overdue.kind == AlertKind.MISSING_STEPS_OVERDUE
    assert view.alerts == (overdue.id,) or found_by == "relay"
    assert {r.recipient for r in rows(napp, alert_id=overdue.id)} == {"cw1", "sup"}

    def due_by_probe() -> bool:
        policy = napp.reference.policy
        return bool(napp.run(lambda uow: uow.session.scalar(select(any_due(policy, uow.now())))))

    clock.advance(timedelta(minutes=1))
    assert not due_by_probe()  # the relay's probe: nothing left to open
    assert deliver(napp, config=FAST).raised == 0 and sweep(napp).missing == 0
    start_cover(napp, "cw2", case.reference, "MKCOVER off sick")  # counted at its tier: paged
    assert len(rows(napp, alert_id=overdue.id, recipient="cw2")) == 1
    acknowledge(napp, "sup", overdue.id)
    assert not due_by_probe() and sweep(napp).missing == 0  # taken: nothing opens after it
    assert [a.kind for a in _alerts(napp)] == [AlertKind.MISSING_STEPS_OVERDUE]


def test_the_overdue_alert_takes_the_urgent_lane_and_the_command_sends_it_at_once(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer
) -> None:
    # A missing youth's reporting deadline passed: the alert went on the normal lane (though
    # its message says URGENT), behind any backlog of reminders, and `harbour missing` sent
    # nothing itself; its escalation too waited for the relay's periodic pass.
    case = new_case(napp)
    since = (START - timedelta(hours=30)).isoformat()
    started = invoke(napp, "missing", case.reference[:12], "--since", since, "--as", "cw1")
    assert started.exit_code == 0, started.stderr
    [overdue] = _alerts(napp)
    assert {r.lane for r in rows(napp, alert_id=overdue.id)} == {Lane.URGENT}
    assert [m for m in smtp.to(f"sup@{MAIL_DOMAIN}") if overdue.id[:8] in m.subject]
    clock.advance(timedelta(minutes=11))
    assert deliver(napp, lane=Lane.URGENT, config=FAST).escalated == 1  # what a command runs
    assert napp.run(lambda uow: uow.session.get_one(Alert, overdue.id)).tier == 1


def test_a_colleague_covering_the_case_is_paged_with_the_caseworker_and_may_take_it(
    napp: App, mail: RouteBook
) -> None:
    # cw2 covers cw1's case (cw1 is off sick): the steps are theirs to record while the cover
    # runs, and `harbour alerts` showed them the alert, but it paged only cw1 and the
    # supervisors, so cw2 was not told and could not acknowledge it.
    from harbour.cases.cover import end_cover, start_cover
    from harbour.notify.alerts import acknowledge

    case, other = new_case(napp), new_case(napp)
    start_cover(napp, "cw2", case.reference, "MKCOVER off sick")
    start_cover(napp, "cw2", other.reference, "MKCOVER off sick")
    end_cover(napp, "cw2", other.reference)
    since = (START - timedelta(hours=21)).isoformat()  # the deadline in 3 hours: warned at once
    for ref in (case.reference, other.reference):
        missing.report_missing(napp, "cw1", ref, since)
    by_case = {a.case_id: a for a in _alerts(napp)}
    covered, ended = by_case[case.id], by_case[other.id]
    assert {r.recipient for r in rows(napp, alert_id=covered.id)} == {"cw1", "cw2", "sup"}
    assert {r.recipient for r in rows(napp, alert_id=ended.id)} == {"cw1", "sup"}
    assert acknowledge(napp, "cw2", covered.id).acknowledged_by == "cw2"


def test_the_return_closes_the_episode_and_opens_the_return_screening(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    case = new_case(napp)
    missing.report_missing(napp, "cw1", case.reference, (START - timedelta(hours=30)).isoformat())
    with pytest.raises(Conflict):
        missing.report_missing(napp, "cw1", case.reference, "08:00")
    clock.advance(timedelta(hours=3))
    back = missing.report_return(
        napp, "cw1", case.reference, (START + timedelta(hours=2)).isoformat()
    )
    assert back.returned_at == START + timedelta(hours=2)
    assert back.assessment_due_at == START + timedelta(hours=74)
    opened = napp.run(
        lambda uow: uow.session.scalars(
            select(Assessment).where(
                Assessment.case_id == case.id, Assessment.status == AssessmentStatus.OPEN
            )
        ).all()
    )
    assert "just_left" in {a.point for a in opened}
    assert all(a.acknowledged_by == "cw1" for a in _alerts(napp))
    with pytest.raises(NotFound):
        missing.report_return(napp, "cw1", case.reference, "10:00")
    assert show_case(napp, "cw1", case.reference).missing is None
    missing.report_missing(napp, "cw1", case.reference, "11:00")  # a new episode


def test_a_case_is_neither_discharged_nor_closed_while_the_youth_is_missing(
    napp: App, mail: RouteBook
) -> None:
    # Closing (or discharging) the case of a youth recorded missing went ahead, and the
    # episode's alerts went on climbing about a case nobody works any more.
    from sqlalchemy import update

    from harbour.assessments.submit import submit_assessment
    from harbour.cases.transitions import close_if_follow_ups_done
    from harbour.db.models import Case
    from tests.cli.helpers import safest

    case = new_case(napp)
    missing.report_missing(napp, "cw1", case.reference, (START - timedelta(hours=30)).isoformat())

    def status(value: str) -> None:
        napp.run(
            lambda uow: uow.session.execute(
                update(Case).where(Case.id == case.id).values(status=value)
            )
        )

    for before, action in (("discharged", "close"), ("discharge_pending", "discharge")):
        status(before)
        refused = invoke(napp, action, case.reference[:12], "--as", "sup")
        assert refused.exit_code == 1 and "youth_missing" in refused.stderr, refused.stderr
        assert "record their return first" in refused.stderr
        assert show_case(napp, "sup", case.reference).status == before
    # The last follow-up done meanwhile does not close it either (the flow's step).
    status("discharged")
    found = napp.run(lambda uow: close_if_follow_ups_done(uow, uow.session.get_one(Case, case.id)))
    assert found is False and show_case(napp, "sup", case.reference).status == "discharged"
    assert all(a.acknowledged_at is None for a in _alerts(napp))

    missing.report_return(napp, "cw1", case.reference, START.isoformat())
    unscreened = invoke(napp, "close", case.reference[:12], "--as", "sup")
    assert unscreened.exit_code == 1 and "return_screening_open" in unscreened.stderr
    screening = safest(napp) | {"situation": "just_left"}
    submit_assessment(napp, "cw1", case.reference, "just_left", screening)
    closed = invoke(napp, "close", case.reference[:12], "--as", "sup")
    assert closed.exit_code == 0, closed.stderr
    assert show_case(napp, "sup", case.reference).status == "closed"


def test_summaries_count_open_episodes_and_show_the_sealed_number_to_staff_only(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    case = new_case(napp)
    other = new_case(napp)
    missing.report_missing(napp, "cw1", case.reference, (START - timedelta(hours=5)).isoformat())
    missing.record_step(napp, "cw1", case.reference, "law_enforcement", NUMBER)
    shown = show_case(napp, "sup", case.reference).as_json()["missing"]
    assert shown["hours"] == 5
    assert {s["step"]: s["report_number"] for s in shown["steps"]}["law_enforcement"] == NUMBER
    sealed = napp.run(
        lambda uow: uow.session.scalars(select(MissingStep.report_number_sealed)).all()
    )
    assert all(NUMBER not in (value or "") for value in sealed)
    flagged = {r.reference: r.missing_since for r in caseload(napp, "sup")}
    assert flagged[case.reference] == START - timedelta(hours=5)
    assert flagged[other.reference] is None
    counts = caseload_page(napp, "sup").counts
    assert counts["missing"] == 1 and counts["missing_oldest_hours"] == 5


def test_bad_input_is_refused_and_changes_nothing(napp: App, mail: RouteBook) -> None:
    case = new_case(napp)
    for since in ("tomorrow-ish", (START + timedelta(hours=1)).isoformat()):
        with pytest.raises(InvalidInput):
            missing.report_missing(napp, "cw1", case.reference, since)
    with pytest.raises(NotFound):
        missing.record_step(napp, "cw1", case.reference, "ncmec")
    missing.report_missing(napp, "cw1", case.reference, "08:00")
    with pytest.raises(InvalidInput):
        missing.record_step(napp, "cw1", case.reference, "police")
    with pytest.raises(InvalidInput):
        missing.record_step(napp, "cw1", case.reference, "supervisor_told", "123")
    with pytest.raises(InvalidInput):
        missing.report_return(napp, "cw1", case.reference, "07:00")  # before last seen
    assert show_case(napp, "cw1", case.reference).missing is not None
    assert not any(s["done"] for s in show_case(napp, "cw1", case.reference).missing["steps"])


def test_the_commands_take_the_report_number_from_a_file_only(napp: App, mail: RouteBook) -> None:
    case = new_case(napp)
    ref = case.reference[:12]
    started = invoke(napp, "missing", ref, "--since", "07:30", "--as", "cw1")
    assert started.exit_code == 0, started.stderr
    assert "law_enforcement" in started.stdout
    refused = invoke(napp, "missing-step", ref, "law_enforcement", "--report-number", NUMBER,
                     "--as", "cw1")  # fmt: skip
    assert refused.exit_code == 2 and NUMBER not in refused.stderr
    done = invoke(napp, "missing-step", ref, "law_enforcement", "--report-number", given(NUMBER),
                  "--as", "cw1")  # fmt: skip
    assert done.exit_code == 0 and "report number recorded" in done.stdout
    assert NUMBER not in done.stdout
    listed = invoke(napp, "cases", "--as", "sup")
    assert "MISSING" in listed.stdout
    back = invoke(napp, "returned", ref, "--at", "09:00", "--as", "cw1")
    assert back.exit_code == 0 and "just_left assessment due" in back.stdout


@pytest.mark.parametrize("ended_by", ["return", "last_step"])
def test_a_return_or_last_step_while_the_sweep_alerts_leaves_no_alert_climbing(
    seeded: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, ended_by: str
) -> None:
    # The sweep read the episode open; the youth's return (or the last step) was recorded and
    # committed before the sweep opened its overdue alert. PostgreSQL: nothing held the case,
    # so the alert opened after the return had taken the episode's alerts, and paged on-call
    # and the supervisors, then the admins, about a youth already back. (SQLite: the return
    # waits for the sweep's write lock, and takes the alert the sweep opened.)
    import threading

    from harbour.notify import missing_alerts

    case = new_case(seeded)
    missing.report_missing(seeded, "cw1", case.reference, (START - timedelta(hours=21)).isoformat())
    if ended_by == "last_step":
        for step in ("law_enforcement", "ncmec"):
            missing.record_step(seeded, "cw1", case.reference, step)
    clock.set(START + timedelta(hours=4))  # the steps' deadline has passed

    other = App(seeded.settings, clock)

    def end() -> None:
        if ended_by == "return":
            missing.report_return(other, "sup", case.reference, clock.now().isoformat())
        else:
            missing.record_step(other, "sup", case.reference, "supervisor_told")
        ended.append(ended_by)

    opening = missing_alerts._open

    def ended_meanwhile(uow: Any, *args: Any) -> int:
        if not threads:  # before the sweep's first alert of the episode
            threads.append(threading.Thread(target=end))
            threads[0].start()
            threads[0].join(3)  # PostgreSQL: done; SQLite: waiting for the sweep's write lock
        return opening(uow, *args)

    threads: list[threading.Thread] = []
    ended: list[str] = []
    monkeypatch.setattr(missing_alerts, "_open", ended_meanwhile)
    try:
        sweep(seeded)
    finally:
        for thread in threads:
            thread.join(20)
        other.dispose()
    assert len(threads) == 1 and ended == [ended_by]
    assert [a.kind for a in _alerts(seeded) if a.acknowledged_at is None] == []
    assert show_case(seeded, "sup", case.reference).missing is None or ended_by == "last_step"


@pytest.mark.parametrize("joins_by", ["assignment", "cover"])
def test_one_who_joins_the_case_is_paged_about_its_standing_alerts_of_their_tier(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer, joins_by: str
) -> None:
    # The steps' warning paged cw1 and the supervisors; then the case was given to cw2 (or cw2
    # started covering it). The warning's tier now counts cw2, but a tier is paged as the alert
    # reaches it: cw2 was never told, and, never paged, could not acknowledge it either.
    from harbour.cases.cover import end_cover, start_cover
    from harbour.notify.alerts import acknowledge

    case = new_case(napp)
    last_seen = (START - timedelta(hours=23, minutes=55)).isoformat()  # warned at once
    missing.report_missing(napp, "cw1", case.reference, last_seen)
    [warning] = _alerts(napp)
    [to_cw1] = rows(napp, alert_id=warning.id, recipient="cw1")
    clock.advance(timedelta(minutes=6))  # overdue, the warning not yet up its ladder
    assert deliver(napp, config=FAST).raised == 1
    [overdue] = [a for a in _alerts(napp) if a.kind == AlertKind.MISSING_STEPS_OVERDUE]
    if joins_by == "assignment":
        joined = invoke(napp, "assign", case.reference[:12], "cw2", "--as", "sup")
    else:
        joined = invoke(napp, "case", "cover", case.reference[:12], "--reason", given("MKCOVER"),
                        "--as", "cw2")  # fmt: skip
    assert joined.exit_code == 0, joined.stderr
    [to_cw2] = rows(napp, alert_id=warning.id, recipient="cw2")
    assert (to_cw2.kind, to_cw2.lane, to_cw2.context) == (to_cw1.kind, to_cw1.lane, to_cw1.context)
    assert to_cw2.status == OutboxStatus.SENT  # the command's own delivery sent it
    assert [m for m in smtp.to(f"cw2@{MAIL_DOMAIN}") if warning.id[:8] in m.subject]
    assert rows(napp, alert_id=overdue.id, recipient="cw2") == []  # on-call and supervisors'
    if joins_by == "assignment":  # given back and forth: nobody is paged twice at one tier
        for handle in ("cw1", "cw2"):
            invoke(napp, "assign", case.reference[:12], handle, "--as", "sup")
        assert len(rows(napp, alert_id=warning.id, recipient="cw1")) == 1
        assert len(rows(napp, alert_id=warning.id, recipient="cw2")) == 1
    else:
        end_cover(napp, "cw2", case.reference)
        start_cover(napp, "cw2", case.reference, "MKCOVER again")
        assert len(rows(napp, alert_id=warning.id, recipient="cw2")) == 1
    assert acknowledge(napp, "cw2", warning.id).acknowledged_by == "cw2"


WITHDRAW_REASON = "MKWITHDRAW recorded on the wrong case"


def _episodes(app: App) -> list[Any]:
    from harbour.db.models import MissingEpisode

    return app.run(lambda uow: list(uow.session.scalars(select(MissingEpisode))))


def _audited(app: App, action: str) -> list[Any]:
    from harbour.db.models import AuditEvent

    return app.run(
        lambda uow: list(uow.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
    )


def test_an_episode_recorded_in_error_is_withdrawn_by_a_supervisor_with_a_reason(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    # An episode recorded on the wrong case (or with a mistyped last-seen time) had no way
    # out but a return that never happened, which opened a return screening blocking discharge
    # and close, or steps that never happened; and its alerts went on paging.
    from harbour.cases.transitions import missing_work_open
    from harbour.db.models import Case
    from harbour.errors import Forbidden

    case = new_case(napp)
    since = (START - timedelta(hours=30)).isoformat()  # overdue at once: an alert pages
    opened = missing.report_missing(napp, "cw1", case.reference, since)
    [overdue] = _alerts(napp)
    before = (_episodes(napp)[0].withdrawn_at, [a.acknowledged_at for a in _alerts(napp)])
    with pytest.raises(Forbidden):
        missing.withdraw_episode(napp, "cw1", case.reference, WITHDRAW_REASON)
    for reason in ("", "   ", None):
        with pytest.raises(InvalidInput):
            missing.withdraw_episode(napp, "sup", case.reference, reason)
    assert (_episodes(napp)[0].withdrawn_at, [a.acknowledged_at for a in _alerts(napp)]) == before
    assert show_case(napp, "sup", case.reference).missing is not None

    clock.advance(timedelta(minutes=5))
    withdrawn = missing.withdraw_episode(napp, "sup", case.reference, WITHDRAW_REASON)
    assert withdrawn.id == opened.id and withdrawn.withdrawn_at == clock.now()
    assert withdrawn.alerts == (overdue.id,) and withdrawn.assessment_due_at is None
    assert WITHDRAW_REASON not in repr(withdrawn.as_json())
    [episode] = _episodes(napp)  # kept, not deleted; its steps too
    assert episode.returned_at is None and episode.assessment_id is None
    assert (
        episode.withdrawn_reason_sealed and WITHDRAW_REASON not in episode.withdrawn_reason_sealed
    )
    assert napp.run(lambda uow: uow.unseal(episode, "withdrawn_reason")) == WITHDRAW_REASON
    assert len(napp.run(lambda uow: uow.session.scalars(select(MissingStep)).all())) == 3
    assert all(a.acknowledged_by == "sup" for a in _alerts(napp))
    withdrawals = [r for r in _audited(napp, "case.missing.withdraw") if r.details]
    assert [(r.outcome, r.details.get("episode_id")) for r in withdrawals][-1] == ("ok", opened.id)
    assert WITHDRAW_REASON not in repr([r.details for r in _audited(napp, "case.missing.withdraw")])
    # No return screening, the case no longer shown missing, and nothing pages about it.
    opened_points = napp.run(
        lambda uow: uow.session.scalars(
            select(Assessment.point).where(
                Assessment.case_id == case.id, Assessment.status == AssessmentStatus.OPEN
            )
        ).all()
    )
    assert "just_left" not in opened_points
    assert show_case(napp, "sup", case.reference).missing is None
    assert missing.current_episode(napp, "sup", case.reference) is None
    assert not napp.run(  # neither discharge nor close is held by it
        lambda uow: missing_work_open(uow, uow.session.get_one(Case, case.id))
    )
    assert {r.reference: r.missing_since for r in caseload(napp, "sup")}[case.reference] is None
    assert caseload_page(napp, "sup").counts["missing"] == 0
    clock.advance(timedelta(hours=2))
    assert sweep(napp).missing == 0 and deliver(napp, config=FAST).raised == 0
    assert [r for r in rows(napp) if r.status == OutboxStatus.PENDING and r.alert_id] == []
    # Already ended: refused, nothing changed; a new episode may be recorded.
    with pytest.raises(NotFound):
        missing.withdraw_episode(napp, "sup", case.reference, WITHDRAW_REASON)
    with pytest.raises(NotFound):
        missing.record_step(napp, "cw1", case.reference, "ncmec")
    missing.report_missing(napp, "cw1", case.reference, "08:00")
    missing.report_return(napp, "cw1", case.reference, "09:00")
    with pytest.raises(NotFound):  # returned: ended, not withdrawn
        missing.withdraw_episode(napp, "sup", case.reference, WITHDRAW_REASON)
    done = [r for r in _audited(napp, "case.missing.withdraw") if "episode_id" in r.details]
    assert len(done) == 1


def test_the_withdraw_command_takes_its_reason_from_a_file_and_is_for_supervisors(
    napp: App, mail: RouteBook
) -> None:
    case = new_case(napp)
    ref = case.reference[:12]
    assert invoke(napp, "missing", ref, "--since", "07:30", "--as", "cw1").exit_code == 0
    typed = invoke(napp, "missing-withdraw", ref, "--reason", WITHDRAW_REASON, "--as", "sup")
    assert typed.exit_code == 2 and WITHDRAW_REASON not in typed.stderr
    bare = invoke(napp, "missing-withdraw", ref, "--as", "sup")
    assert bare.exit_code == 2 and "--reason" in bare.stderr
    worker = invoke(napp, "missing-withdraw", ref, "--reason", given(WITHDRAW_REASON),
                    "--as", "cw1")  # fmt: skip
    assert worker.exit_code == 1 and "may not do case.missing.withdraw" in worker.stderr
    assert show_case(napp, "sup", case.reference).missing is not None
    done = invoke(napp, "missing-withdraw", ref, "--reason", given(WITHDRAW_REASON),
                  "--as", "sup")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert "withdrawn" in done.stdout and WITHDRAW_REASON not in done.stdout
    assert "MISSING" not in invoke(napp, "cases", "--as", "sup").stdout
    again = invoke(napp, "missing-withdraw", ref, "--reason", given(WITHDRAW_REASON),
                   "--as", "sup")  # fmt: skip
    assert again.exit_code == 1 and "no_missing_episode" in again.stderr
