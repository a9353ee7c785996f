"""A shared route tagged with a role and the agency (a supervisors' channel, an admins' inbox)
receives what goes to that role, beside each person's own route."""

from __future__ import annotations

from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Case, OutboxMessage
from harbour.demo.receivers import RouteBook
from harbour.notify.alerts import escalate_unacknowledged
from tests.notify.helpers import TIMEOUT, imminent_alert, new_case


def _recipients(app: App, kind: str) -> set[str]:
    with app.sessions() as session:
        return set(
            session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.kind == kind))
        )


def test_role_channels_receive_alerts_and_their_escalations(
    napp: App, routes: RouteBook, clock: FixedClock
) -> None:
    routes.email("sup").add("json://127.0.0.1:9/sup-team", "supervisor", "north", "chat")
    routes.add("json://127.0.0.1:9/admins", "admin", "north", "chat")
    imminent_alert(napp, new_case(napp))
    assert _recipients(napp, "imminent_threat") == {"sup", "supervisor/north"}
    clock.advance(TIMEOUT)
    napp.run(lambda uow: escalate_unacknowledged(uow, uow.now()))
    clock.advance(TIMEOUT)
    napp.run(lambda uow: escalate_unacknowledged(uow, uow.now()))
    assert _recipients(napp, "alert_escalated") == {"sup", "supervisor/north", "adm", "admin/north"}


def test_without_a_shared_route_only_people_are_addressed(napp: App, routes: RouteBook) -> None:
    routes.email("sup")
    case: Case = new_case(napp)
    imminent_alert(napp, case)
    assert _recipients(napp, "imminent_threat") == {"sup"}
