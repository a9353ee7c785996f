"""Visit check-ins: a missed one alerts the buddy within two minutes of the deadline (the relay's
minute schedule, simulated), climbs to the supervisors, on-call and the admins, and stops on
check-in or acknowledgement. Where the visit went is shown only to those who may see it,
audited."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from harbour.app import App
from harbour.cases import visits
from harbour.clock import FixedClock
from harbour.db.base import ids_from
from harbour.db.models import Alert, AuditEvent, Visit
from harbour.demo.receivers import MAIL_DOMAIN, Receiver, SmtpServer
from harbour.demo.receivers import RouteBook as Routes
from harbour.domain.vocab import AlertKind, NotificationKind, OutboxStatus
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.notify.alerts import acknowledge
from harbour.notify.relay import deliver
from harbour.orchestration.sweep import sweep
from tests.conftest import START
from tests.notify.conftest import FAST
from tests.notify.helpers import BANNED_WORDS, rows
from tests.support import invoke

WHERE = "MKVISIT 12 Elm Street, apartment 3"
GRACE = timedelta(minutes=15)


def _start(app: App, who: str = "cw1", *, minutes: int = 60, **extra: object) -> visits.VisitView:
    back = (START + timedelta(minutes=minutes)).isoformat()
    return visits.start_visit(app, who, back_at=back, location=WHERE, **extra)  # type: ignore[arg-type]


def _minute_by_minute(app: App, clock: FixedClock, until: timedelta) -> None:
    """The relay's schedule (every minute), simulated up to ``START + until``."""
    while clock.now() < START + until:
        clock.advance(timedelta(minutes=1))
        deliver(app, config=FAST)


def _mails(smtp: SmtpServer, handle: str) -> list[str]:
    return [m.subject for m in smtp.to(f"{handle}@{MAIL_DOMAIN}")]


def _alert(app: App) -> Alert:
    return app.run(lambda uow: uow.session.scalars(select(Alert)).one())


def test_a_missed_check_in_reaches_the_buddy_within_two_minutes_then_climbs(
    napp: App, clock: FixedClock, mail: Routes, smtp: SmtpServer
) -> None:
    view = _start(napp, buddy="cw2")
    deadline = view.deadline_at - START
    assert deadline == timedelta(minutes=60) + GRACE
    _minute_by_minute(napp, clock, deadline - timedelta(minutes=1))
    assert _mails(smtp, "cw2") == []
    _minute_by_minute(napp, clock, deadline + timedelta(minutes=2))
    [subject] = _mails(smtp, "cw2")
    alert = _alert(napp)
    assert alert.kind == AlertKind.VISIT_OVERDUE and alert.case_id is None
    assert alert.opened_at - view.deadline_at <= timedelta(minutes=2)
    assert "visit check-in overdue: cw1" in subject and alert.id[:8] in subject
    assert _mails(smtp, "sup") == []

    _minute_by_minute(napp, clock, deadline + timedelta(minutes=11))  # the ack timeout: 10 min
    assert len(_mails(smtp, "sup")) == 1  # the supervisors' tier
    _minute_by_minute(napp, clock, deadline + timedelta(minutes=21))
    assert len(_mails(smtp, "sup")) == 2  # on-call (sup is on call)
    assert _alert(napp).tier == 2

    back = visits.check_in(napp, "cw1")
    assert back.back_at == clock.now()
    alert = _alert(napp)
    assert alert.acknowledged_by == "cw1" and alert.next_escalation_at is None
    sent = len(smtp.received)
    _minute_by_minute(napp, clock, deadline + timedelta(hours=2))
    # Nothing after the check-in but one "back safe" to each person the alert paged.
    assert len(smtp.received) == sent + 2
    assert "back safe: cw1" in _mails(smtp, "cw2")[-1] and "back safe" in _mails(smtp, "sup")[-1]
    for message in smtp.received:
        assert "MKVISIT" not in message.text and "Elm" not in message.text
        for word in BANNED_WORDS:
            assert word not in message.subject.lower()


def test_back_in_time_raises_nothing(napp: App, clock: FixedClock, mail: Routes) -> None:
    _start(napp, buddy="cw2")
    clock.advance(timedelta(minutes=70))
    visits.check_in(napp, "cw1")
    _minute_by_minute(napp, clock, timedelta(hours=3))
    assert napp.run(lambda uow: uow.session.scalars(select(Alert)).all()) == []


def test_the_buddy_acknowledging_stops_the_ladder(
    napp: App, clock: FixedClock, mail: Routes, smtp: SmtpServer
) -> None:
    view = _start(napp, buddy="cw2")
    _minute_by_minute(napp, clock, view.deadline_at - START + timedelta(minutes=1))
    acknowledge(napp, "cw2", _alert(napp).id)
    _minute_by_minute(napp, clock, timedelta(hours=3))
    assert _mails(smtp, "sup") == []
    assert visits.list_visits(napp, "sup")[0].overdue  # still out: it shows as overdue


