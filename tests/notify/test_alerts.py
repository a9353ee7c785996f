"""Hooks, alerts, acknowledgement and the escalation ladder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from harbour import events
from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.db.models import (
    Alert,
    Assessment,
    AuditEvent,
    Case,
    LifecycleEvent,
    OutboxMessage,
    Staff,
)
from harbour.demo.receivers import MAIL_DOMAIN, SmtpServer
from harbour.domain.refs import short_form
from harbour.domain.vocab import AlertKind, AssessmentPoint, AssessmentStatus, Lane
from harbour.notify import hooks
from harbour.notify.alerts import escalate_due
from tests.cli.helpers import answers_file, ok, referred_case
from tests.notify.conftest import RouteBook
from tests.notify.helpers import TIMEOUT, drain, imminent_alert, new_case, reassign, rows
from tests.support import executed, given, invoke


def _completed(app: App, case: Case, level: str, previous: str | None) -> Assessment:
    def work(uow: UnitOfWork) -> Assessment:
        row = Assessment(
            case_id=case.id,
            point=AssessmentPoint.INCIDENT,
            status=AssessmentStatus.COMPLETED,
            opened_at=uow.now(),
            completed_at=uow.now(),
            computed_level=level,
        )
        uow.session.add(row)
        uow.session.flush()
        hooks.assessment_completed(uow, uow.session.get_one(Case, case.id), row, previous)
        return row

    return app.run(work)


def _escalate(app: App) -> int:
    return escalate_due(app, app.clock.now())


def _recipients(app: App, **where: object) -> list[str]:
    return sorted({r.recipient for r in rows(app, **where)})


def test_case_assigned_tells_the_caseworker(napp: App, routes: RouteBook) -> None:
    routes.email("cw1")
    case = new_case(napp)
    napp.run(lambda uow: hooks.case_assigned(uow, uow.session.get_one(Case, case.id), "a1"))
    napp.run(lambda uow: hooks.case_assigned(uow, uow.session.get_one(Case, case.id), "a1"))
    [row] = rows(napp)
    assert (row.kind, row.recipient, row.channel, row.lane) == (
        "case_assigned",
        "cw1",
        "email",
        "normal",
    )
    assert row.context == {
        "case_ref": "-".join(case.reference.split("-")[:3]),
        "path": f"/cases/{case.reference}",
    }


def test_reassignment_tells_the_new_caseworker_once_per_assignment(
    napp: App, clock: FixedClock
) -> None:
    case = new_case(napp, caseworker="cw1")
    moved = invoke(napp, "assign", case.reference, "cw2", "--as", "coord")
    assert moved.exit_code == 0, moved.stderr
    assert [(r.kind, r.recipient) for r in rows(napp)] == [("case_assigned", "cw2")]

    assert invoke(napp, "assign", case.reference, "cw2", "--as", "coord").exit_code == 0
    reassign(napp, case, "cw2")
    assert len(rows(napp)) == 1  # to the same person: no assignment, no notice

    clock.advance(timedelta(minutes=1))
    reassign(napp, case, "cw1")
    assert [r.recipient for r in rows(napp)] == ["cw2", "cw1"]
    keys = [r.dedupe_key for r in rows(napp)]
    assert len(set(keys)) == 2


def test_a_case_given_back_before_its_notices_went_out_tells_nobody_it_was_taken_from(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer
) -> None:
    """The case goes to cw2 and its level is raised, then it is given back to cw1 before the
    relay's pass (the normal lane waits for it): cw2 is not told the case is theirs, nor asked
    to review it; the supervisor still is. Found by review: only reminder digests were
    withdrawn, and cw2's mailbox said "Case assigned to you" for a case they no longer had."""
    case = new_case(napp, caseworker="cw1")
    reassign(napp, case, "cw2")
    _completed(napp, case, "high", "low")  # cw2 and the supervisor asked to review it
    reassign(napp, case, "cw1")
    drain(napp, clock)
    assert smtp.to(f"cw2@{MAIL_DOMAIN}") == []
    subjects = [m.subject for m in smtp.to(f"sup@{MAIL_DOMAIN}")]
    assert subjects == [f"Harbour: case update {short_form(case.reference)}"]
    assert [m.subject for m in smtp.to(f"cw1@{MAIL_DOMAIN}")] == [
        f"Harbour: Case assigned to you {short_form(case.reference)}"
    ]
    withdrawn = {(r.kind, r.status, r.last_error) for r in rows(napp, recipient="cw2")}
    assert withdrawn == {
        ("case_assigned", "cancelled", "reassigned"),
        ("risk_raised", "cancelled", "reassigned"),
    }


