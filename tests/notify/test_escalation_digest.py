"""A sweep's overdue escalations reach each person as one message listing the cases (an
escalation digest), and so does their climb: each is still an alert of its own, acknowledged
one by one, paged once per alert, tier and person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from harbour.admin.staffing import StaffIn, create_staff
from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.db.models import Alert, Case
from harbour.demo.receivers import MAIL_DOMAIN, WEBHOOK_TOKEN, Receiver, RouteBook, SmtpServer
from harbour.domain import refs
from harbour.domain.vocab import AlertKind, Lane, OutboxStatus, Role
from harbour.notify import alerts
from harbour.notify.digests import ACKNOWLEDGED
from harbour.notify.relay import deliver
from harbour.orchestration.sweep import send_reminders
from tests.notify.conftest import FAST
from tests.notify.helpers import TIMEOUT, drain, new_case, open_assessment, rows
from tests.support import invoke

N = 4


def _overdue_cases(app: App, clock: FixedClock, n: int = N) -> dict[str, str]:
    """``n`` cases with an assessment long overdue; their short references, by case id."""
    found = {}
    for k in range(n):
        case = new_case(app)
        open_assessment(app, case, clock.now() - timedelta(days=30 + k))
        found[case.id] = refs.short_form(case.reference)
    return found


def _second_supervisor(app: App, routes: RouteBook) -> None:
    app.run(
        lambda uow: create_staff(uow, StaffIn(handle="sup9", agency="north", role=Role.SUPERVISOR))
    )
    routes.email("sup9")


def _alerts(app: App) -> list[Alert]:
    return app.run(lambda uow: list(uow.session.scalars(select(Alert).order_by(Alert.id))))


def _digests(app: App) -> list[tuple[str, str, str, int, list[str]]]:
    """(recipient, channel, status, count, case references shown) of each escalation digest."""
    return sorted(
        (
            r.recipient,
            r.channel,
            r.status,
            r.context["count"],
            sorted(item["case_ref"] for item in r.context["items"]),
        )
        for r in rows(app, kind="escalation_digest")
    )


def test_a_sweep_sends_each_supervisor_one_message_naming_its_overdue_cases(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer
) -> None:
    _second_supervisor(napp, mail)
    cases = _overdue_cases(napp, clock)
    send_reminders(napp, clock.now(), batch=1)  # a batch per case: still one message each
    opened = _alerts(napp)
    assert len(opened) == N and {a.kind for a in opened} == {AlertKind.OVERDUE_ESCALATION}
    shown = sorted(cases.values())
    assert _digests(napp) == [
        ("sup", "chat", OutboxStatus.PENDING, N, shown),
        ("sup", "email", OutboxStatus.PENDING, N, shown),
        ("sup9", "email", OutboxStatus.PENDING, N, shown),
    ]
    assert {r.lane for r in rows(napp, kind="escalation_digest")} == {Lane.NORMAL}
    # Each page kept, once per alert, person and channel, as the record of who was paged.
    pages = rows(napp, kind="overdue_escalation")
    assert {r.status for r in pages} == {OutboxStatus.BUNDLED}
    assert sorted((r.alert_id, r.recipient, r.channel) for r in pages) == sorted(
        (a.id, who, channel)
        for a in opened
        for who, channel in (("sup", "chat"), ("sup", "email"), ("sup9", "email"))
    )
    for alert in opened:
        assert napp.run(lambda uow, a=alert: alerts.paged_to(uow, a, "sup9"))

    drain(napp, clock)
    [message] = smtp.to(f"sup9@{MAIL_DOMAIN}")
    assert f"{N} overdue assessments" in message.subject
    assert all(ref in message.plain for ref in cases.values())
    assert all(alert.id[:8] in message.plain for alert in opened)
    assert len(smtp.to(f"sup@{MAIL_DOMAIN}")) == 1


def test_an_alert_acknowledged_before_the_send_is_left_out(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer
) -> None:
    cases = _overdue_cases(napp, clock, 3)
    send_reminders(napp, clock.now())
    first, *rest = _alerts(napp)
    assert alerts.acknowledge(napp, "sup", first.id).acknowledged_by == "sup"
    left = sorted(ref for case_id, ref in cases.items() if case_id != first.case_id)
    assert _digests(napp) == [
        ("sup", "chat", OutboxStatus.PENDING, 2, left),
        ("sup", "email", OutboxStatus.PENDING, 2, left),
    ]
    for alert in rest:
        alerts.acknowledge(napp, "sup", alert.id)
    _all_cancelled_and_none_sent(napp, clock, smtp)


def test_a_rerun_of_the_sweep_sends_nothing_new(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    _overdue_cases(napp, clock)
    send_reminders(napp, clock.now())
    before = rows(napp)
    send_reminders(napp, clock.now())
    clock.advance(timedelta(minutes=1))
    send_reminders(napp, clock.now())
    assert sorted(r.id for r in rows(napp)) == sorted(r.id for r in before)
    assert len(_alerts(napp)) == N


def test_the_climb_after_the_timeout_is_one_message_per_person(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer
) -> None:
    cases = _overdue_cases(napp, clock)
    send_reminders(napp, clock.now())
    drain(napp, clock)
    clock.advance(TIMEOUT + timedelta(minutes=1))
    assert alerts.escalate_due(napp, clock.now()) == N
    assert alerts.escalate_due(napp, clock.now()) == 0  # a second pass: nothing climbs again
    climbed = [d for d in _digests(napp) if d[0] == "adm"]
    assert climbed == [("adm", "email", OutboxStatus.PENDING, N, sorted(cases.values()))]
    [digest] = rows(napp, kind="escalation_digest", recipient="adm")
    assert {item["tier"] for item in digest.context["items"]} == {1}
    pages = rows(napp, kind="alert_escalated")
    assert {(r.recipient, r.status) for r in pages} == {("adm", OutboxStatus.BUNDLED)}
    assert len(pages) == N
    assert {a.tier for a in _alerts(napp)} == {1}
    drain(napp, clock)
    [message] = smtp.to(f"adm@{MAIL_DOMAIN}")
    assert all(ref in message.plain for ref in cases.values())


def test_someone_joining_a_case_is_still_paged_about_its_standing_escalation(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    """The bundled page is the tier's page a newcomer to the tier gets (``page_joining``)."""
    _overdue_cases(napp, clock, 1)
    send_reminders(napp, clock.now())
    [alert] = _alerts(napp)
    _second_supervisor(napp, mail)

    def join(uow: UnitOfWork) -> int:
        return alerts.page_joining(uow, uow.session.get_one(Case, alert.case_id), ["sup9"])

    assert napp.run(join) == 1
    [page] = rows(napp, kind="overdue_escalation", recipient="sup9")
    assert (page.status, page.alert_id) == (OutboxStatus.PENDING, alert.id)
    assert napp.run(lambda uow: alerts.paged_to(uow, alert, "sup9"))