def test_more_time_moves_the_deadline_and_a_late_extension_stops_the_alert(
    napp: App, clock: FixedClock, mail: Routes, smtp: SmtpServer
) -> None:
    view = _start(napp, buddy="cw2")
    clock.advance(timedelta(minutes=50))
    longer = visits.extend(napp, "cw1")  # 30 more minutes from the time given
    assert longer.expected_back_at == view.expected_back_at + timedelta(minutes=30)
    _minute_by_minute(napp, clock, timedelta(minutes=104))
    assert _mails(smtp, "cw2") == []
    _minute_by_minute(napp, clock, timedelta(minutes=107))
    assert len(_mails(smtp, "cw2")) == 1
    first = _alert(napp)
    again = visits.extend(napp, "cw1", 30)  # overdue: 30 minutes from now
    assert again.expected_back_at == clock.now() + timedelta(minutes=30)
    assert again.alert_id is None
    assert napp.run(lambda uow: uow.session.get_one(Alert, first.id)).acknowledged_by == "cw1"
    _minute_by_minute(napp, clock, timedelta(minutes=107 + 30 + 15 + 2))
    alerts = napp.run(lambda uow: uow.session.scalars(select(Alert)).all())
    assert len(alerts) == 2 and len(_mails(smtp, "cw2")) == 2  # the new deadline alerted afresh


def test_the_buddy_defaults_to_a_supervisor_and_where_is_shown_to_few(napp: App) -> None:
    view = _start(napp)
    assert view.buddy == "sup" and view.location is None
    assert "location" not in view.as_json()
    for reader in ("cw1", "sup"):
        assert visits.show_visit(napp, reader, view.id[:12]).location == WHERE
    for outsider in ("cw2", "coord", "adm", "sup2"):
        with pytest.raises(NotFound):
            visits.show_visit(napp, outsider, view.id)
    audit = napp.run(
        lambda uow: uow.session.execute(
            select(AuditEvent.actor_handle, AuditEvent.outcome)
            .where(AuditEvent.action == "visit.read")
            .order_by(AuditEvent.seq)
        ).all()
    )
    assert [tuple(a) for a in audit] == [
        ("cw1", "ok"),
        ("sup", "ok"),
        ("cw2", "not_found"),
        ("coord", "not_found"),
        ("adm", "not_found"),
        ("sup2", "not_found"),
    ]
    sealed = napp.run(lambda uow: uow.session.scalars(select(Visit.location_sealed)).one())
    assert sealed is not None and "MKVISIT" not in sealed
    assert [v.visitor for v in visits.list_visits(napp, "cw2")] == []  # not theirs
    assert [v.visitor for v in visits.list_visits(napp, "sup")] == ["cw1"]


def test_the_sweep_raises_a_missed_check_in_too(napp: App, clock: FixedClock) -> None:
    view = _start(napp, buddy="cw2")
    clock.set(view.deadline_at)
    assert sweep(napp).visits == 1
    assert sweep(napp).visits == 0  # once
    [page] = rows(napp, recipient="cw2")
    assert page.lane == "urgent" and page.context["handle"] == "cw1"
    assert page.status == OutboxStatus.PENDING


def test_bad_starts_are_refused_and_change_nothing(napp: App) -> None:
    cases = [
        {"back_at": (START - timedelta(minutes=5)).isoformat()},
        {"back_at": (START + timedelta(hours=20)).isoformat()},
        {"back_at": "soonish"},
        {"back_at": "16:00", "buddy": "nobody"},
        {"back_at": "16:00", "buddy": "cw1"},  # oneself
        {"back_at": "16:00", "buddy": "cw3"},  # another agency's
        {"back_at": "16:00", "location": "a\x00b"},
    ]
    for options in cases:
        with pytest.raises(InvalidInput) as refused:
            visits.start_visit(napp, "cw1", **options)  # type: ignore[arg-type]
        assert "soonish" not in str(refused.value) and "nobody" not in str(refused.value)
    with pytest.raises(NotFound):
        visits.check_in(napp, "cw1")
    _start(napp)
    with pytest.raises(Conflict):
        _start(napp)
    assert len(napp.run(lambda uow: uow.session.scalars(select(Visit)).all())) == 1


def test_a_clock_time_already_gone_by_is_refused_saying_how_it_was_read(napp: App) -> None:
    """At 09:00, "08:30" is tomorrow morning, past the longest visit: the refusal says so,
    rather than only "within 16 hours of now", which 08:30 seems to be."""
    with pytest.raises(InvalidInput) as refused:
        visits.start_visit(napp, "cw1", back_at="08:30", location=None, buddy=None)
    [(field, reason)] = refused.value.problems
    assert field == "--back-at" and "within 16 hours of now" in reason
    assert "read as 2026-03-03 08:30 EST" in reason


