"""The publisher: lifecycle events reach the Prefect server as ids only, once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from flows.publisher import publish_all
from harbour import events
from harbour.app import App
from tests.orchestration.helpers import lifecycle_events, refer


def _server_events(case_id: str, timeout: float = 30) -> list[dict[str, object]]:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventResourceFilter

    wanted = EventFilter(resource=EventResourceFilter(id=[f"harbour.case.{case_id}"]))
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