def test_a_supervisor_the_case_was_taken_from_is_not_told_it_is_theirs(napp: App) -> None:
    """``assign`` gives cases to supervisors too: one who took a case and gave it on before the
    relay's pass is not told "assigned to you" for it (kept for the supervisors is only the
    raised level, which they are told as supervisors)."""
    case = new_case(napp, caseworker="cw1")
    reassign(napp, case, "sup")
    reassign(napp, case, "cw2")
    assert {(r.kind, r.status, r.last_error) for r in rows(napp, recipient="sup")} == {
        ("case_assigned", "cancelled", "reassigned")
    }
    assert [(r.kind, r.status) for r in rows(napp, recipient="cw2")] == [
        ("case_assigned", "pending")
    ]


def test_an_assignment_rolled_back_sends_nothing(napp: App) -> None:
    from harbour.cases.reads import assign_case

    case = new_case(napp, caseworker="cw1")

    def assign_then_fail(uow: UnitOfWork) -> None:
        assign_case(uow, None, uow.session.get_one(Case, case.id), "cw2")
        assert len(uow.session.scalars(select(OutboxMessage)).all()) == 1  # same transaction
        raise RuntimeError("the work after the assignment failed")

    with pytest.raises(RuntimeError):
        napp.run(assign_then_fail)
    assert rows(napp) == []
    assert napp.run(lambda uow: uow.session.get_one(Case, case.id).caseworker_id) == (
        napp.run(lambda uow: uow.session.scalar(select(Staff.id).where(Staff.handle == "cw1")))
    )


def test_risk_raised_to_high_tells_caseworker_and_supervisor_once(napp: App) -> None:
    case = new_case(napp)
    _completed(napp, case, "moderate", "low")
    assert rows(napp) == []
    _completed(napp, case, "high", "moderate")
    assert _recipients(napp) == ["cw1", "sup"]
    assert {r.kind for r in rows(napp)} == {"risk_raised"}
    _completed(napp, case, "high", "high")  # still high: not raised
    assert len(rows(napp)) == 2


def test_imminent_alerts_on_call_and_supervisors_then_climbs_the_ladder(
    napp: App, clock: FixedClock
) -> None:
    case = new_case(napp)
    assessment = _completed(napp, case, "imminent", "moderate")
    [alert] = napp.run(lambda uow: list(uow.session.scalars(select(Alert))))
    assert (alert.kind, alert.source_id, alert.tier) == (
        AlertKind.IMMINENT_THREAT,
        assessment.id,
        0,
    )
    first = rows(napp)
    assert {(r.kind, r.lane, r.alert_id) for r in first} == {
        ("imminent_threat", Lane.URGENT, alert.id)
    }
    assert _recipients(napp) == ["sup"]  # the seeded supervisor is also on call: one row
    clock.advance(TIMEOUT - timedelta(seconds=1))
    assert _escalate(napp) == 0
    clock.advance(timedelta(seconds=1))
    assert _escalate(napp) == 1
    assert _recipients(napp, kind="alert_escalated") == ["sup"]
    clock.advance(TIMEOUT)
    assert _escalate(napp) == 1
    assert _recipients(napp, kind="alert_escalated") == ["adm", "sup"]
    clock.advance(TIMEOUT * 10)
    assert _escalate(napp) == 0  # the ladder ended with the admins
    escalations = napp.run(
        lambda uow: uow.session.scalars(
            select(LifecycleEvent).where(LifecycleEvent.name == events.CASE_ESCALATED)
        ).all()
    )
    assert sorted(e.payload["tier"] for e in escalations) == [1, 2]


_TIER = select(Alert.tier)