def test_the_commands(napp: App, clock: FixedClock) -> None:
    from tests.support import given

    refused = invoke(napp, "visit", "start", "--back-at", "16:00", "--where", "Elm", "--as", "cw1")
    assert refused.exit_code == 2 and "Elm" not in refused.stderr
    started = invoke(
        napp, "visit", "start", "--back-at", "10:30", "--where", given(WHERE), "--as", "cw1"
    )
    assert started.exit_code == 0, started.stderr
    assert "sup (your buddy) is alerted" in started.stdout and "MKVISIT" not in started.stdout
    listed = invoke(napp, "visit", "list", "--as", "sup")
    assert "cw1" in listed.stdout and "MKVISIT" not in listed.stdout
    visit_id = started.stdout.split()[1]
    shown = invoke(napp, "visit", "show", visit_id, "--as", "sup")
    assert WHERE in shown.stdout
    assert invoke(napp, "visit", "extend", "--as", "cw1").exit_code == 0
    back = invoke(napp, "visit", "back", "--as", "cw1", "--json")
    assert back.exit_code == 0 and '"back_at"' in back.stdout


def test_a_supervisor_not_back_is_not_the_one_paged_about_it(
    napp: App, clock: FixedClock, mail: Routes, smtp: SmtpServer
) -> None:
    # sup, the agency's one supervisor and on call, goes out with no buddy (no other supervisor
    # to default to); coord is on call too. The supervisors' tier was sup alone: the person not
    # back was the only one paged, and coord heard only after the ack timeout (10 minutes).
    from sqlalchemy import update

    from harbour.db.models import Staff

    napp.run(
        lambda uow: uow.session.execute(
            update(Staff).where(Staff.handle == "coord").values(on_call=True)
        )
    )
    view = _start(napp, "sup")
    assert view.buddy is None
    _minute_by_minute(napp, clock, view.deadline_at - START + timedelta(minutes=2))
    alert = _alert(napp)
    assert len(_mails(smtp, "coord")) == 1 and alert.id[:8] in _mails(smtp, "coord")[0]
    assert {r.recipient for r in rows(napp, alert_id=alert.id)} == {"coord"}
    _minute_by_minute(napp, clock, view.deadline_at - START + timedelta(hours=1))
    assert _mails(smtp, "sup") == []  # never the one who is not back
    assert acknowledge(napp, "coord", alert.id).acknowledged_by == "coord"


def test_a_visitor_who_is_every_tier_leaves_the_admins_to_page_and_they_see_where(
    napp: App, clock: FixedClock, mail: Routes, smtp: SmtpServer
) -> None:
    # sup, the agency's one supervisor and its one on-call person, goes out with no buddy: each
    # tier of the ladder was sup alone and passed over, so the alert stopped at nobody_to_page,
    # though the agency has an admin; an admin paged could not have seen where to send help.
    view = _start(napp, "sup")
    assert view.buddy is None
    _minute_by_minute(napp, clock, view.deadline_at - START + timedelta(minutes=2))
    alert = _alert(napp)
    assert {r.recipient for r in rows(napp, alert_id=alert.id)} == {"adm"}
    [subject] = _mails(smtp, "adm")
    assert "visit check-in overdue: sup" in subject and alert.id[:8] in subject
    assert visits.show_visit(napp, "adm", view.id).location == WHERE  # paged: where to go
    assert [v.may_see_where for v in visits.list_visits(napp, "adm")] == [True]
    with pytest.raises(NotFound):
        visits.show_visit(napp, "coord", view.id)  # not paged, not on call: as before
    _minute_by_minute(napp, clock, view.deadline_at - START + timedelta(hours=1))
    assert _mails(smtp, "sup") == []  # never the one who is not back
    assert acknowledge(napp, "adm", alert.id).acknowledged_by == "adm"


def test_a_buddy_deactivated_while_paged_passes_the_alert_on_at_once(
    napp: App, clock: FixedClock, mail: Routes, smtp: SmtpServer
) -> None:
    # cw2, the buddy, had the alert alone; deactivated, their waiting page was dead-lettered and
    # the alert waited a full alert_ack_timeout (10 minutes) before reaching the supervisors.
    view = _start(napp, buddy="cw2")
    clock.set(view.deadline_at)
    assert sweep(napp).visits == 1  # raised; the buddy's page not sent yet
    done = invoke(napp, "staff", "deactivate", "cw2", "--as", "adm")
    assert done.exit_code == 0, done.stderr
    [page] = rows(napp, recipient="cw2")
    assert (page.status, page.last_error) == (OutboxStatus.DEAD, "recipient_deactivated")
    alert = _alert(napp)
    assert alert.tier == 1
    [subject] = _mails(smtp, "sup")  # sent by the command itself: the urgent lane
    assert "visit check-in overdue: cw1" in subject and alert.id[:8] in subject


