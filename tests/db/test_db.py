"""The database layer: aware UTC both ways, optimistic locking, migrations, engine safety."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import UniqueConstraint, event, make_url, select, text
from sqlalchemy.exc import IntegrityError, InvalidRequestError, StatementError

from harbour.app import App
from harbour.cases import intake
from harbour.clock import FixedClock
from harbour.crypto import Keyring
from harbour.db import migrate, schema
from harbour.db.base import Base
from harbour.db.models import AuditEvent, Case, Staff
from harbour.domain import refs
from harbour.errors import Conflict, HarbourError
from harbour.settings import Settings
from tests.conftest import _empty_postgres
from tests.db.helpers import new_postgres_database
from tests.support import invoke, referral, seed_agencies

PLUS_FIVE = timezone(timedelta(hours=5, minutes=30))


def _audit_row(app: App, at: datetime) -> str:
    row = AuditEvent(at=at, action="probe", outcome="ok", details={})
    app.run(lambda uow: uow.session.add(row))
    return row.id


def test_timestamps_are_aware_utc_in_and_out(app: App) -> None:
    moment = datetime(2026, 3, 2, 19, 30, 0, 123456, tzinfo=PLUS_FIVE)
    row_id = _audit_row(app, moment)
    read = app.run(
        lambda uow: uow.session.scalar(select(AuditEvent.at).where(AuditEvent.id == row_id))
    )
    assert read == moment and read.tzinfo == UTC and read.hour == 14
    later = app.run(
        lambda uow: uow.session.scalar(
            select(AuditEvent.id).where(AuditEvent.at > datetime(2026, 3, 2, 13, 59, tzinfo=UTC))
        )
    )
    assert later == row_id


SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY  # the stored form only matters where zones are dropped
def test_sqlite_stores_utc_text(app: App) -> None:
    row_id = _audit_row(app, datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=-5))))
    with app.engine.connect() as conn:
        raw = conn.scalar(text("SELECT at FROM audit_events WHERE id = :i"), {"i": row_id})
    assert str(raw).startswith("2026-03-02 14:00:00")


def test_naive_timestamps_are_refused(app: App) -> None:
    with pytest.raises(StatementError) as raised:
        _audit_row(app, datetime(2026, 3, 2, 14, 0))
    assert "naive datetime refused" in str(raised.value.orig)
    with app.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM audit_events")) == 0


def test_a_stale_edit_is_a_conflict(seeded: App) -> None:
    case_id = intake.refer(seeded, "coord", referral("Ol"), None).id
    stale = seeded.run(lambda uow: uow.session.get(Case, case_id))  # read, then held (detached)

    def other_edit(uow: object) -> None:
        uow.session.get(Case, case_id).escalated = True  # type: ignore[attr-defined]

    seeded.run(other_edit)

    def late_edit(uow: object) -> None:
        uow.session.add(stale)  # type: ignore[attr-defined]
        stale.risk_level = "high"

    with pytest.raises(Conflict) as raised:
        seeded.run(late_edit)
    assert raised.value.code == "stale"
    fresh = seeded.run(lambda uow: uow.session.get(Case, case_id))
    assert (fresh.escalated, fresh.risk_level, fresh.version) == (True, None, 2)


def _changed_under(uow: Any, staff: Staff) -> None:
    """A rival's committed edit of ``staff``, as the row reads once the work has read it."""
    table = Staff.__table__
    bump = table.update().where(table.c.id == staff.id).values(version=table.c.version + 1)
    uow.session.execute(bump)