def test_each_alert_s_next_climb_is_a_timeout_after_its_own_batch(
    napp: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass climbs a batch per transaction, a pause between two (``WriterGap``; thousands of
    alerts after an outage): an alert's new tier has the whole ``alert_ack_timeout`` from when
    its batch paged it, not from the pass's start. Found by review: a batch late in a long pass
    left its new tier that much less time before the next climb."""
    from harbour.notify import alerts

    monkeypatch.setattr(alerts, "ESCALATION_BATCH", 2)
    case = new_case(napp)
    for _ in range(4):
        imminent_alert(napp, case)
    clock.advance(TIMEOUT)
    started, pause = clock.now(), timedelta(minutes=1)
    assert escalate_due(napp, started, between=lambda: clock.advance(pause)) == 4
    found = napp.run(lambda uow: uow.session.execute(select(Alert.tier, Alert.next_escalation_at)))
    assert sorted(found) == [
        (1, started + TIMEOUT),
        (1, started + TIMEOUT),
        (1, started + pause + TIMEOUT),
        (1, started + pause + TIMEOUT),
    ]
    # A pass as of a moment ahead of the clock (``harbour sweep --at``): its next climbs are a
    # timeout after that moment, or a later batch of the pass would find them due again.
    fresh = {imminent_alert(napp, case).id for _ in range(2)}
    assert escalate_due(napp, clock.now() + TIMEOUT * 3) == 6  # the four above to the top
    tiers = napp.run(lambda uow: set(uow.session.scalars(_TIER.where(Alert.id.in_(fresh)))))
    assert tiers == {1}  # each climbed once


def test_a_case_raised_to_imminent_again_after_its_alert_was_taken_pages_afresh(
    napp: App, clock: FixedClock, tmp_path: Path
) -> None:
    """An override to imminent is an alert of its own once the case's last one was taken: a
    supervisor who lowers a level and raises it to imminent again, after the first alert was
    taken, pages the on-call staff again (the taken alert was found, nobody was paged, and the
    command said the alert had reached someone); while one waits to be taken, an override
    confirming imminent pages nobody twice. Found by review."""
    ref = referred_case(napp, tmp_path)
    calm = answers_file(napp, tmp_path, "calm")
    ok(napp, "assess", ref, "--point", "initial_contact", "--answers", calm, "--as", "cw1")
    override = ("override", ref, "--reason", given("MKwhy"), "--as", "sup")
    first = ok(napp, *override, "--level", "imminent")
    clock.advance(timedelta(seconds=30))  # confirmed, or the form sent twice: no second page
    assert ok(napp, *override, "--level", "imminent")["alert"] == first["alert"]
    assert len([r for r in rows(napp) if r.kind == "imminent_threat"]) == 1
    ok(napp, "ack", first["alert"], "--as", "sup")
    clock.advance(timedelta(minutes=5))
    ok(napp, *override, "--level", "moderate")
    again = ok(napp, *override, "--level", "imminent")
    assert again["alert"] not in (None, first["alert"])
    standing = napp.run(
        lambda uow: uow.session.scalars(select(Alert.id).where(Alert.acknowledged_at.is_(None)))
    )
    assert list(standing) == [again["alert"]]
    pages = {(r.kind, r.lane) for r in rows(napp) if r.alert_id == again["alert"]}
    assert pages == {("imminent_threat", Lane.URGENT)}


def test_an_acknowledged_alert_does_not_escalate(napp: App, clock: FixedClock) -> None:
    case = new_case(napp)
    _completed(napp, case, "imminent", None)
    [alert] = napp.run(lambda uow: list(uow.session.scalars(select(Alert))))
    clock.advance(timedelta(minutes=3))
    result = invoke(napp, "ack", alert.id[:8], "--as", "sup", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["acknowledged_by"] == "sup"
    again = invoke(napp, "ack", alert.id, "--as", "adm", "--json")
    assert again.json()["acknowledged_by"] == "sup"  # the first acknowledgement stands
    clock.advance(TIMEOUT * 3)
    assert _escalate(napp) == 0
    acked = napp.run(
        lambda uow: uow.session.scalars(
            select(LifecycleEvent).where(LifecycleEvent.name == events.ALERT_ACKNOWLEDGED)
        ).all()
    )
    assert [e.subject_id for e in acked] == [alert.id]
    audited = napp.run(
        lambda uow: uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "alert.ack")
        ).all()
    )
    assert [a.actor_handle for a in audited] == ["sup"]


def test_only_those_paged_supervisors_and_admins_may_acknowledge(napp: App) -> None:
    napp.run(
        lambda uow: uow.session.execute(
            update(Staff).where(Staff.handle == "cw2").values(on_call=True)
        )
    )
    case = new_case(napp)  # cw1's case; cw1 is not on call
    _completed(napp, case, "imminent", None)
    [alert] = napp.run(lambda uow: list(uow.session.scalars(select(Alert))))
    refused = invoke(napp, "ack", alert.id, "--as", "cw1")  # sees it (their case): not paged
    assert refused.exit_code == 1 and "not_permitted" in refused.stderr
    hidden = invoke(napp, "ack", alert.id, "--as", "coord")  # may not even see it
    assert hidden.exit_code == 1 and "alert_not_found" in hidden.stderr
    denied = napp.run(
        lambda uow: uow.session.execute(
            select(AuditEvent.actor_handle, AuditEvent.case_id).where(
                AuditEvent.action == "alert.ack", AuditEvent.outcome == "denied"
            )
        ).all()
    )
    assert sorted(denied) == [("coord", case.id), ("cw1", case.id)]
    assert napp.run(lambda uow: uow.session.get_one(Alert, alert.id).acknowledged_at) is None
    assert napp.run(lambda uow: uow.session.scalars(select(OutboxMessage.status)).all()) == [
        "pending"
    ] * len(rows(napp))  # a refused acknowledgement cancels no page
    paged = invoke(napp, "ack", alert.id, "--as", "cw2", "--json")
    assert paged.exit_code == 0, paged.stderr
    assert paged.json()["acknowledged_by"] == "cw2"


def test_ack_is_agency_scoped_permissioned_and_checked(napp: App) -> None:
    case = new_case(napp)
    _completed(napp, case, "imminent", None)
    [alert] = napp.run(lambda uow: list(uow.session.scalars(select(Alert))))
    other = invoke(napp, "ack", alert.id, "--as", "cw3")
    missing = invoke(napp, "ack", "0" * 32, "--as", "cw3")
    assert other.exit_code == missing.exit_code == 1
    assert other.stderr == missing.stderr
    bad = invoke(napp, "ack", "not-an-id", "--as", "cw1")
    assert bad.exit_code == 2 and "ALERT_ID" in bad.stderr
    assert napp.run(lambda uow: uow.session.get_one(Alert, alert.id).acknowledged_at) is None


def test_everyone_the_ladder_pages_may_acknowledge(napp: App, clock: FixedClock) -> None:
    case = new_case(napp)
    _completed(napp, case, "imminent", None)
    for _ in range(2):
        clock.advance(TIMEOUT)
        _escalate(napp)
    [alert] = napp.run(lambda uow: list(uow.session.scalars(select(Alert))))
    assert alert.tier == 2 and alert.next_escalation_at is None  # the top of the ladder
    paged = _recipients(napp, alert_id=alert.id)
    assert "adm" in paged
    first = invoke(napp, "ack", alert.id[:8], "--as", "adm", "--json")
    assert first.exit_code == 0, first.stderr
    assert first.json()["acknowledged_by"] == "adm"
    for handle in paged:
        assert invoke(napp, "ack", alert.id, "--as", handle).exit_code == 0, handle


def test_an_alert_by_id_answers_only_those_who_may_see_it(napp: App) -> None:
    """Reading or acknowledging one alert by id follows the rule that lists them: a caseworker
    of another case is answered exactly as for an unknown id (audited as a refusal, on the
    case); the one it paged, the case's caseworker and a supervisor read it."""
    from harbour.errors import NotFound
    from harbour.notify.alerts import show_alert

    case = new_case(napp)  # cw1's; cw2 is not on call
    _completed(napp, case, "imminent", None)
    [alert] = napp.run(lambda uow: list(uow.session.scalars(select(Alert))))
    unknown = invoke(napp, "ack", "0" * 32, "--as", "cw2")
    for typed in (alert.id, alert.id[:8]):
        hidden = invoke(napp, "ack", typed, "--as", "cw2")
        assert (hidden.exit_code, hidden.stderr) == (unknown.exit_code, unknown.stderr), typed
    for typed in (alert.id, "f" * 32):
        with pytest.raises(NotFound) as read:
            show_alert(napp, "cw2", typed)
        assert str(read.value) == "alert_not_found: no such alert", typed
    refusals = napp.run(
        lambda uow: uow.session.execute(
            select(AuditEvent.action, AuditEvent.outcome, AuditEvent.case_id, AuditEvent.details)
            .where(AuditEvent.actor_handle == "cw2")
            .order_by(AuditEvent.seq)
        ).all()
    )
    why = {"why": "not_visible", "alert_id": alert.id}
    assert [tuple(r) for r in refusals] == [
        ("alert.ack", "not_found", None, {}),
        ("alert.ack", "denied", case.id, why),
        ("alert.ack", "denied", case.id, why),
        ("alert.read", "denied", case.id, why),
        ("alert.read", "not_found", None, {}),
    ]
    assert napp.run(lambda uow: uow.session.get_one(Alert, alert.id).acknowledged_at) is None
    for handle in ("cw1", "sup", "adm"):  # the case's caseworker, the one paged, an admin
        assert show_alert(napp, handle, alert.id[:8]).id == alert.id, handle
    napp.run(
        lambda uow: uow.session.execute(
            update(Staff).where(Staff.handle == "cw2").values(on_call=True)
        )
    )
    paged = imminent_alert(napp, case)  # on call now: paged
    assert show_alert(napp, "cw2", paged.id).id == paged.id
    assert show_alert(napp, "cw2", paged.id[:8]).id == paged.id  # the hidden one is not counted
    taken = invoke(napp, "ack", paged.id, "--as", "cw2", "--json")
    assert taken.exit_code == 0 and taken.json()["acknowledged_by"] == "cw2", taken.stderr


def test_the_alerts_paged_to_someone_are_found_by_index_not_by_reading_the_outbox(
    napp: App,
) -> None:
    """``visible_to`` asks which alerts were paged to a caseworker: the outbox keeps every
    notification ever sent, so that must be an index lookup on both databases (PostgreSQL asked
    with sequential scans off: a handful of rows would otherwise be read whole, rightly)."""
    from sqlalchemy import text

    from harbour.notify.alerts import list_alerts

    with executed(napp.engine) as seen:
        list_alerts(napp, "cw1")
    [(statement, parameters)] = [
        (statement, parameters)
        for statement, parameters in seen
        if statement.lstrip().upper().startswith("SELECT") and "FROM outbox" in statement
    ]
    sqlite = napp.engine.dialect.name == "sqlite"
    with napp.engine.begin() as conn:
        if not sqlite:
            conn.execute(text("SET LOCAL enable_seqscan = off"))
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        plan = " | ".join(
            str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters)
        )
    assert "ix_outbox_recipient_alert" in plan, plan
    assert "SCAN outbox" not in plan and "Seq Scan on outbox" not in plan, plan