def test_a_typed_id_two_hidden_visits_share_is_answered_as_no_visit(napp: App) -> None:
    """A prefix that matches two visits the reader may not see is answered as a missing visit,
    not as "more than one" (which would tell them those visits exist); one they may see among
    them is the one they mean."""
    with ids_from(lambda: "abcdef01" + uuid.uuid4().hex[8:]):
        mine = _start(napp, "cw1")
        _start(napp, "cw2")
    with pytest.raises(NotFound):
        visits.show_visit(napp, "coord", "abcdef01")
    assert visits.show_visit(napp, "cw1", "abcdef01").id == mine.id  # the other is cw2's
    with pytest.raises(InvalidInput, match="more than one"):
        visits.show_visit(napp, "sup", "abcdef01")  # sees both: told to type more


def _visit_state(app: App) -> list[tuple[str, object, int, object]]:
    """Each visit's id, expected return, extensions and return, first started first."""
    return app.run(
        lambda uow: [
            (v.id, v.expected_back_at, v.extensions, v.back_at)
            for v in uow.session.scalars(select(Visit).order_by(Visit.started_at, Visit.id))
        ]
    )


def test_an_older_more_time_sent_again_after_a_newer_one_gives_no_more_time(napp: App) -> None:
    # Only the latest extend's key was once kept (on the visit): an earlier "30 more minutes"
    # sent again (a late retry, the back button) after a later one extended the visit again.
    view = _start(napp, buddy="cw2")
    visits.extend(napp, "cw1", 30, "more-first")
    visits.extend(napp, "cw1", 30, "more-second")
    twice = _visit_state(napp)
    assert twice == [(view.id, view.expected_back_at + timedelta(minutes=60), 2, None)]
    with pytest.raises(Conflict) as refused:
        visits.extend(napp, "cw1", 30, "more-first")
    assert refused.value.code == "idempotency_key_spent"
    latest = visits.extend(napp, "cw1", 30, "more-second")  # the latest: as it answered
    assert latest.expected_back_at == view.expected_back_at + timedelta(minutes=60)
    assert _visit_state(napp) == twice


def test_more_time_or_i_m_back_from_a_visit_already_back_changes_no_new_visit(
    napp: App, clock: FixedClock
) -> None:
    # A stale "30 more minutes" (or "I'm back") of a visit already back, sent while the next
    # visit is out, extended (or ended) the new visit.
    first = _start(napp, buddy="cw2")
    visits.extend(napp, "cw1", 30, "more-old")
    visits.check_in(napp, "cw1", "back-old")
    clock.advance(timedelta(minutes=5))
    second = _start(napp, buddy="cw2", idempotency_key="start-new")
    before = _visit_state(napp)
    assert [v[0] for v in before] == [first.id, second.id] and before[1][3] is None
    for stale in (
        lambda: visits.extend(napp, "cw1", 30, "more-old"),
        lambda: visits.check_in(napp, "cw1", "back-old"),
    ):
        with pytest.raises(Conflict) as refused:
            stale()
        assert refused.value.code == "idempotency_key_spent"
        assert _visit_state(napp) == before


def test_more_time_from_the_page_of_a_visit_checked_in_changes_no_new_visit(
    napp: App, clock: FixedClock
) -> None:
    # The visits page gives "I'm back" and "30 more minutes" one key: "I'm back" clicked, a new
    # visit started, then the old page's "30 more minutes" (the back button) gave the new visit
    # time, its key never used for an extend. The page's buttons name its visit, as it sends them.
    first = _start(napp, buddy="cw2")
    visits.check_in(napp, "cw1", "page-old", first.id)
    clock.advance(timedelta(minutes=5))
    _start(napp, buddy="cw2")
    before = _visit_state(napp)
    with pytest.raises(Conflict) as refused:
        visits.extend(napp, "cw1", 30, "page-old", first.id)
    assert refused.value.code == "idempotency_key_spent"
    assert _visit_state(napp) == before