def test_work_that_commutes_is_run_again_after_a_stale_conflict(
    seeded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stale twice, then through: the whole work runs again from a fresh read, and only the
    last run's change is kept; without ``commutes`` the same work is refused as stale."""
    monkeypatch.setattr("harbour.app.STALE_WAIT", 0)
    runs: list[int] = []

    def work(uow: Any) -> int:
        staff = uow.session.scalar(select(Staff).where(Staff.handle == "cw1"))
        runs.append(staff.version)
        if len(runs) <= 2:
            _changed_under(uow, staff)  # rolled back with the attempt
        staff.on_call = not staff.on_call
        uow.session.flush()
        return len(runs)

    assert seeded.run(work, commutes=True) == 3
    assert runs == [1, 1, 1]  # each attempt read the row afresh
    on_call = seeded.run(lambda uow: uow.session.scalar(select(Staff).where(Staff.handle == "cw1")))
    assert (on_call.on_call, on_call.version) == (True, 2)
    runs.clear()
    with pytest.raises(Conflict) as raised:
        seeded.run(work)
    assert raised.value.code == "stale" and len(runs) == 1


def test_work_that_commutes_gives_up_after_a_few_attempts(
    seeded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harbour.app import STALE_ATTEMPTS

    monkeypatch.setattr("harbour.app.STALE_WAIT", 0)
    runs: list[int] = []

    def always_stale(uow: Any) -> None:
        staff = uow.session.scalar(select(Staff).where(Staff.handle == "cw1"))
        runs.append(1)
        _changed_under(uow, staff)
        staff.on_call = True
        uow.session.flush()

    with pytest.raises(Conflict) as raised:
        seeded.run(always_stale, commutes=True)
    assert raised.value.code == "stale" and len(runs) == STALE_ATTEMPTS


def test_migrations_match_the_models(app: App) -> None:
    with app.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []
    assert migrate.current_revision(app.engine) == migrate.head_revision()


def test_db_upgrade_on_a_fresh_store_and_again(tmp_path: Path) -> None:
    app = App(Settings(home=tmp_path / "new"))
    try:
        first = invoke(app, "db", "upgrade", "--json")
        again = invoke(app, "db", "upgrade")
    finally:
        app.dispose()
    assert first.exit_code == 0 and first.json() == {
        "revision": migrate.head_revision(),
        "youth_indexes_recomputed": 0,
    }
    assert again.exit_code == 0 and "revision" in again.stdout


def test_sqlite_engine_settings(app: App) -> None:
    if app.engine.dialect.name != "sqlite":
        assert app.engine.dialect.driver == "psycopg"
        assert app.engine.hide_parameters
        return
    with app.engine.connect() as conn:
        pragmas = {
            p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
            for p in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 2,
        "busy_timeout": 30000,
    }
    assert app.engine.hide_parameters


@SQLITE_ONLY  # PostgreSQL locks rows, not the file
def test_sqlite_transactions_take_the_write_lock_up_front_but_reads_none(app: App) -> None:
    other = sqlite3.connect(app.engine.url.database, timeout=0, isolation_level=None)

    def read_only(uow: object) -> str | None:
        uow.session.execute(select(Staff.id)).first()  # type: ignore[attr-defined]
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            return str(exc)
        other.execute("ROLLBACK")
        return None

    try:
        assert app.run(read_only) == "database is locked"
        assert app.read(read_only) is None  # a read (the sweep's scans) keeps nobody waiting
    finally:
        other.close()


def test_errors_carry_no_bound_values(seeded: App) -> None:
    def duplicate(uow: object) -> None:
        uow.session.add(  # type: ignore[attr-defined]
            Staff(agency_id="x" * 32, handle="coord", role="Bv-MARKER", created_at=uow.now())  # type: ignore[attr-defined]
        )

    with pytest.raises(IntegrityError) as raised:
        seeded.run(duplicate)
    assert "Bv-MARKER" not in str(raised.value)


def test_a_statement_binding_too_many_values_is_named_a_fault_not_an_outage(app: App) -> None:
    """More values than the database binds to one statement (PostgreSQL 65,535; SQLite as
    built, here lowered to 1,000) is a fault in Harbour: said so, not reported as a database that
    cannot be reached."""
    ids = [f"{n:032x}" for n in range(70_000)]
    query = select(Case.id).where(Case.id.in_(ids))

    def lowered(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 1000)

    sqlite = app.engine.dialect.name == "sqlite"
    if sqlite:
        event.listen(app.engine, "checkout", lowered)
    try:
        for runner in (app.read, app.run):
            with pytest.raises(HarbourError) as raised:
                runner(lambda uow: uow.session.scalars(query).all())
            assert raised.value.code == "statement_too_large", raised.value.code
            assert ids[7] not in str(raised.value)
    finally:
        if sqlite:
            event.remove(app.engine, "checkout", lowered)
            app.engine.dispose()  # no connection keeps the lowered limit


def test_relationships_never_load_behind_an_attribute(seeded: App) -> None:
    case_id = intake.refer(seeded, "coord", referral("Lz"), None).id

    def touch(uow: object) -> None:
        _ = uow.session.get(Case, case_id).people  # type: ignore[attr-defined]

    with pytest.raises(InvalidRequestError):
        seeded.run(touch)


def test_constraint_names_follow_the_convention() -> None:
    names = {c.name for t in Base.metadata.sorted_tables for c in t.constraints}
    assert {"pk_cases", "fk_cases_agency_id_agencies", "uq_cases_reference"} <= names


def test_no_index_repeats_the_start_of_another() -> None:
    """An index on a column that already leads a unique constraint or a longer index serves no
    query the other cannot, and costs every insert (seven of them slowed the sweep's marks)."""
    repeated = []
    for table in Base.metadata.sorted_tables:
        keys = [tuple(c.name for c in index.columns) for index in table.indexes]
        keys += [
            tuple(c.name for c in constraint.columns)
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint)
        ]
        for index in table.indexes:
            columns = tuple(c.name for c in index.columns)
            if not index.unique and any(
                len(key) > len(columns) and key[: len(columns)] == columns for key in keys
            ):
                repeated.append(index.name)
    assert repeated == []


def test_case_references() -> None:
    made = {refs.new_reference() for _ in range(5000)}
    assert len(made) == 5000
    for ref in list(made)[:50]:
        groups = ref.split("-")
        assert groups[0] == "HB" and len(groups) == 8 and all(len(g) == 4 for g in groups[1:])
        assert set("".join(groups[1:])) <= set(refs.ALPHABET) and not set("ILOU") & set(ref[3:])
    assert len(refs.ALPHABET) ** (refs.GROUPS * refs.GROUP_LEN) >= 2**128
    ref = next(iter(made))
    typed = ref.lower().replace("0", "o").replace("1", "l").replace("-", " ")
    assert refs.normalise_typed(typed) == ref
    assert refs.normalise_typed(ref[:12]) == ref[:12]
    assert refs.normalise_typed("HB-12") is None and refs.normalise_typed("HB-UUUU-UUUU") is None


@pytest.mark.postgres
def test_audit_numbers_go_on_after_a_store_is_copied_to_postgresql(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, clock: FixedClock
) -> None:
    """A copy brings the audit rows' numbers along; new events are numbered after them."""
    target = request.getfixturevalue("postgres_database")
    _empty_postgres(target)
    key_file = tmp_path / "keys.json"
    Keyring.generate().save(key_file)
    url = f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'from.db')}"
    source = App(Settings(home=tmp_path, database_url=url, key_file=key_file), clock)
    moved = App(Settings(home=tmp_path, database_url=target, key_file=key_file), clock)
    try:
        seed_agencies(source)
        case = intake.refer(source, "coord", referral("Cp"), None)
        assert invoke(source, "db", "copy", "--to", target, "--as", "adm").exit_code == 0
        assert invoke(moved, "case", "show", case.reference, "--as", "cw1").exit_code == 0
        trail = invoke(moved, "audit", case.reference, "--as", "sup", "--json").json()
        actions = [row["action"] for row in trail]
        assert actions == ["case.refer", "case.assign", "case.read", "case.audit"]
    finally:
        source.dispose()
        moved.dispose()


