"""The publisher: lifecycle events reach the Prefect server as ids only, once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import select

from flows.publisher import publish_all
from harbour import events
from harbour.app import App
from harbour.clock import FixedClock
from harbour.demo.receivers import RouteBook
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


def test_while_the_server_is_away_alerts_still_move_up_their_ladder(
    seeded: App, clock: FixedClock, mail: RouteBook, tmp_path: Path
) -> None:
    """The Prefect server down (nothing listens at PREFECT_API_URL): its relay and sweep
    deployments run nowhere, and an imminent alert nobody acknowledged used to stay at its
    first tier, a referral's caseworker untold, until the server came back. `harbour serve`
    (and `--publish-only`), which notices through its publisher, now relays in-process
    meanwhile, and sweeps."""
    import threading
    from datetime import timedelta

    from prefect.settings import temporary_settings

    from flows import publisher
    from flows.local_server import free_port
    from harbour.db.models import Alert, OutboxMessage
    from tests.notify.helpers import imminent_alert, new_case
    from tests.orchestration.helpers import in_mode

    settings = in_mode(seeded, "prefect").settings
    app = App(
        settings.model_copy(update={"apprise_config": mail.path}), clock, seeded.cipher.keyring
    )
    alert = imminent_alert(app, new_case(app))
    referred = refer(app, tmp_path, "AWAY")
    clock.advance(timedelta(minutes=10))  # past the alert's acknowledgement time, and the grace

    def handled() -> bool:
        def read(uow: object) -> tuple[int, list[str]]:
            tier = uow.session.get_one(Alert, alert.id).tier  # type: ignore[attr-defined]
            query = select(OutboxMessage.kind).where(OutboxMessage.case_id == referred.id)
            return tier, list(uow.session.scalars(query))  # type: ignore[attr-defined]

        tier, notices = app.read(read)  # type: ignore[arg-type]
        return tier == 1 and notices == ["case_assigned"] and bool(mail.smtp.received)

    stop = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + 60
        while not handled() and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with temporary_settings(updates={"api.url": f"http://127.0.0.1:{free_port()}/api"}):  # type: ignore[dict-item]
            asyncio.run(publisher.run(app, stop, poll=0.1))
    finally:
        stop.set()
        watcher.join()
        app.dispose()
    assert handled()