def test_i_m_back_sent_twice_answers_the_second_as_the_first(napp: App, clock: FixedClock) -> None:
    # A double click on "I'm back": the second was answered "Not found" (no visit out) though
    # the person had checked in. Sent again with its key, it is the check-in it recorded.
    view = _start(napp, buddy="cw2")
    clock.advance(timedelta(minutes=20))
    first = visits.check_in(napp, "cw1", "back-once")
    clock.advance(timedelta(seconds=2))
    second = visits.check_in(napp, "cw1", "back-once")
    assert (
        first == second and first.id == view.id and first.back_at == START + timedelta(minutes=20)
    )
    assert _visit_state(napp)[0][3] == START + timedelta(minutes=20)
    actions = napp.run(
        lambda uow: list(
            uow.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.startswith("visit.back"))
                .order_by(AuditEvent.seq)
            )
        )
    )
    assert actions == ["visit.back", "visit.back.replayed"]
    with pytest.raises(NotFound):  # another form (no key, or a fresh one): nothing is out
        visits.check_in(napp, "cw1", "back-fresh")


def test_i_m_back_from_the_page_of_a_visit_given_more_time_ends_no_new_visit(
    napp: App, clock: FixedClock
) -> None:
    # The mirror of the above: "30 more minutes" clicked on a page (its key kept for the extend),
    # that visit checked in from a later page, a new visit started, then the old page's "I'm
    # back" (the back button) ended the new visit, its key never used for a check-in: the
    # visit out was no longer watched.
    first = _start(napp, buddy="cw2")
    visits.extend(napp, "cw1", 30, "page-old", first.id)
    visits.check_in(napp, "cw1", "page-later", first.id)
    clock.advance(timedelta(minutes=5))
    _start(napp, buddy="cw2")
    before = _visit_state(napp)
    with pytest.raises(Conflict) as refused:
        visits.check_in(napp, "cw1", "page-old", first.id)
    assert refused.value.code == "idempotency_key_spent"
    assert _visit_state(napp) == before
    # While the visit it gave time to is out, that page's "I'm back" ends it (the visitor is back).
    visits.check_in(napp, "cw1", "page-fresh")
    third = _start(napp, buddy="cw2")
    visits.extend(napp, "cw1", 30, "page-third", third.id)
    assert visits.check_in(napp, "cw1", "page-third", third.id).id == third.id != first.id
    assert visits.check_in(napp, "cw1", "page-third", third.id).id == third.id  # clicked twice


def test_back_at_in_the_autumn_s_repeated_hour_is_the_one_ahead(
    napp: App, clock: FixedClock
) -> None:
    # At 01:10 EST on the night clocks go back (01:00-01:59 happens twice), "back at 01:50"
    # was read as the first 01:50 (EDT, gone by), so as tomorrow's, and refused as beyond 16
    # hours: the staff member at the door had to work out an offset to start a visit.
    from datetime import UTC, datetime

    clock.set(datetime(2026, 11, 1, 6, 10, tzinfo=UTC))
    view = visits.start_visit(napp, "cw1", back_at="01:50", location=WHERE, buddy="cw2")
    assert view.expected_back_at - clock.now() == timedelta(minutes=40)
    assert view.local(view.expected_back_at) == "2026-11-01 01:50 EST"


def test_a_buddy_no_page_reaches_passes_the_alert_on_once_their_page_dies(
    napp: App, clock: FixedClock, routes: Routes, smtp: SmtpServer
) -> None:
    # cw2, the buddy, has no route (no address yet, or one that fails): their page was tried,
    # then dead-lettered, and the alert waited a full alert_ack_timeout (10 minutes) with
    # nobody told before reaching the supervisors, as it once did for a buddy deactivated.
    for handle in ("cw1", "sup", "coord", "adm"):
        routes.email(handle)
    view = _start(napp, buddy="cw2")
    deadline = view.deadline_at - START
    _minute_by_minute(napp, clock, deadline + timedelta(minutes=1))
    [page] = rows(napp, recipient="cw2")
    assert page.status == OutboxStatus.PENDING  # tried, and tried again
    _minute_by_minute(napp, clock, deadline + timedelta(minutes=4))
    [page] = rows(napp, recipient="cw2")
    assert page.status == OutboxStatus.DEAD
    [subject] = _mails(smtp, "sup")  # within a relay period of the page's death
    assert "visit check-in overdue: cw1" in subject and _alert(napp).tier == 1
    _minute_by_minute(napp, clock, deadline + timedelta(minutes=12))
    assert len(_mails(smtp, "sup")) == 1  # the supervisors' own ack timeout runs from there


def test_a_tier_whose_page_reached_someone_waits_its_timeout(
    napp: App, clock: FixedClock, routes: Routes, smtp: SmtpServer
) -> None:
    """The buddy's email fails (nothing listens where it points) but their chat reaches them:
    someone at the tier was told, so the alert waits its ack timeout there as before."""
    routes.email("cw2", port=1).chat("cw2")
    for handle in ("cw1", "sup", "coord", "adm"):
        routes.email(handle)
    view = _start(napp, buddy="cw2")
    deadline = view.deadline_at - START
    _minute_by_minute(napp, clock, deadline + timedelta(minutes=9))
    assert {r.status for r in rows(napp, recipient="cw2")} == {
        OutboxStatus.DEAD,
        OutboxStatus.SENT,
    }
    assert _alert(napp).tier == 0 and _mails(smtp, "sup") == []