def test_a_sweep_that_failed_half_way_and_its_rerun_page_each_case_once(
    napp: App, clock: FixedClock, mail: RouteBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the failed sweep committed goes in its digest; the rerun's digest has the rest."""
    from harbour.notify import reminders

    cases = _overdue_cases(napp, clock)
    escalate_all, calls = reminders._escalate_all, []

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return escalate_all(*args, **kwargs)

    monkeypatch.setattr(reminders, "_escalate_all", failing)
    with pytest.raises(RuntimeError):
        send_reminders(napp, clock.now(), batch=1)
    monkeypatch.setattr(reminders, "_escalate_all", escalate_all)
    send_reminders(napp, clock.now(), batch=1)
    send_reminders(napp, clock.now(), batch=1)
    digests = rows(napp, kind="escalation_digest", channel="email")
    assert len(digests) == 2
    named = sorted(item["case_ref"] for row in digests for item in row.context["items"])
    assert named == sorted(cases.values())
    assert len(_alerts(napp)) == N


def _unreached(app: App) -> set[str]:
    """The alerts `harbour notify check` says every send of which failed."""
    shown = invoke(app, "notify", "check", "--as", "sup", "--json").json()
    return {a["alert"] for a in shown["alerts_paging_nobody"] if a["why"] == "sends_failed"}


def test_an_alert_whose_digest_was_delivered_reached_someone(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    """Its bundled pages carry the digest's delivery (still bundled: never sent themselves)."""
    _overdue_cases(napp, clock)
    send_reminders(napp, clock.now())
    opened = _alerts(napp)
    assert not any(alerts.reached_anyone(napp, "sup", a.id) for a in opened)
    drain(napp, clock)
    assert all(alerts.reached_anyone(napp, "sup", a.id) for a in opened)
    assert _unreached(napp) == set()
    pages = rows(napp, kind="overdue_escalation")
    assert {(r.status, r.attempts, r.last_error) for r in pages} == {
        (OutboxStatus.BUNDLED, 1, None)
    }
    assert {r.sent_at for r in pages} == {d.sent_at for d in rows(napp, kind="escalation_digest")}


def test_an_alert_whose_digest_keeps_failing_is_listed_as_reaching_nobody(
    napp: App, clock: FixedClock, routes: RouteBook
) -> None:
    routes.email("sup", port=1)  # the supervisor's only route: nothing listens there
    _overdue_cases(napp, clock, 2)
    send_reminders(napp, clock.now())
    opened = {a.id for a in _alerts(napp)}
    deliver(napp, config=FAST)
    [digest] = rows(napp, kind="escalation_digest")
    assert (digest.status, digest.attempts) == (OutboxStatus.PENDING, 1) and digest.last_error
    assert _unreached(napp) == opened
    assert not any(alerts.reached_anyone(napp, "sup", a) for a in opened)
    pages = rows(napp, kind="overdue_escalation")
    assert {(r.status, r.attempts, r.last_error, r.sent_at) for r in pages} == {
        (OutboxStatus.BUNDLED, 1, digest.last_error, None)
    }

    for _ in range(FAST.max_attempts):  # until it is dead-lettered
        clock.advance(FAST.backoff_cap * 1.3)
        deliver(napp, config=FAST)
    [digest] = rows(napp, kind="escalation_digest", recipient="sup")
    assert (digest.status, digest.attempts) == (OutboxStatus.DEAD, FAST.max_attempts)
    pages = rows(napp, kind="overdue_escalation")
    assert {(r.status, r.attempts, r.sent_at) for r in pages} == {
        (OutboxStatus.BUNDLED, FAST.max_attempts, None)
    }
    assert _unreached(napp) == opened  # the climb to the admin, who has no route, reached nobody


def test_an_alert_only_counted_in_a_full_digest_shares_its_delivery(
    napp: App, clock: FixedClock, mail: RouteBook, one_named: None
) -> None:
    """A digest names its first ``MAX_ITEMS`` alerts and counts the rest ("and 1 more"): the
    one only counted reached its recipient with it, as those named did (its pages were left
    untried, said to have reached nobody, nor to have failed)."""
    _overdue_cases(napp, clock, 2)
    send_reminders(napp, clock.now())
    drain(napp, clock)
    [digest] = rows(napp, kind="escalation_digest", channel="email")
    assert (digest.context["count"], digest.context["more"]) == (2, 1)
    [named] = [item["alert_id"] for item in digest.context["items"]]
    [counted] = [a.id for a in _alerts(napp) if a.id != named]
    assert alerts.reached_anyone(napp, "sup", named)
    assert alerts.reached_anyone(napp, "sup", counted)
    assert {r.attempts for r in rows(napp, alert_id=counted)} == {1}
    assert _unreached(napp) == set()


def test_an_alert_only_counted_in_a_full_digest_that_keeps_failing_reaches_nobody(
    napp: App, clock: FixedClock, routes: RouteBook, one_named: None
) -> None:
    """Listed with those named as every send failed (it was listed as neither)."""
    routes.email("sup", port=1)  # the supervisor's only route: nothing listens there
    _overdue_cases(napp, clock, 3)
    send_reminders(napp, clock.now())
    deliver(napp, config=FAST)
    [digest] = rows(napp, kind="escalation_digest")
    assert (digest.context["count"], digest.attempts) == (3, 1) and digest.last_error
    assert _unreached(napp) == {a.id for a in _alerts(napp)}
    pages = rows(napp, kind="overdue_escalation")
    assert {(r.attempts, r.last_error, r.sent_at) for r in pages} == {(1, digest.last_error, None)}


def test_an_alert_taken_out_of_its_digest_does_not_take_the_digest_s_delivery(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    """Acknowledged before the send, its digest no longer names it: what the digest meets is
    not said of the alert's pages (the others' pages carry it)."""
    _overdue_cases(napp, clock, 2)
    send_reminders(napp, clock.now())
    first, second = _alerts(napp)
    alerts.acknowledge(napp, "sup", first.id)
    drain(napp, clock)
    assert {(r.attempts, r.sent_at, r.carrier_id) for r in rows(napp, alert_id=first.id)} == {
        (0, None, None)
    }
    assert {r.attempts for r in rows(napp, alert_id=second.id, kind="overdue_escalation")} == {1}
    assert alerts.reached_anyone(napp, "sup", second.id)


def test_a_climb_s_digest_carries_the_new_tier_s_pages_not_the_first_s(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    """Each bundled page is carried by the digest written with it: the first tier's by the
    sweep's, the next tier's by the climb's."""
    _overdue_cases(napp, clock, 1)
    send_reminders(napp, clock.now())
    drain(napp, clock)
    clock.advance(TIMEOUT + timedelta(minutes=1))
    alerts.escalate_due(napp, clock.now())
    digests = {r.id: r for r in rows(napp, kind="escalation_digest")}
    pages = rows(napp, kind="overdue_escalation") + rows(napp, kind="alert_escalated")
    tiers = {page.dedupe_key.split("|")[0] for page in pages}
    assert len(tiers) == 2, tiers  # the sweep's tier and the climb's
    for page in pages:
        digest = digests[page.carrier_id]
        assert (digest.recipient, digest.channel) == (page.recipient, page.channel)
        assert digest.created_at == page.created_at  # written with it


def test_a_bundled_page_is_not_requeued_on_its_own(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer
) -> None:
    """Its digest is what is retried; requeued, the page would go out besides it."""
    _overdue_cases(napp, clock, 1)
    send_reminders(napp, clock.now())
    [page, *_] = rows(napp, kind="overdue_escalation")
    refused = invoke(napp, "outbox", "retry", page.id, "--as", "sup")
    assert refused.exit_code == 2 and "escalation digest" in refused.stderr
    assert {r.status for r in rows(napp, kind="overdue_escalation")} == {OutboxStatus.BUNDLED}
    drain(napp, clock)
    assert len(smtp.to(f"sup@{MAIL_DOMAIN}")) == 1


def test_a_climb_pass_that_fails_tells_its_own_error_not_the_release_s(
    napp: App, clock: FixedClock, mail: RouteBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store gone mid-pass: the release of the pass's digests fails too, and the error the
    caller sees is the pass's (the digests stay held, to go once their hold is past)."""
    _overdue_cases(napp, clock, 2)
    send_reminders(napp, clock.now())
    drain(napp, clock)
    clock.advance(TIMEOUT + timedelta(minutes=1))
    monkeypatch.setattr(alerts, "ESCALATION_BATCH", 1)

    def release_fails(self: object, uow: UnitOfWork) -> None:
        raise RuntimeError("release")

    def store_gone() -> None:
        raise ConnectionError("the pass's own")

    monkeypatch.setattr(alerts.digests.Digests, "release", release_fails)
    with pytest.raises(ConnectionError, match="the pass's own"):
        alerts.escalate_due(napp, clock.now(), between=store_gone)


def test_an_alert_only_counted_in_a_digest_is_taken_out_of_its_count(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer, one_named: None
) -> None:
    """Acknowledged before the send, an alert the digest only counts ("and 1 more") is taken
    out of the count (it stayed in it); one left counting others is not cancelled though the
    alerts it named were all taken (it was, and the others with it were never told)."""
    _overdue_cases(napp, clock, 3)
    send_reminders(napp, clock.now())
    [digest] = rows(napp, kind="escalation_digest", channel="email")
    [named] = [item["alert_id"] for item in digest.context["items"]]
    counted = [a.id for a in _alerts(napp) if a.id != named]

    alerts.acknowledge(napp, "sup", counted[0])
    [digest] = rows(napp, kind="escalation_digest", channel="email")
    assert (digest.status, digest.context["count"], digest.context["more"]) == (
        OutboxStatus.PENDING,
        2,
        1,
    )
    alerts.acknowledge(napp, "sup", named)
    [digest] = rows(napp, kind="escalation_digest", channel="email")
    assert (digest.status, digest.context["count"], digest.context["items"]) == (
        OutboxStatus.PENDING,
        1,
        [],
    )
    drain(napp, clock)
    [message] = smtp.to(f"sup@{MAIL_DOMAIN}")
    assert "1 overdue assessment waiting" in message.plain
    assert "See them in Harbour." in message.plain and "And 1 more" not in message.plain
    assert alerts.reached_anyone(napp, "sup", counted[1])
    for gone in (counted[0], named):  # taken out: the digest's delivery is not theirs
        assert {(r.attempts, r.carrier_id) for r in rows(napp, alert_id=gone)} == {(0, None)}

    alerts.acknowledge(napp, "sup", counted[1])  # after the send: nothing to take out
    assert {r.status for r in rows(napp, kind="escalation_digest")} == {OutboxStatus.SENT}


def test_the_last_alert_a_digest_counts_acknowledged_cancels_it(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer, one_named: None
) -> None:
    _overdue_cases(napp, clock, 2)
    send_reminders(napp, clock.now())
    for alert in _alerts(napp):
        alerts.acknowledge(napp, "sup", alert.id)
    _all_cancelled_and_none_sent(napp, clock, smtp)


def test_a_stuck_alert_climbing_again_does_not_page_anew_who_was_counted_meanwhile(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer
) -> None:
    """The only admin gone, the climbed alert waits at the top for nobody; an admin added is
    paged there (``page_newly_counted``). Its next try at the top finds them paged at that tier
    already: no second digest names it (their page's key was taken, as for any page)."""
    from harbour.db.models import Staff
    from harbour.notify.outbox import dead_letter_recipient

    _overdue_cases(napp, clock, 1)
    send_reminders(napp, clock.now())
    drain(napp, clock)
    clock.advance(TIMEOUT + timedelta(minutes=1))
    assert alerts.escalate_due(napp, clock.now()) == 1  # to the admin
    drain(napp, clock)

    def admin_leaves(uow: UnitOfWork) -> None:  # as ``deactivate_staff`` does
        uow.session.execute(select(Staff).where(Staff.handle == "adm")).scalar_one().active = False
        alerts.climb_now_where_nobody_is_left(uow, "adm")
        dead_letter_recipient(uow, "adm", "recipient_deactivated")

    napp.run(admin_leaves)
    assert alerts.escalate_due(napp, clock.now()) == 0  # nobody at the top: it waits there
    mail.email("adm9")

    def admin_joins(uow: UnitOfWork) -> int:  # as ``add_staff`` does
        staff = create_staff(uow, StaffIn(handle="adm9", agency="north", role=Role.ADMIN))
        return alerts.page_newly_counted(uow, staff.agency_id, staff.handle)

    assert napp.run(admin_joins) == 1
    drain(napp, clock)
    assert len(smtp.to(f"adm9@{MAIL_DOMAIN}")) == 1
    clock.advance(TIMEOUT + timedelta(minutes=1))
    alerts.escalate_due(napp, clock.now())
    drain(napp, clock)
    assert len(smtp.to(f"adm9@{MAIL_DOMAIN}")) == 1
    assert len(rows(napp, kind="escalation_digest", recipient="adm9")) == 1


def test_a_page_on_a_channel_its_held_digest_is_not_on_is_still_carried(
    napp: App, clock: FixedClock, routes: RouteBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin had no route when the pass's first batch started their digest (on any
    channel); given one before the next batch, that batch's page is on email, its item added
    to the same digest: the page shares the digest's delivery (it was carried by nothing, never
    said to reach anyone though the digest naming it did)."""
    routes.email("sup").email("cw1")
    _overdue_cases(napp, clock, 2)
    send_reminders(napp, clock.now())
    drain(napp, clock)
    clock.advance(TIMEOUT + timedelta(minutes=1))
    monkeypatch.setattr(alerts, "ESCALATION_BATCH", 1)
    given: list[int] = []

    def route_given() -> None:
        if not given:
            given.append(1)
            routes.email("adm")

    assert alerts.escalate_due(napp, clock.now(), between=route_given) == 2
    [digest] = rows(napp, kind="escalation_digest", recipient="adm")
    assert (digest.channel, digest.context["count"]) == ("any", 2)
    pages = rows(napp, kind="alert_escalated")
    assert {page.carrier_id for page in pages} == {digest.id}
    drain(napp, clock)
    assert all(alerts.reached_anyone(napp, "sup", a.id) for a in _alerts(napp))


def test_a_digest_shortened_mid_pass_goes_when_the_pass_ends(
    napp: App, clock: FixedClock, mail: RouteBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alert of a climb pass's first batch acknowledged before the next batch: the digest
    that named it keeps the other (the next batch starts a digest of its own), and goes when
    the pass ends, as the rest do (it was left held ``digests.HOLD``, half an hour, an overdue
    escalation untold that long)."""
    _overdue_cases(napp, clock, 4)
    send_reminders(napp, clock.now())
    drain(napp, clock)
    clock.advance(TIMEOUT + timedelta(minutes=1))
    monkeypatch.setattr(alerts, "ESCALATION_BATCH", 2)
    taken: list[str] = []

    def one_acknowledged() -> None:
        if not taken:
            [climbed, *_] = [a for a in _alerts(napp) if a.tier == 1]
            taken.append(alerts.acknowledge(napp, "adm", climbed.id).id)

    assert alerts.escalate_due(napp, clock.now(), between=one_acknowledged) == 4
    assert sorted(d[3] for d in _digests(napp) if d[0] == "adm") == [1, 2]
    deliver(napp, config=FAST)  # right after the pass: no time has passed
    assert {r.status for r in rows(napp, kind="escalation_digest", recipient="adm")} == {
        OutboxStatus.SENT
    }
    assert all(alerts.reached_anyone(napp, "sup", a.id) for a in _alerts(napp) if a.id not in taken)


def test_a_digest_dead_lettered_as_its_recipient_leaves_says_so_on_its_pages(
    napp: App, clock: FixedClock, routes: RouteBook
) -> None:
    """The supervisor's digest kept failing, then they left (``dead_letter_recipient``): its
    bundled pages record its end as they would the relay's dead-lettering of it (they kept the
    send's failure of before, as if it were still being tried)."""
    from harbour.notify.outbox import dead_letter_recipient

    routes.email("sup", port=1)  # the supervisor's only route: nothing listens there
    _overdue_cases(napp, clock, 2)
    send_reminders(napp, clock.now())
    opened = {a.id for a in _alerts(napp)}
    deliver(napp, config=FAST)
    assert napp.run(lambda uow: dead_letter_recipient(uow, "sup", "recipient_deactivated")) == 1
    [digest] = rows(napp, kind="escalation_digest")
    assert (digest.status, digest.attempts, digest.last_error) == (
        OutboxStatus.DEAD,
        1,
        "recipient_deactivated",
    )
    pages = rows(napp, kind="overdue_escalation")
    assert {(r.status, r.attempts, r.last_error, r.sent_at) for r in pages} == {
        (OutboxStatus.BUNDLED, 1, "recipient_deactivated", None)
    }
    assert _unreached(napp) == opened  # every send of theirs failed, and none is left


def test_a_held_digest_of_one_who_leaves_is_dead_on_its_pages_and_the_alert_climbs(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer
) -> None:
    """A sweep killed after its first batch left the supervisor's digest held; the supervisor
    (the only one) is deactivated: the digest goes dead and its pages say so (they were left as
    if still to go), and the alert, with nobody left at its tier, climbs to the admins at once."""
    _overdue_cases(napp, clock, 2)

    def die() -> None:
        raise SystemExit("the sweep's process was killed")

    with pytest.raises(SystemExit):
        send_reminders(napp, clock.now(), batch=1, between=die)
    done = invoke(napp, "staff", "deactivate", "sup", "--as", "adm")
    assert done.exit_code == 0, done.stderr
    held = rows(napp, kind="escalation_digest", recipient="sup")
    assert {(d.status, d.attempts, d.last_error) for d in held} == {
        (OutboxStatus.DEAD, 0, "recipient_deactivated")
    }
    pages = rows(napp, kind="overdue_escalation", recipient="sup")
    assert {(r.status, r.attempts, r.last_error, r.sent_at) for r in pages} == {
        (OutboxStatus.BUNDLED, 0, "recipient_deactivated", None)
    }
    assert {page.carrier_id for page in pages} == {d.id for d in held}
    drain(napp, clock)
    [alert] = _alerts(napp)
    assert alert.tier == 1
    assert len(smtp.to(f"adm@{MAIL_DOMAIN}")) == 1
    assert alerts.reached_anyone(napp, "adm", alert.id)


def test_a_digest_an_acknowledgement_settles_as_sent_keeps_its_delivery_on_its_pages(
    napp: App, clock: FixedClock, routes: RouteBook, receiver: Receiver
) -> None:
    """The digest reached one of the supervisor's chat routes and waits to be retried on the
    other; an alert it lists is acknowledged: the digest is settled as sent (``outbox.settle``:
    a retry would say it again), and the pages it carries keep saying what it met, the other
    alert's as reaching the supervisor."""
    pager = f"/{WEBHOOK_TOKEN}/sup-pager"
    routes.chat("sup").add(f"json://127.0.0.1:{receiver.port}{pager}", "sup", "chat")
    receiver.script(pager, ["500"] * 10)
    _overdue_cases(napp, clock, 2)
    send_reminders(napp, clock.now())
    deliver(napp, config=FAST)
    [digest] = rows(napp, kind="escalation_digest")
    assert (digest.status, digest.attempts) == (OutboxStatus.PENDING, 1) and digest.sent_at
    first, second = _alerts(napp)
    alerts.acknowledge(napp, "sup", first.id)
    [digest] = rows(napp, kind="escalation_digest")
    assert (digest.status, digest.last_error) == (OutboxStatus.SENT, "send_failure")
    pages = rows(napp, kind="overdue_escalation")
    assert {(r.status, r.attempts, r.last_error, r.sent_at, r.carrier_id) for r in pages} == {
        (OutboxStatus.BUNDLED, 1, "send_failure", digest.sent_at, digest.id)
    }
    assert alerts.reached_anyone(napp, "sup", second.id)
    assert _unreached(napp) == set()


def _all_cancelled_and_none_sent(napp: App, clock: FixedClock, smtp: SmtpServer) -> None:
    """Every escalation digest was cancelled, its alerts acknowledged, and none reaches sup."""
    assert {(r.status, r.last_error) for r in rows(napp, kind="escalation_digest")} == {
        (OutboxStatus.CANCELLED, ACKNOWLEDGED)
    }
    drain(napp, clock)
    assert smtp.to(f"sup@{MAIL_DOMAIN}") == []
