"""The one Prefect test server of the session, only for tests/flows (about 25 s of CPU to start).

Prefect's home (its storage folder) is a temporary folder the canary test scans; flow runs skip
the heartbeat thread as Harbour's deployments do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

import pytest

import flows  # noqa: F401  (Harbour's Prefect settings before prefect is imported)
from flows.context import use_app
from flows.local_server import drain_clients, flush_seconds, with_server_defaults
from flows.settings import without_heartbeat
from harbour.app import App
from harbour.clock import FixedClock
from harbour.demo.receivers import RouteBook
from tests.notify.conftest import mail, receiver, routes, smtp  # noqa: F401  (targets)
from tests.orchestration.helpers import in_mode


@dataclass(frozen=True)
class PrefectServer:
    home: Path  # PREFECT_HOME: storage, and anything else Prefect writes locally
    database: Path  # the test server's SQLite database
    api_url: str  # for the processes a test starts (PREFECT_API_URL)
    flush_seconds: float  # the longest it holds a task run or an event before writing it


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on the Prefect test server gets 300 s for its own body, however busy the machine:
    the heaviest, the end-to-end test and the canary, took 143 s and 92 s at a load of 20 on two
    cores, several times their CPU. The server's start (about 25 s of CPU, over two minutes at
    that load) is not counted against whichever test happens to be first: the harness bounds it,
    and the log and event workers are drained with a limit before it stops."""
    for item in items:
        if "prefect_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(300, func_only=True))


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    from prefect.settings import get_current_settings, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    home = tmp_path_factory.mktemp("prefect-home")
    local = {"home": home, "results.local_storage_path": home / "storage"}
    with (
        patch.dict(os.environ, with_server_defaults(os.environ)),  # as a local server runs
        temporary_settings(updates=local),  # type: ignore[arg-type]
        prefect_test_harness(server_startup_timeout=300),  # drains the log and event workers
        without_heartbeat(),
    ):
        current = get_current_settings()
        url, api = current.server.database.connection_url, current.api.url
        assert url is not None and api is not None
        database = Path(url.get_secret_value().split(":///", 1)[1])
        yield PrefectServer(home, database, api, flush_seconds(os.environ))
        drain_clients()  # within 30 s each: the harness's own drain then finds nothing to wait for


@pytest.fixture
def flow_app(
    request: pytest.FixtureRequest, prefect_server: PrefectServer, seeded: App, clock: FixedClock
) -> Iterator[App]:
    """The seeded store in prefect mode, with ``mail``'s routes, handed to the flows' tasks."""
    book: RouteBook = request.getfixturevalue("mail")
    prefect_mode = in_mode(seeded, "prefect").settings
    settings = prefect_mode.model_copy(update={"apprise_config": book.path})
    app = App(settings, clock, seeded.cipher.keyring)
    use_app(app)
    yield app
    use_app(None)
    app.dispose()