REASON = "MKBACKREASON phoned from a neighbour's landline, safe at home"


def test_a_supervisor_records_a_deactivated_colleague_back_and_the_visit_ends(
    napp: App, clock: FixedClock, mail: Routes, smtp: SmtpServer
) -> None:
    # cw1's phone died and their account was deactivated while out (before deactivation was
    # refused for someone out): only the visitor could check in, so the visit stayed OVERDUE
    # in every list for good, its alert taken or not.
    from sqlalchemy import update

    from harbour.db.models import Staff

    view = _start(napp, buddy="cw2")
    _minute_by_minute(napp, clock, view.deadline_at - START + timedelta(minutes=2))
    alert = _alert(napp)
    napp.run(
        lambda uow: uow.session.execute(
            update(Staff).where(Staff.handle == "cw1").values(active=False)
        )
    )
    done = visits.record_back(napp, "sup", view.id[:12], REASON)
    assert done.back_at == clock.now() and done.recorded_by == "sup" and not done.overdue
    assert visits.list_visits(napp, "sup") == []
    taken = _alert(napp)
    assert (taken.acknowledged_by, taken.next_escalation_at) == ("sup", None)
    stored = napp.run(lambda uow: uow.session.get_one(Visit, view.id))
    assert stored.back_reason_sealed and "MKBACKREASON" not in stored.back_reason_sealed
    shown = visits.show_visit(napp, "sup", view.id)
    assert (shown.back_reason, shown.recorded_by) == (REASON, "sup")
    assert visits.show_visit(napp, "cw2", view.id).back_reason == REASON  # the buddy
    [recorded] = napp.run(
        lambda uow: uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "visit.back.recorded")
        ).all()
    )
    assert recorded.actor_handle == "sup" and recorded.details["visit_id"] == view.id
    assert "MKBACKREASON" not in str(recorded.details)
    assert alert.id == taken.id


def test_recording_someone_back_is_a_supervisor_s_and_refused_where_it_does_not_fit(
    napp: App, clock: FixedClock
) -> None:
    from harbour.errors import Forbidden

    view = _start(napp, buddy="cw2")
    for who in ("cw2", "coord", "adm"):  # the buddy too: they call a supervisor
        with pytest.raises(Forbidden):
            visits.record_back(napp, who, view.id, REASON)
    with pytest.raises(NotFound):
        visits.record_back(napp, "sup2", view.id, REASON)  # another agency's visit
    for empty in ("", "   "):
        with pytest.raises(InvalidInput):
            visits.record_back(napp, "sup", view.id, empty)
    own = _start(napp, "sup")
    with pytest.raises(Conflict) as mine:
        visits.record_back(napp, "sup", own.id, REASON)
    assert mine.value.code == "own_visit" and "harbour visit back" in mine.value.detail
    assert napp.run(lambda uow: uow.session.get_one(Visit, view.id)).back_at is None

    clock.advance(timedelta(minutes=5))
    visits.check_in(napp, "cw1")
    with pytest.raises(Conflict) as over:
        visits.record_back(napp, "sup", view.id, REASON)
    assert over.value.code == "visit_back" and "checked in" in over.value.detail


def test_recording_back_sent_twice_answers_the_second_as_the_first(
    napp: App, clock: FixedClock
) -> None:
    view = _start(napp, buddy="cw2")
    key = uuid.uuid4().hex
    first = visits.record_back(napp, "sup", view.id, REASON, idempotency_key=key)
    clock.advance(timedelta(minutes=1))
    again = visits.record_back(napp, "sup", view.id, REASON, idempotency_key=key)
    assert again.back_at == first.back_at and again.recorded_by == "sup"
    with pytest.raises(Conflict) as other:  # a later form (another key): it is over
        visits.record_back(napp, "sup", view.id, REASON, idempotency_key=uuid.uuid4().hex)
    assert other.value.code == "visit_back" and "recorded back by sup" in other.value.detail


def test_the_record_back_command(napp: App, clock: FixedClock) -> None:
    from tests.support import given

    view = _start(napp, buddy="cw2")
    typed = invoke(napp, "visit", "record-back", view.id[:12], "--reason", REASON, "--as", "sup")
    assert typed.exit_code == 2 and "MKBACKREASON" not in typed.stderr + typed.stdout
    done = invoke(
        napp, "visit", "record-back", view.id[:12], "--reason", given(REASON), "--as", "sup"
    )
    assert done.exit_code == 0, done.stderr
    assert f"Visit {view.id[:12]} of cw1 recorded back by sup" in done.stdout
    assert "MKBACKREASON" not in done.stdout
    shown = invoke(napp, "visit", "show", view.id[:12], "--as", "sup")
    assert "recorded back by sup" in shown.stdout and REASON in shown.stdout
    refused = invoke(
        napp, "visit", "record-back", view.id[:12], "--reason", given(REASON), "--as", "cw2"
    )
    assert refused.exit_code != 0 and "MKBACKREASON" not in refused.stderr


