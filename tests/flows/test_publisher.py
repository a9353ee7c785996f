"""The publisher: lifecycle events reach the Prefect server as ids only, once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from flows.publisher import publish_all
from harbour import events
from harbour.app import App
from harbour.clock import FixedClock
from tests.orchestration.helpers import lifecycle_events, refer


def _server_events(
    case_id: str, timeout: float = 30, resource: str = "harbour.case"
) -> list[dict[str, object]]:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventResourceFilter

    wanted = EventFilter(resource=EventResourceFilter(id=[f"{resource}.{case_id}"]))
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            found = [e.model_dump(mode="json") for e in client.read_events(wanted, 50).events]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.2)


def test_a_referral_is_published_with_ids_only_once(flow_app: App, tmp_path: Path) -> None:
    case = refer(flow_app, tmp_path, "PUBCANARY")
    assert asyncio.run(publish_all(flow_app)) == len(lifecycle_events(flow_app))
    assert asyncio.run(publish_all(flow_app)) == 0
    assert all(e.published_at is not None for e in lifecycle_events(flow_app))
    (sent,) = _server_events(case.id)
    assert sent["event"] == events.CASE_REFERRED
    assert sent["payload"] == {"case_id": case.id, "subject_id": case.id}
    assert "PUBCANARY" not in str(sent)


def test_a_missing_episode_and_a_visit_overdue_are_published_with_ids_only(
    flow_app: App, tmp_path: Path, clock: FixedClock
) -> None:
    from datetime import timedelta

    from harbour.cases import missing, visits
    from harbour.notify.visit_checks import raise_overdue

    case = refer(flow_app, tmp_path, "PUBFIELD")
    episode = missing.report_missing(flow_app, "cw1", case.reference, "00:00")
    missing.report_return(flow_app, "cw1", case.reference, clock.now().isoformat())
    visit = visits.start_visit(flow_app, "cw2", back_at="23:59", location="PUBFIELDWHERE")
    clock.set(visit.deadline_at + timedelta(minutes=1))
    assert flow_app.run(lambda uow: raise_overdue(uow, clock.now())) == 1
    alert_id = visits.list_visits(flow_app, "cw2")[0].alert_id
    asyncio.run(publish_all(flow_app))
    wanted = {events.MISSING_OPENED, events.MISSING_CLOSED, events.VISIT_OVERDUE}
    names: dict[object, dict[str, object]] = {}
    deadline = time.monotonic() + 60
    while not wanted <= set(names) and time.monotonic() < deadline:  # all in, at the server
        found = _server_events(case.id) + _server_events(str(alert_id), resource="harbour.alert")
        names = {e["event"]: e for e in found}
    opened, closed = names[events.MISSING_OPENED], names[events.MISSING_CLOSED]
    assert opened["payload"] == closed["payload"] == {"case_id": case.id, "subject_id": episode.id}
    assert names[events.VISIT_OVERDUE]["payload"] == {"subject_id": alert_id}
    assert "PUBFIELD" not in str(names)
