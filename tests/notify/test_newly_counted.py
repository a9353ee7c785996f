"""One made a supervisor, or added on call (or as a supervisor), is counted in tiers of alerts
already standing, which were paged as they reached them: each pages them then, as it pages one
who joins a case (``alerts.page_joining``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from harbour.admin.staffing import change_role
from harbour.app import App
from harbour.cases import visits
from harbour.cases.intake import refer
from harbour.clock import FixedClock
from harbour.db.models import Alert, AuditEvent, Case
from harbour.demo.receivers import MAIL_DOMAIN, RouteBook, SmtpServer
from harbour.domain.vocab import AlertKind, NotificationKind, OutboxStatus
from harbour.notify.alerts import acknowledge, escalate_due
from harbour.orchestration.sweep import sweep
from tests.conftest import START
from tests.notify.helpers import MARKER, TIMEOUT, case_alert, imminent_alert, new_case, rows
from tests.support import invoke, referral


def _overdue_escalation(app: App, case: Case) -> Alert:
    return case_alert(app, case, AlertKind.OVERDUE_ESCALATION, NotificationKind.OVERDUE_ESCALATION)


def _climb(app: App, clock: FixedClock) -> None:
    clock.advance(TIMEOUT + timedelta(minutes=1))
    escalate_due(app, clock.now())


def _stored(app: App, alert_id: str) -> Alert:
    return app.run(lambda uow: uow.session.get_one(Alert, alert_id))


def _same_page(app: App, alert: Alert, handle: str, paged: str) -> None:
    """``handle`` has, once, the page ``paged`` had at the alert's current tier."""
    tier = f"alert:{alert.id}:{alert.tier}|"
    [theirs] = rows(app, alert_id=alert.id, recipient=handle)
    [had] = [r for r in rows(app, alert_id=alert.id, recipient=paged, channel="email")
             if r.dedupe_key.startswith(tier)]  # fmt: skip
    assert theirs.dedupe_key.startswith(tier)
    assert (theirs.kind, theirs.lane, theirs.context) == (had.kind, had.lane, had.context)


