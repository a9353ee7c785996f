"""What every benchmark shares: a row format, a timer, and throwaway stores on both databases."""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from harbour.admin.staffing import AgencyIn, StaffIn, create_agency, create_staff
from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.crypto import Keyring
from harbour.db import migrate
from harbour.db.engine import make_engine
from harbour.settings import Settings

POSTGRES_URL = os.environ.get(
    "HARBOUR_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = tuple(os.environ.get("HARBOUR_BENCH_BACKENDS", "sqlite,postgres").split(","))
START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    """One line of the results table. ``ratio`` is figure over baseline, in the unit's direction."""

    name: str
    figure: float
    baseline: float
    unit: str
    baseline_name: str
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.figure / self.baseline if self.baseline else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ratio": self.ratio}


def timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


@contextmanager
def temp_store(backend: str, clock_at: datetime = START) -> Iterator[App]:
    """A migrated, empty Harbour store on ``backend``, dropped afterwards."""
    with tempfile.TemporaryDirectory(prefix="harbour-bench-") as folder:
        home = Path(folder)
        keyring = Keyring.generate()
        with _database(backend, home) as url:
            settings = Settings(home=home, database_url=url, key_file=home / "keys.json")
            keyring.save(settings.resolved_key_file)
            app = App(settings, FixedClock(clock_at), keyring)
            migrate.upgrade(app.engine)
            try:
                yield app
            finally:
                app.dispose()


@contextmanager
def _database(backend: str, home: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{home / 'bench.db'}"
        return
    name = f"harbour_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_engine(POSTGRES_URL).url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def snapshot(app: App) -> Iterator[Callable[[], None]]:
    """The store as it stands, kept; yields a function that puts it back, so that each round of
    a benchmark that writes starts from the same store: SQLite's backup to memory and back, a
    template database on PostgreSQL (planner statistics and all), dropped afterwards. A store
    put back on PostgreSQL is settled again (``settle``), as the first was."""
    app.engine.dispose()
    url = app.engine.url
    if url.get_backend_name() == "sqlite":
        path = str(url.database)
        kept = sqlite3.connect(":memory:")
        with closing(sqlite3.connect(path)) as store:
            store.backup(kept)

        def put_back_file() -> None:
            app.engine.dispose()
            with closing(sqlite3.connect(path)) as store:
                kept.backup(store)

        try:
            yield put_back_file
        finally:
            kept.close()
        return
    name = str(url.database)
    kept_name = f"{name}_kept"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{kept_name}" TEMPLATE "{name}"'))

    def put_back_database() -> None:
        app.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{kept_name}"'))
        settle(app)

    try:
        yield put_back_database
    finally:
        app.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{kept_name}" WITH (FORCE)'))
        admin.dispose()


def cli_env(app: App, routes: Path | None = None, mode: str = "inline") -> dict[str, str]:
    """The environment of a `harbour` command against ``app``'s store."""
    from flows.local_server import server_environment

    env = {
        **server_environment(app.settings.home),
        "HARBOUR_HOME": str(app.settings.home),
        "HARBOUR_DATABASE_URL": app.settings.resolved_database_url,
        "HARBOUR_KEY_FILE": str(app.settings.resolved_key_file),
        "HARBOUR_ORCHESTRATION": mode,
    }
    return env | ({"HARBOUR_APPRISE_CONFIG": str(routes)} if routes else {})


def byte_compiled() -> None:
    """Byte-compile Harbour's own modules, as installing its wheel does. A benchmark that starts
    `harbour` processes compares them with a bare process importing the same third-party modules,
    which pip compiled when it installed them; where PYTHONDONTWRITEBYTECODE is set (it is in
    some shells and CI images), Harbour's modules would otherwise be compiled from source by
    every process, a cost no installation pays."""
    import compileall

    import flows
    import harbour

    for package in (harbour, flows):
        compileall.compile_dir(Path(str(package.__file__)).parent, quiet=2)


def settle(app: App) -> None:
    """On PostgreSQL, what autovacuum gives a store in use (its planner statistics and
    visibility map), after a bulk load: this machine's server runs without it, and straight
    after a load the planner guesses a handful of rows per table (a hash of every open
    assessment where a search by key was meant; seconds in the dashboard's queries)."""
    if app.engine.dialect.name == "postgresql":
        with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def seed_agency(app: App) -> None:
    """An agency "bench" with a coordinator, a caseworker and an on-call supervisor."""

    def work(uow: UnitOfWork) -> None:
        create_agency(uow, AgencyIn(name="bench", timezone="America/New_York"))
        for handle, role in (("coord", "coordinator"), ("cw1", "caseworker")):
            create_staff(uow, StaffIn(handle=handle, agency="bench", role=role))
        create_staff(uow, StaffIn(handle="sup", agency="bench", role="supervisor", on_call=True))

    app.run(work)
