"""Store fixtures: both backends side by side, for tests that compare SQLite with PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harbour.app import App
from harbour.clock import FixedClock
from harbour.crypto import Keyring
from harbour.settings import Settings
from tests.conftest import POSTGRES_URL, _empty_postgres
from tests.support import seed_agencies


@pytest.fixture
def backend_apps(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, clock: FixedClock
) -> Iterator[dict[str, App]]:
    """Seeded Apps on SQLite and (when configured) PostgreSQL, sharing one keyring and clock."""
    urls = {"sqlite": f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'cross.db')}"}
    if POSTGRES_URL:
        urls["postgres"] = request.getfixturevalue("postgres_database")
        _empty_postgres(urls["postgres"])
    key_file = tmp_path / "cross-keys.json"
    Keyring.generate().save(key_file)
    apps = {
        name: App(Settings(home=tmp_path, database_url=url, key_file=key_file), clock)
        for name, url in urls.items()
    }
    for app in apps.values():
        seed_agencies(app)
    yield apps
    for app in apps.values():
        app.dispose()