def test_one_made_supervisor_is_paged_about_the_agency_s_standing_alerts_of_their_tier(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    # At the top already (the admins'): a supervisor is not counted there.
    at_top = imminent_alert(napp, new_case(napp))
    # A visit's alert (about no case): its buddy's tier, then the supervisors' but the visitor.
    back = (START + timedelta(minutes=1)).isoformat()
    visits.start_visit(napp, "cw1", back_at=back, location="MKVISIT")
    clock.set(START + TIMEOUT + timedelta(minutes=10))
    sweep(napp)
    escalate_due(napp, clock.now())
    _climb(napp, clock)
    visit = napp.run(
        lambda uow: uow.session.scalars(
            select(Alert).where(Alert.kind == AlertKind.VISIT_OVERDUE)
        ).one()
    )
    assert (visit.tier, _stored(napp, at_top.id).tier) == (1, 2)
    # Standing at the tier of on-call staff and supervisors, and at the supervisors'.
    imminent = imminent_alert(napp, new_case(napp))
    overdue = _overdue_escalation(napp, new_case(napp))
    taken = imminent_alert(napp, new_case(napp))
    acknowledge(napp, "sup", taken.id)
    south = refer(napp, "coord2", referral("MKSOUTH") | {"caseworker": "cw3"}, None)
    theirs = imminent_alert(napp, napp.run(lambda uow: uow.session.get_one(Case, south.id)))

    change_role(napp, "adm", "cw2", "supervisor")
    for alert in (imminent, overdue, visit):
        _same_page(napp, alert, "cw2", "sup")
    for other in (at_top, taken, theirs):
        assert rows(napp, alert_id=other.id, recipient="cw2") == []
    # Made a supervisor again: nobody is paged twice at one tier.
    change_role(napp, "adm", "cw2", "caseworker")
    change_role(napp, "adm", "cw2", "supervisor")
    for alert in (imminent, overdue, visit):
        assert len(rows(napp, alert_id=alert.id, recipient="cw2")) == 1


@pytest.mark.parametrize("counted_by", ["added on call", "made supervisor", "put on call"])
def test_the_commands_page_one_newly_counted_at_once_who_may_then_acknowledge(
    napp: App, mail: RouteBook, smtp: SmtpServer, counted_by: str
) -> None:
    alert = imminent_alert(napp, new_case(napp))  # on-call staff and supervisors
    if counted_by == "added on call":
        who = "oc"
        mail.email(who)
        done = invoke(napp, "staff", "add", who, "--agency", "north", "--role", "caseworker",
                      "--on-call", "--as", "adm")  # fmt: skip
    elif counted_by == "made supervisor":
        who = "cw2"
        done = invoke(napp, "staff", "role", who, "supervisor", "--as", "adm")
    else:
        who = "cw2"
        done = invoke(napp, "staff", "on-call", who, "--as", "adm")
        assert "cw2 is now on call." in done.stdout
    assert done.exit_code == 0, done.stderr
    [page] = rows(napp, alert_id=alert.id, recipient=who)
    assert page.status == OutboxStatus.SENT  # the command's own delivery sent it (urgent lane)
    [message] = [m for m in smtp.to(f"{who}@{MAIL_DOMAIN}") if alert.id[:8] in m.subject]
    assert MARKER not in message.text and "north" not in message.text
    acked = invoke(napp, "ack", alert.id[:8], "--as", who)
    assert acked.exit_code == 0, acked.stderr


def test_the_only_supervisor_made_a_caseworker_lets_their_alert_climb_at_once(
    napp: App, clock: FixedClock, mail: RouteBook
) -> None:
    # sup is north's only supervisor: an overdue escalation waits for the supervisors. Made a
    # caseworker, nobody is left there: it waited a whole alert_ack_timeout before the admins.
    overdue = _overdue_escalation(napp, new_case(napp))
    assert {r.recipient for r in rows(napp, alert_id=overdue.id)} == {"sup"}
    changed = invoke(napp, "staff", "role", "sup", "caseworker", "--as", "adm")
    assert changed.exit_code == 0, changed.stderr
    climbed = _stored(napp, overdue.id)
    assert climbed.tier > overdue.tier
    assert "adm" in {r.recipient for r in rows(napp, alert_id=overdue.id)}


def test_the_on_call_rota_changes_by_command_refused_for_others_and_audited(
    napp: App, mail: RouteBook
) -> None:
    # sup is north's only one on call. Taken off, imminent threats page the supervisors alone:
    # the command says so. Put on again (or already on): nobody is paged twice.
    alert = imminent_alert(napp, new_case(napp))
    paged = len(rows(napp, alert_id=alert.id, recipient="sup"))  # one row per route
    off = invoke(napp, "staff", "on-call", "sup", "--off", "--as", "adm", "--json")
    assert off.exit_code == 0, off.stderr
    assert off.json() == {
        "handle": "sup",
        "on_call": False,
        "changed": True,
        "nobody_on_call": True,
        "warning": "Nobody in the agency is on call: imminent threats page the supervisors.",
    }
    assert _stored(napp, alert.id).tier == alert.tier  # sup, a supervisor, is still at its tier
    text = invoke(napp, "staff", "on-call", "sup", "--off", "--as", "adm").stdout
    assert "sup is already off call. Nobody in the agency is on call" in text
    assert invoke(napp, "staff", "on-call", "adm", "--as", "adm").exit_code == 0  # oneself too
    assert invoke(napp, "staff", "on-call", "sup", "--as", "adm").exit_code == 0
    assert len(rows(napp, alert_id=alert.id, recipient="sup")) == paged
    before = invoke(napp, "staff", "list", "--as", "adm", "--json").json()
    for command, code in (
        (("staff", "on-call", "cw2", "--as", "sup"), "not_permitted"),  # not an admin
        (("staff", "on-call", "cw3", "--as", "adm"), "staff_not_found"),  # another agency's
        (("staff", "on-call", "zz9", "--as", "adm"), "staff_not_found"),
    ):
        refused = invoke(napp, *command)
        assert refused.exit_code == 1 and f"error: {code}" in refused.stderr, refused.stderr
    assert invoke(napp, "staff", "list", "--as", "adm", "--json").json() == before
    audited = napp.run(
        lambda uow: uow.session.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == "staff.on_call", AuditEvent.outcome == "ok"
            )
        ).all()
    )
    assert audited == [
        {"handle": "sup", "on_call": False},
        {"handle": "adm", "on_call": True},
        {"handle": "sup", "on_call": True},
    ]


def test_one_made_supervisor_gets_the_standing_overdue_escalations_as_one_digest(
    napp: App, mail: RouteBook
) -> None:
    # After an outage the supervisors' tier holds many overdue escalations: one made a
    # supervisor then is told of them in one escalation digest, not a page each (as the sweep
    # that opened them told the supervisors), and never twice.
    overdue = [_overdue_escalation(napp, new_case(napp)) for _ in range(3)]
    change_role(napp, "adm", "cw2", "supervisor")
    change_role(napp, "adm", "cw2", "caseworker")
    change_role(napp, "adm", "cw2", "supervisor")
    for alert in overdue:
        [page] = rows(napp, alert_id=alert.id, recipient="cw2")
        assert page.status == OutboxStatus.BUNDLED
    [digest] = rows(napp, recipient="cw2", kind=NotificationKind.ESCALATION_DIGEST)
    assert digest.status == OutboxStatus.PENDING and digest.next_attempt_at <= napp.clock.now()
    assert digest.context["count"] == 3
    assert sorted(item["alert_id"] for item in digest.context["items"]) == sorted(
        alert.id for alert in overdue
    )
