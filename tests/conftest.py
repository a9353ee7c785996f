"""Fixtures: a migrated store on SQLite and (when HARBOUR_TEST_POSTGRES_URL is set) PostgreSQL."""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, Table, select, text

from harbour.app import App
from harbour.clock import FixedClock
from harbour.crypto import Keyring
from harbour.db import migrate
from harbour.db.base import Base
from harbour.db.engine import make_engine
from harbour.settings import Settings
from tests.support import seed_agencies

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# argon2's cheapest parameters, also in the harbour processes tests start: a sign-in costs
# milliseconds, not a tenth of a second. tests/web/test_sign_in.py checks the production default.
os.environ.setdefault("HARBOUR_PASSWORD_HASHING", "tests_only_cheap")

POSTGRES_URL = os.environ.get("HARBOUR_TEST_POSTGRES_URL")
START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York
PREFECT_TESTS = "tests/flows/"  # the tests on the Prefect test server, all on one xdist worker
# Under xdist each of these runs whole on one worker: their session or module fixtures (the
# Prefect test server; a demo run; a wheel in a new virtual environment) are made once, not once
# per worker.
ONE_WORKER = (PREFECT_TESTS, "tests/demo/test_demo.py", "tests/packaging/test_wheel.py")


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("HARBOUR_TEST_REQUIRE_POSTGRES") and not POSTGRES_URL:
        raise pytest.UsageError(
            "HARBOUR_TEST_REQUIRE_POSTGRES is set but HARBOUR_TEST_POSTGRES_URL is not: "
            "the PostgreSQL tests must run, not be skipped"
        )


@pytest.hookimpl(optionalhook=True)  # pytest-xdist may be absent or disabled
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under xdist (`make unit` runs `pytest -n 2`), each group in ONE_WORKER runs on one worker,
    so the one Prefect test server of the session (about 20 s to start) starts once; every other
    test goes to whichever worker is free. The biggest groups start first (xdist's
    loadscope reorder). (xdist's own `--dist loadgroup` groups nothing under pytest 9.2.)"""
    if config.getvalue("dist") != "load":
        return None  # an explicit --dist keeps its meaning
    from xdist.scheduler import LoadScopeScheduling

    class OnePrefectWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return next((group for group in ONE_WORKER if nodeid.startswith(group)), nodeid)

    return OnePrefectWorker(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked slow first. Under xdist the scheduler hands out the ONE_WORKER groups,
    then every other test in this order: a long test (a browser story, a rotation killed at
    random, a real Prefect server) that started last would leave the other worker idle at the end.
    The sort is stable and the slow marks are per module or per test, so a module's tests stay
    together."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "harbour.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One migrated database for the session; each test gets it emptied."""
    if not POSTGRES_URL:
        pytest.skip("HARBOUR_TEST_POSTGRES_URL is not set")
    name = f"harbour_test_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # A commit returns without waiting for its WAL record to reach the disk (2 to 3 ms each
        # here, for thousands of commits): what only a crash of the server itself could tell
        # apart, which no test makes. Every connection to it, a test's `harbour` processes too.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = make_engine(POSTGRES_URL).url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# Every table's DELETE, children first, sent as one string: one round trip, not one per table.
_EMPTY_ALL = "; ".join(f'DELETE FROM "{t.name}"' for t in reversed(Base.metadata.sorted_tables))


def _empty_postgres(url: str) -> None:
    """DELETE, children first: on a test's handful of rows it takes milliseconds, where TRUNCATE
    (new files for every table) took a tenth of a second or more before each PostgreSQL test."""
    with _SHARED_ENGINES[_shared(url, reconnect=False)].begin() as conn:
        conn.exec_driver_sql(_EMPTY_ALL)


# The fixture store's engine, one per URL in each worker, kept from test to test: SQLAlchemy
# caches compiled statements per engine, and compiling every statement afresh in every test cost
# more than most tests' own work. On PostgreSQL its connections stay open too: a new connection
# is a new server process that reads the catalogue afresh, and psycopg prepares statements per
# connection. Only the `app` fixture's App uses it; an App a test makes stands for another
# process and gets its own engine, as before.
_SHARED_ENGINES: dict[str, Engine] = {}


def _shared(url: str, *, reconnect: bool) -> str:
    engine = _SHARED_ENGINES.get(url)
    if engine is None:
        _SHARED_ENGINES[url] = make_engine(url)
    elif reconnect:
        engine.dispose()
    return url


@pytest.fixture(scope="session", autouse=True)
def _dispose_shared_engines() -> Iterator[None]:
    yield
    for engine in _SHARED_ENGINES.values():
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worker's SQLite store: one path, so one engine, filled afresh for each test."""
    return tmp_path_factory.mktemp("store") / "harbour.db"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, sqlite_store: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        url = _shared(f"sqlite:///{sqlite_store}", reconnect=True)  # the file is replaced
        for leftover in sqlite_store.parent.glob(f"{sqlite_store.name}*"):
            leftover.unlink()  # the last test's file, WAL and shared memory
        fresh = sqlite_store.with_suffix(".fresh")
        shutil.copy(sqlite_template, fresh)
        fresh.replace(sqlite_store)  # a new file: a connection a test leaked keeps the old one
        return url
    url = _shared(request.getfixturevalue("postgres_database"), reconnect=False)
    _empty_postgres(url)
    return url


# The session's keys, in every test's key file: the rows ``seeded`` copies in were sealed under
# them. A test that needs other keys makes them (``with_new_key``), as an operator would.
_KEYRING = Keyring.generate()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(dict(_KEYRING.keys), _KEYRING.primary)


@functools.cache
def _environment_settings() -> Settings:
    """Settings read from the environment once per worker (5 ms each time: every field is looked
    up); each test's are a copy with its own home, store and key file."""
    return Settings(base_url="https://harbour.test")


@pytest.fixture
def settings(tmp_path: Path, database_url: str, keyring: Keyring) -> Settings:
    key_file = tmp_path / "keys.json"
    keyring.save(key_file)
    own = {"home": tmp_path, "database_url": SecretStr(database_url), "key_file": key_file}
    own["key_recheck_seconds"] = 0.05  # each rotation waits this out: not a second per test
    return _environment_settings().model_copy(update=own)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def app(settings: Settings, clock: FixedClock) -> Iterator[App]:
    application = App(settings, clock)
    shared = _SHARED_ENGINES.get(settings.resolved_database_url)
    if shared is not None:
        application.engine = shared
    yield application
    if shared is None or application.engine is not shared:
        application.dispose()


# What seed_agencies wrote, per database kind and moment, table by table (parents first).
_SEEDED_ROWS: dict[tuple[str, datetime], list[tuple[Table, list[dict[str, Any]]]]] = {}


@pytest.fixture
def seeded(app: App) -> App:
    """Two agencies: north (adm, coord, cw1, cw2, sup) and south (coord2, cw3, sup2).

    Seeded through the services once per database kind in each worker, then copied in as the
    same rows: the services' dozens of statements took longer than many tests' own work."""
    key = (app.engine.dialect.name, app.clock.now())
    rows = _SEEDED_ROWS.get(key)
    if rows is None:
        seed_agencies(app)
        with app.engine.connect() as conn:
            _SEEDED_ROWS[key] = [
                (table, [dict(row._mapping) for row in conn.execute(select(table))])
                for table in Base.metadata.sorted_tables
            ]
        return app
    with app.engine.begin() as conn:
        for table, values in rows:
            if values:
                conn.execute(table.insert(), values)
    return app
