"""Harbour's lifecycle events, emitted as Prefect events (ids and codes only) for the triggers.

The database is the record: an event is marked published only after the server confirmed
receiving it, and it keeps its Harbour id as its Prefect id, so the server's triggers ignore a
copy sent again after a crash.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from uuid import UUID

from prefect.events import Event
from prefect.events.clients import EventsClient, get_events_client

from harbour.app import App
from harbour.orchestration.publishing import Outgoing, mark_published, take_unpublished
from harbour.orchestration.standby import Standby

log = logging.getLogger(__name__)

BATCH = 100
POLL_SECONDS = 1.0


def prefect_event(item: Outgoing) -> Event:
    return Event(event=item.name, resource=item.resource, payload=item.payload, id=UUID(item.id))


async def publish_batch(app: App, client: EventsClient, limit: int = BATCH) -> int:
    """Emit one batch; returns how many events it covered (public or not)."""
    ids, public = take_unpublished(app, limit)
    for item in public:
        await client.emit(prefect_event(item))
    mark_published(app, ids)
    return len(ids)


def _client() -> EventsClient:
    # A ping after every event: the server has it before the row is marked published.
    return get_events_client(checkpoint_every=1)


async def publish_all(app: App, limit: int = BATCH) -> int:
    """Emit every unpublished event now (tests, the demo); how many were covered."""
    total = 0
    async with _client() as client:
        while covered := await publish_batch(app, client, limit):
            total += covered
    return total


async def run(
    app: App,
    stop: threading.Event,
    poll: float = POLL_SECONDS,
    ready: threading.Event | None = None,
) -> None:
    """Publish until ``stop`` is set, polling every ``poll`` seconds; reconnect after errors,
    and while the server cannot be reached, relay and sweep in-process (``Standby``). With
    ``ready``, emit only while it is set (the triggers the events are for are on the server);
    connected meanwhile, so that a server out of reach is still noticed."""
    standby = Standby(app)
    while not stop.is_set():
        try:
            async with _client() as client:
                while not stop.is_set():
                    held = ready is not None and not ready.is_set()
                    if held or await publish_batch(app, client) < BATCH:
                        await asyncio.sleep(poll)
        except Exception as exc:  # the server is down or restarting: keep the rows, try again
            log.warning("publisher: %s; retrying", type(exc).__name__)
            standby()
            await asyncio.sleep(poll * 5)


def start_thread(
    app: App, poll: float = POLL_SECONDS, ready: threading.Event | None = None
) -> tuple[threading.Thread, threading.Event]:
    """The publisher loop on a daemon thread of its own (emitting while ``ready`` is set, when
    given); set the event returned to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=lambda: asyncio.run(run(app, stop, poll, ready)),
        name="harbour-publisher",
        daemon=True,
    )
    thread.start()
    return thread, stop