_DIALECTS_PROBE = """
import sys
import uuid
from pathlib import Path
from harbour.app import App
from harbour.db import upsert
from harbour.db.models import OutboxMessage
from harbour.notify import order_reminders, outbox, reminders  # each writes by an upsert
from harbour.settings import Settings
home, url, keys = sys.argv[1:]
app = App(Settings(home=Path(home), database_url=url, key_file=Path(keys)))
with app.sessions() as session:
    upsert.insert(session, OutboxMessage).on_conflict_do_nothing(index_elements=["dedupe_key"])
print(" ".join({n.split(".")[2] for n in sys.modules if n.startswith("sqlalchemy.dialects.")}))
"""


def test_an_upsert_on_sqlite_imports_no_postgresql_dialect(app: App) -> None:
    """An upsert (every notification's) imports the dialect of the store's database: PostgreSQL's
    cost a command on the embedded SQLite store about 80 ms (an imminent alert's too), imported
    by every module that wrote one. (On PostgreSQL, the models' SQLite table option loads
    SQLite's, a tenth of that.)"""
    settings = app.settings
    args = [str(settings.home), settings.resolved_database_url, str(settings.resolved_key_file)]
    probe = [sys.executable, "-c", _DIALECTS_PROBE, *args]
    done = subprocess.run(probe, capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert app.engine.dialect.name in loaded, loaded
    if app.engine.dialect.name == "sqlite":
        assert "postgresql" not in loaded, loaded


@pytest.mark.postgres
def test_a_password_in_the_urls_query_is_never_shown_where_the_store_is_named(
    tmp_path: Path, clock: FixedClock
) -> None:
    """libpq takes a password as ``?password=`` as well as before the host: a database with
    no store yet is named without it, as it is without one given the usual way."""
    with new_postgres_database("harbour_bare") as bare:
        name = make_url(bare).database
        key_file = tmp_path / "keys.json"
        Keyring.generate().save(key_file)
        url = f"{bare}?password=MKs3cret&sslmode=prefer"  # the server trusts: it is unused
        app = App(Settings(home=tmp_path, database_url=url, key_file=key_file), clock)
        try:
            result = invoke(app, "cases", "--as", "coord")
        finally:
            app.dispose()
    assert result.exit_code == 2 and "store_not_initialised" in result.stderr, result
    assert name in result.stderr and "MKs3cret" not in result.stdout + result.stderr


def test_this_harbours_schema_revision_is_its_migrations_head() -> None:
    assert migrate.head_revision() == schema.SCHEMA_REVISION
    assert schema.SCHEMA_REVISION in migrate.known_revisions()


@pytest.mark.parametrize(
    ("recorded", "code", "told"),
    [
        (["0000_not_ours"], "store_schema_unknown", "a newer Harbour upgraded it"),
        ([], "store_schema_unknown", "records no one schema revision"),
    ],
)
def test_a_store_at_another_schema_revision_is_refused_before_any_work(
    seeded: App, recorded: list[str], code: str, told: str
) -> None:
    """A store upgraded by a newer Harbour (or recording no revision) is refused by every
    command at its start, saying what to do, not at the first table or column it lacks."""
    with seeded.engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
        for revision in recorded:
            conn.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
    try:
        result = invoke(seeded, "cases", "--as", "coord")
        sweep = invoke(seeded, "sweep", "--as", "adm")  # a writing command
    finally:
        with seeded.engine.begin() as conn:
            conn.execute(text("DELETE FROM alembic_version"))
            conn.execute(
                text("INSERT INTO alembic_version VALUES (:r)"), {"r": schema.SCHEMA_REVISION}
            )
    for done in (result, sweep):
        assert done.exit_code == 2 and code in done.stderr and told in done.stderr, done
    assert invoke(seeded, "cases", "--as", "coord").exit_code == 0


def test_a_store_at_an_earlier_revision_is_told_to_upgrade() -> None:
    """Refused the same way, it is told to run `harbour db upgrade` (once a second migration
    exists, a store made before it is at an earlier revision this Harbour knows)."""
    refused = schema.refusal("0001_earlier", {"0001_earlier", schema.SCHEMA_REVISION})
    assert refused.code == "store_needs_upgrade" and "harbour db upgrade" in refused.detail
    assert schema.refusal("9999_later", {schema.SCHEMA_REVISION}).code == "store_schema_unknown"
