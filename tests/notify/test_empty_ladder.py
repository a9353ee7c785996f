"""A tier with nobody in it is passed over at once; a ladder with nobody at all is logged, retried
and shown by `harbour notify check`."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from harbour.admin.staffing import AgencyIn, StaffIn, create_agency, create_staff
from harbour.app import App, UnitOfWork
from harbour.cases.intake import Referred, refer
from harbour.clock import FixedClock
from harbour.db.base import new_id
from harbour.db.models import Alert, Case
from harbour.demo.receivers import MAIL_DOMAIN, RouteBook, SmtpServer
from harbour.domain.vocab import AlertKind, Lane, NotificationKind, Role
from harbour.notify.alerts import escalate_unacknowledged, open_alert
from tests.conftest import START
from tests.notify.helpers import TIMEOUT, imminent_alert, new_case, rows
from tests.support import invoke, referral


def _agency(app: App, name: str, *staff: tuple[str, Role]) -> None:
    def work(uow: UnitOfWork) -> None:
        create_agency(uow, AgencyIn(name=name, timezone="America/New_York"))
        for handle, role in staff:
            create_staff(uow, StaffIn(handle=handle, agency=name, role=role))

    app.run(work)


def _case(app: App, coordinator: str, caseworker: str) -> Referred:
    return refer(app, coordinator, referral("MKEMPTY") | {"caseworker": caseworker}, None)


def _alert(app: App, case: Referred, kind: AlertKind) -> Alert:
    first = {
        AlertKind.IMMINENT_THREAT: NotificationKind.IMMINENT_THREAT,
        AlertKind.OVERDUE_ESCALATION: NotificationKind.OVERDUE_ESCALATION,
    }[kind]
    return app.run(
        lambda uow: open_alert(uow, uow.session.get_one(Case, case.id), kind, new_id(), first)
    )


def _paged(app: App, alert: Alert) -> list[tuple[str, str, str]]:
    return [(r.kind, r.recipient, r.lane) for r in rows(app, alert_id=alert.id)]


def test_an_imminent_alert_with_no_on_call_or_supervisor_pages_the_admins_at_once(
    napp: App,
) -> None:
    _agency(
        napp,
        "east",
        ("ecoord", Role.COORDINATOR),
        ("ecw", Role.CASEWORKER),
        ("eadm", Role.ADMIN),
    )
    alert = _alert(napp, _case(napp, "ecoord", "ecw"), AlertKind.IMMINENT_THREAT)
    assert _paged(napp, alert) == [("imminent_threat", "eadm", Lane.URGENT)]
    stored = napp.run(lambda uow: uow.session.get_one(Alert, alert.id))
    assert (stored.tier, stored.next_escalation_at) == (2, None)  # the top: nothing left


def test_an_overdue_escalation_with_no_supervisor_goes_to_the_admins(napp: App) -> None:
    _agency(napp, "east", ("ecoord", Role.COORDINATOR), ("ecw", Role.CASEWORKER))
    napp.run(lambda uow: create_staff(uow, StaffIn(handle="eadm", agency="east", role=Role.ADMIN)))
    alert = _alert(napp, _case(napp, "ecoord", "ecw"), AlertKind.OVERDUE_ESCALATION)
    assert _paged(napp, alert) == [("overdue_escalation", "eadm", Lane.NORMAL)]


def test_a_ladder_with_nobody_is_logged_retried_and_fails_the_check(
    napp: App, clock: FixedClock, routes: RouteBook, caplog: pytest.LogCaptureFixture
) -> None:
    routes.chat("sup").chat("adm")
    assert invoke(napp, "notify", "check", "--as", "adm").exit_code == 0
    _agency(napp, "west", ("wcoord", Role.COORDINATOR), ("wcw", Role.CASEWORKER))
    with caplog.at_level(logging.WARNING, logger="harbour.notify.alerts"):
        alert = _alert(napp, _case(napp, "wcoord", "wcw"), AlertKind.IMMINENT_THREAT)
    assert _paged(napp, alert) == []
    [record] = [r for r in caplog.records if "nobody_to_page" in r.getMessage()]
    assert alert.id in record.getMessage() and "MKEMPTY" not in record.getMessage()

    # Another agency's supervisor sees their own agency only (issue 13, item 13): nothing of
    # west's, not even its name; an operator (adm) sees across agencies.
    own = invoke(napp, "notify", "check", "--as", "sup", "--json")
    assert own.exit_code == 0, own.stderr
    assert own.json()["nobody_to_page"] == [] and own.json()["alerts_paging_nobody"] == []
    assert "west" not in own.stdout and alert.id not in own.stdout
    check = invoke(napp, "notify", "check", "--as", "adm", "--json")  # the operator, of north
    assert check.exit_code == 2 and "nobody_to_page" in check.stderr
    report = check.json()
    assert report["nobody_to_page"] == ["west"]
    assert report["alerts_paging_nobody"] == [
        {"alert": alert.id, "kind": "imminent_threat", "agency": "west", "why": "nobody_left"}
    ]
    text = invoke(napp, "notify", "check", "--as", "adm")
    assert "in: west" in text.stdout and alert.id in text.stdout

    clock.advance(TIMEOUT)  # still nobody: tried again, nothing sent, counted as no climb
    assert napp.run(lambda uow: escalate_unacknowledged(uow, uow.now()))["escalated"] == 0
    napp.run(lambda uow: create_staff(uow, StaffIn(handle="wadm", agency="west", role=Role.ADMIN)))
    clock.advance(TIMEOUT)
    assert napp.run(lambda uow: escalate_unacknowledged(uow, uow.now()))["escalated"] == 1
    assert _paged(napp, alert) == [("alert_escalated", "wadm", Lane.URGENT)]
    assert invoke(napp, "notify", "check", "--as", "adm").exit_code == 0


@pytest.mark.parametrize("kind", [AlertKind.IMMINENT_THREAT, AlertKind.MISSING_STEPS_OVERDUE])
def test_a_tier_a_deactivation_leaves_empty_climbs_at_once(
    napp: App, clock: FixedClock, mail: RouteBook, smtp: SmtpServer, kind: AlertKind
) -> None:
    # sup, north's only supervisor and its only on-call person, is the whole first tier of an
    # imminent threat (and of a missing youth's steps overdue). Deactivated while it waited, its
    # page was dead-lettered and the alert waited a full alert_ack_timeout (10 minutes), with
    # nobody who could take it, before it reached the admins.
    from harbour.cases import missing
    from harbour.notify import missing_alerts

    case = new_case(napp)
    if kind == AlertKind.IMMINENT_THREAT:
        imminent_alert(napp, case)
    else:
        since = (START - timedelta(hours=23, minutes=55)).isoformat()  # warned at once
        missing.report_missing(napp, "cw1", case.reference, since)
        clock.advance(timedelta(minutes=6))  # overdue, the warning not yet up its ladder
        napp.run(lambda uow: missing_alerts.raise_due(uow, uow.now()))
    alerts = {a.kind: a for a in napp.run(lambda uow: uow.session.scalars(select(Alert)).all())}
    alert = alerts[kind]
    assert alert.tier == 0 and {r.recipient for r in rows(napp, alert_id=alert.id)} == {"sup"}

    done = invoke(napp, "staff", "deactivate", "sup", "--as", "adm")
    assert done.exit_code == 0, done.stderr
    climbed = {a.kind: a for a in napp.run(lambda uow: uow.session.scalars(select(Alert)).all())}
    assert climbed[kind].tier == 2  # the supervisors' tier is empty too: the admins
    [page] = [m for m in smtp.to(f"adm@{MAIL_DOMAIN}") if alert.id[:8] in m.subject]
    assert "URGENT" in page.subject  # sent by the command itself: the urgent lane
    if kind == AlertKind.MISSING_STEPS_OVERDUE:  # its caseworker (cw1) is left at that tier
        due = alerts[AlertKind.MISSING_STEPS_DUE]
        assert climbed[due.kind].tier == 0
        assert climbed[due.kind].next_escalation_at == due.next_escalation_at