def test_an_assessment_reads_the_routes_file_before_its_transaction(
    napp: App, routes: RouteBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the routes file imports Apprise and loads its plugins: an imminent assessment
    does it before its transaction opens (which on SQLite holds the write lock), and the alert's
    pages use the routes handed in (issue 16)."""
    from sqlalchemy import event

    from harbour.assessments.submit import submit_assessment
    from harbour.notify import directory
    from tests.cli.helpers import safest

    routes.email("sup")
    case = new_case(napp)
    seen: list[str] = []
    read = directory.load_routes

    def load_routes(settings):  # type: ignore[no-untyped-def]
        seen.append("routes")
        return read(settings)

    def begin(conn) -> None:  # type: ignore[no-untyped-def]
        seen.append("begin")

    monkeypatch.setattr(directory, "load_routes", load_routes)
    event.listen(napp.engine, "begin", begin)
    try:
        answers = safest(napp) | {"situation": "just_left", "immediate_danger": "yes"}
        submit_assessment(napp, "cw1", case.reference, "incident", answers)
    finally:
        event.remove(napp.engine, "begin", begin)
    assert seen[0] == "routes" and "routes" not in seen[1:], seen
    assert _recipients(napp, kind="imminent_threat") == ["sup"]  # paged by its route


def test_an_alert_is_written_once_with_its_tier_and_next_escalation(napp: App) -> None:
    """Opened one by one (an imminent threat) or many at once (a sweep's overdue escalations),
    an alert is paged before it is written: one INSERT carries its tier and next escalation,
    with no UPDATE of each alert after it (7,500 of them after an outage)."""
    from harbour.db.base import new_id
    from harbour.domain.vocab import NotificationKind
    from harbour.notify.alerts import open_alerts

    case = new_case(napp)

    def many(uow: UnitOfWork) -> int:
        found = uow.session.get_one(Case, case.id)
        return open_alerts(
            uow,
            AlertKind.OVERDUE_ESCALATION,
            NotificationKind.OVERDUE_ESCALATION,
            [(found, new_id(), {"due_date": "2026-03-01"}) for _ in range(3)],
        )

    with executed(napp.engine) as seen:
        imminent_alert(napp, case)
        assert napp.run(many) == 3
    writes = [
        statement.split()[0].upper()
        for statement, _ in seen
        if statement.lstrip().upper().startswith(("INSERT INTO ALERTS", "UPDATE ALERTS"))
    ]
    assert writes == ["INSERT", "INSERT"]
    with napp.engine.connect() as conn:
        opened = conn.execute(select(Alert.kind, Alert.tier, Alert.next_escalation_at)).all()
    assert len(opened) == 4
    assert all(at == napp.clock.now() + TIMEOUT for _, _, at in opened)
    assert {(kind, tier) for kind, tier, _ in opened} == {
        (AlertKind.IMMINENT_THREAT, 0),
        (AlertKind.OVERDUE_ESCALATION, 0),
    }


def test_alerts_climb_together_in_a_few_statements_whatever_their_number(
    napp: App, clock: FixedClock
) -> None:
    """A batch of alerts climbs with the same statements for 4 as for 16 (cases read at once,
    each agency's tier looked up once, pages and events written together), and each climbs
    exactly as alone, to its own agency's people: imminent threats to the supervisors again,
    overdue escalations to the admins (south has none: nobody paged), one event each."""

    from harbour.cases.intake import refer
    from harbour.db.base import new_id
    from harbour.domain.vocab import NotificationKind
    from harbour.notify.alerts import open_alert
    from tests.support import referral

    north = new_case(napp, "MKN")
    south = refer(napp, "coord2", referral("MKS") | {"caseworker": "cw3"}, None)
    IMM, OVERDUE = AlertKind.IMMINENT_THREAT, AlertKind.OVERDUE_ESCALATION
    notices = {IMM: NotificationKind.IMMINENT_THREAT, OVERDUE: NotificationKind.OVERDUE_ESCALATION}
    climbs_to = {
        (north.id, IMM): {"sup"},
        (north.id, OVERDUE): {"adm"},
        (south.id, IMM): {"sup2"},
        (south.id, OVERDUE): set(),
    }

    def open_some(count: int) -> list[str]:
        def work(uow: UnitOfWork) -> list[str]:
            opened = []
            for n in range(count):  # every (agency, kind) in every four
                case = uow.session.get_one(Case, (north, south)[n % 2].id)
                kind = (IMM, OVERDUE)[n // 2 % 2]
                opened.append(open_alert(uow, case, kind, new_id(), notices[kind]).id)
            return opened

        return napp.run(work)

    counted = []
    for count in (4, 16):
        opened = open_some(count)
        clock.advance(TIMEOUT)
        with executed(napp.engine) as seen:
            assert _escalate(napp) == count
        counted.append(len(seen))
        climbed = napp.run(
            lambda uow, opened=opened: uow.session.scalars(
                select(Alert).where(Alert.id.in_(opened))
            ).all()
        )
        assert {alert.tier for alert in climbed} == {1}
        for alert in climbed:
            paged = {
                r.recipient
                for r in rows(napp, alert_id=alert.id)
                if r.dedupe_key.startswith(f"alert:{alert.id}:1")
            }
            assert paged == climbs_to[alert.case_id, alert.kind], (alert.case_id, alert.kind)
        recorded = napp.run(
            lambda uow: uow.session.scalars(
                select(LifecycleEvent).where(LifecycleEvent.name == events.CASE_ESCALATED)
            ).all()
        )
        assert sorted(
            e.payload["alert_id"] for e in recorded if e.payload["alert_id"] in opened
        ) == sorted(opened)
        napp.run(  # acknowledged: out of the next round
            lambda uow: uow.session.execute(
                update(Alert).values(acknowledged_at=uow.now(), acknowledged_by="sup")
            )
        )
    assert counted[0] == counted[1], counted