def _back_safe(app: App) -> list[tuple[str, str]]:
    return sorted(
        (row.recipient, row.channel) for row in rows(app, kind=NotificationKind.VISIT_BACK)
    )


def test_everyone_an_overdue_visit_paged_hears_once_that_the_visitor_is_back_safe(
    napp: App, clock: FixedClock, mail: Routes, smtp: SmtpServer, receiver: Receiver
) -> None:
    # The buddy, the supervisors and on-call staff woken by the alert saw "Taken by the
    # visitor" only if they opened its page: nobody told them to stand down.
    view = _start(napp, buddy="cw2")
    deadline = view.deadline_at - START
    _minute_by_minute(napp, clock, deadline + timedelta(minutes=11))  # buddy, then supervisors
    alert = _alert(napp)
    key = uuid.uuid4().hex
    visits.check_in(napp, "cw1", key)
    told = _back_safe(napp)
    assert told == [("cw2", "email"), ("sup", "chat"), ("sup", "email")]
    assert {row.lane for row in rows(napp, kind=NotificationKind.VISIT_BACK)} == {"urgent"}
    deliver(napp, config=FAST)
    [subject] = [s for s in _mails(smtp, "cw2") if "back safe" in s]
    assert subject.startswith("Harbour: visit check-in, back safe: cw1")
    assert alert.id[:8] in subject
    [posted] = [m for m in receiver.at(Routes.chat_path("sup")) if "back safe" in m["title"]]
    assert "harbour ack" not in posted["message"] and "nothing more to do" in posted["message"]
    assert _mails(smtp, "cw1") == [] and _mails(smtp, "adm") == []  # neither was paged
    for message in smtp.received:
        assert "MKVISIT" not in message.text and "Elm" not in message.text
    visits.check_in(napp, "cw1", key)  # sent again: the same check-in, told once
    _minute_by_minute(napp, clock, deadline + timedelta(hours=1))
    assert _back_safe(napp) == told
    assert sum("back safe" in s for s in _mails(smtp, "cw2")) == 1


def test_a_visit_back_before_its_alert_paged_anyone_tells_nobody(
    napp: App, clock: FixedClock, mail: Routes
) -> None:
    view = _start(napp, buddy="cw2")
    clock.set(view.deadline_at)
    assert sweep(napp).visits == 1  # raised; the buddy's page written, not sent yet
    visits.check_in(napp, "cw1")
    assert _back_safe(napp) == []
    [page] = rows(napp, recipient="cw2")
    assert page.status == OutboxStatus.CANCELLED  # it never woke them


def test_a_visit_given_more_time_then_back_tells_who_its_earlier_alert_paged(
    napp: App, clock: FixedClock, mail: Routes
) -> None:
    view = _start(napp, buddy="cw2")
    _minute_by_minute(napp, clock, view.deadline_at - START + timedelta(minutes=2))
    visits.extend(napp, "cw1", 30)  # takes the alert: the buddy still thinks they are missing
    visits.check_in(napp, "cw1")
    assert _back_safe(napp) == [("cw2", "email")]


def test_recorded_back_tells_the_buddy_and_who_was_paged_but_not_the_one_recording(
    napp: App, clock: FixedClock, mail: Routes, smtp: SmtpServer
) -> None:
    quiet = _start(napp, buddy="cw2")  # not overdue: nobody paged, but the buddy waits for them
    visits.record_back(napp, "sup", quiet.id, REASON)
    assert _back_safe(napp) == [("cw2", "email")]
    clock.advance(timedelta(minutes=5))
    view = _start(napp, "cw2", buddy="cw1", minutes=60)
    _minute_by_minute(napp, clock, view.deadline_at - START + timedelta(minutes=11))
    visits.record_back(napp, "sup", view.id, REASON)
    assert _back_safe(napp) == [("cw1", "email"), ("cw2", "email")]  # sup: who recorded it
    deliver(napp, config=FAST)
    assert any("back safe: cw2" in s for s in _mails(smtp, "cw1"))


def test_a_buddy_told_back_safe_before_any_alert_is_not_told_of_an_alert_sent(
    napp: App, clock: FixedClock, mail: Routes, smtp: SmtpServer
) -> None:
    # A visit recorded back before its deadline tells its buddy, who was paged nothing: the
    # notice said "The overdue visit alert you were sent stands down", sending them looking for
    # an alert that never came.
    quiet = _start(napp, buddy="cw2")
    visits.record_back(napp, "sup", quiet.id, REASON)
    deliver(napp, config=FAST)
    [told] = smtp.to(f"cw2@{MAIL_DOMAIN}")
    assert "back safe: cw1" in told.subject and "alert" not in told.subject
    assert "cw1 is back" in told.text and "nothing more to do" in told.text.lower()
    assert "alert" not in told.text.lower()


def test_visit_start_says_who_would_really_be_paged(napp: App, clock: FixedClock) -> None:
    # With no buddy, `visit start` said "the supervisors (no buddy available) is alerted" even
    # when the visitor was the only supervisor: the alert passes them over.
    from tests.support import given

    def start(who: str, *extra: str) -> Any:
        done = invoke(
            napp,
            "visit",
            "start",
            "--back-at",
            "10:30",
            "--where",
            given(WHERE),
            "--as",
            who,
            *extra,
        )
        assert done.exit_code == 0, done.stderr
        return done

    with_buddy = start("cw1", "--buddy", "cw2")
    assert "cw2 (your buddy) is alerted" in with_buddy.stdout and with_buddy.stderr == ""
    alone = start("sup", "--json")  # the one supervisor, the one on call: the admins are next
    assert alone.json()["buddy"] is None and alone.json()["alerted"] == ["adm"]
    assert alone.json()["alerted_as"] == "admins"
    visits.check_in(napp, "sup")
    said = start("sup")
    assert "no buddy: the admins (adm) are alerted" in said.stdout
    assert "supervisors" not in said.stdout


def test_visit_start_warns_when_nobody_would_be_paged(napp: App, clock: FixedClock) -> None:
    # south has sup2 (its one supervisor, on call), a caseworker and a coordinator, no admin:
    # `visit start` said someone is alerted, though the alert would page nobody.
    from tests.support import given

    done = invoke(
        napp, "visit", "start", "--back-at", "10:30", "--where", given(WHERE), "--as", "sup2"
    )
    assert done.exit_code == 0, done.stderr
    assert "is alerted" not in done.stdout and "nobody would be alerted" in done.stdout
    assert "warning: nobody would be alerted" in done.stderr and "--buddy" in done.stderr
    as_json = visits.list_visits(napp, "sup2")[0]
    assert as_json.buddy is None


def test_the_default_buddy_is_a_supervisor_on_call_before_any_other(napp: App) -> None:
    # The default was the first supervisor by handle, on call or not.
    from sqlalchemy import update

    from harbour.admin.staffing import StaffIn, create_staff
    from harbour.db.models import Staff
    from harbour.domain.vocab import Role

    napp.run(
        lambda uow: create_staff(uow, StaffIn(handle="asup", agency="north", role=Role.SUPERVISOR))
    )  # first by handle, not on call; sup is on call
    assert visits.buddy_choices(napp, "cw1").default == "sup"
    first = _start(napp)
    assert first.buddy == "sup"
    visits.check_in(napp, "cw1")
    napp.run(
        lambda uow: uow.session.execute(
            update(Staff).where(Staff.handle == "sup").values(on_call=False)
        )
    )
    assert visits.buddy_choices(napp, "cw1").default == "asup"  # then any, by handle
    assert _start(napp).buddy == "asup"


def test_a_visit_recorded_back_as_the_relay_raises_its_alert_leaves_no_alert_open(
    napp: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL: a supervisor records cw1 back just as the relay's pass finds the visit past
    # its deadline. The record back held cw1's row, not the visit's, so the pass (which skips
    # a visit held, as a check-in holds it) raised the alert and committed; the record back
    # then ended the visit without seeing it: the alert, open, paged the buddy, then climbed to
    # everyone, about someone safe at home.
    if napp.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's writers queue: one commits before the other begins")
    import threading

    from harbour.notify import visit_checks

    view = _start(napp, buddy="cw2")
    clock.set(view.deadline_at)
    raised: list[int] = []

    def relay_pass() -> None:
        raised.append(napp.run(lambda uow: visit_checks.raise_overdue(uow, uow.now())))

    other = threading.Thread(target=relay_pass)
    held = visits._held

    def meanwhile(uow: Any, visit: Visit) -> Visit:
        found = held(uow, visit)
        other.start()
        other.join(timeout=3)  # done, unless it waits for this record to commit
        return found

    monkeypatch.setattr(visits, "_held", meanwhile)
    visits.record_back(napp, "sup", view.id, REASON)
    other.join(timeout=30)
    assert not other.is_alive()
    open_alerts = napp.run(
        lambda uow: uow.session.scalars(
            select(Alert.id).where(Alert.acknowledged_at.is_(None))
        ).all()
    )
    assert open_alerts == [] and raised == [0]
