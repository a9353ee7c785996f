"""`harbour db copy`: a whole store into an empty database, readable there with the same keys;
the installation's operators alone copy it, and the store's audit trail records who did."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, inspect, make_url, text

from harbour.app import App
from harbour.cases.reads import show_case
from harbour.clock import FixedClock
from harbour.db.engine import make_engine
from tests.conftest import POSTGRES_URL
from tests.db.helpers import new_postgres_database
from tests.orchestration.helpers import counts, refer
from tests.support import agency_admin, invoke


def test_a_store_moves_whole_and_stays_readable(seeded: App, tmp_path: Path) -> None:
    case = refer(seeded, tmp_path, "MOVED")
    target = f"sqlite:///{tmp_path / 'moved.db'}"
    copied = invoke(seeded, "db", "copy", "--to", target, "--as", "adm", "--json")
    assert copied.exit_code == 0, copied.stderr
    settings = seeded.settings.model_copy(update={"database_url": SecretStr(target)})
    moved = App(settings, seeded.clock)
    try:
        assert counts(moved) == counts(seeded)
        shown = show_case(moved, "cw1", case.reference)
        assert shown.people[0]["name"] == "MOVEDyouthname"
    finally:
        moved.dispose()
    again = invoke(seeded, "db", "copy", "--to", target, "--as", "adm")
    assert again.exit_code == 1 and "target_not_empty" in again.stderr


def test_a_target_holding_another_applications_tables_is_refused_untouched(
    seeded: App, tmp_path: Path
) -> None:
    """A URL naming another application's database (a slip of the database name) is not an
    empty one: every agency's data is not put beside its tables, nor Harbour's tables made."""
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        with other.begin() as conn:
            conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)"))
            conn.execute(text("INSERT INTO invoices (total) VALUES (12)"))
        target = f"sqlite:///{tmp_path / 'other.db'}"
        result = invoke(seeded, "db", "copy", "--to", target, "--as", "adm")
        assert result.exit_code == 1 and "target_not_empty" in result.stderr, result
        with other.connect() as conn:
            assert set(inspect(conn).get_table_names()) == {"invoices"}
    finally:
        other.dispose()


def test_a_bad_target_is_refused_without_echoing_it(seeded: App) -> None:
    result = invoke(seeded, "db", "copy", "--to", "mysql://user:s3cret@host/db", "--as", "adm")
    assert result.exit_code == 2 and "--to" in result.stderr and "s3cret" not in result.stderr


def test_a_target_with_a_password_is_never_taken_from_the_command_line(
    seeded: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://harbour:MKs3cret@127.0.0.1:1/nowhere"  # nothing listens on port 1
    typed = invoke(seeded, "db", "copy", "--to", url, "--as", "adm")
    assert typed.exit_code == 2 and "never taken from the command line" in typed.stderr
    assert "MKs3cret" not in typed.stdout + typed.stderr
    (tmp_path / "to.txt").write_text(url + "\n")
    for args in (("--to", f"@{tmp_path / 'to.txt'}"), ()):
        monkeypatch.setenv("HARBOUR_COPY_TO", url)  # the other way, for the second run
        given_so = invoke(seeded, "db", "copy", *args, "--as", "adm")
        assert "never taken from the command line" not in given_so.stderr, args
        assert given_so.exit_code == 1 and "MKs3cret" not in given_so.stderr  # unreachable


def test_a_password_in_the_targets_query_is_never_taken_from_the_command_line(
    seeded: App,
) -> None:
    """libpq takes the password as ``?password=`` (or ``sslpassword=``) too."""
    for query in ("password=MKs3cret", "sslmode=prefer&sslpassword=MKs3cret"):
        url = f"postgresql://harbour@127.0.0.1:1/nowhere?{query}"  # nothing listens on port 1
        typed = invoke(seeded, "db", "copy", "--to", url, "--as", "adm")
        assert typed.exit_code == 2 and "never taken from the command line" in typed.stderr
        assert "MKs3cret" not in typed.stdout + typed.stderr


def test_a_target_that_cannot_be_opened_is_named_as_the_problem(
    seeded: App, tmp_path: Path
) -> None:
    """A mistyped target (a folder that is not there, a server not listening) says the target
    cannot be reached, as a store that cannot be opened does, not an internal error."""
    for target in (
        f"sqlite:///{tmp_path / 'no-such-folder' / 'moved.db'}",
        "postgresql://harbour@127.0.0.1:1/nowhere",  # nothing listens on port 1
    ):
        result = invoke(seeded, "db", "copy", "--to", target, "--as", "adm")
        assert result.exit_code == 1, result.stderr
        assert "target_unavailable" in result.stderr and "internal" not in result.stderr, target
        assert "the target database cannot be reached or opened" in result.stderr


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def test_a_target_harbour_cannot_make_its_tables_in_is_refused_untouched(
    seeded: App, tmp_path: Path
) -> None:
    """A table named as one of Harbour's that Harbour did not make (no record of its
    migrations: another application's), or a schema at a revision this Harbour does not know (a
    newer Harbour's, another application's migrations), was an `internal` error once making
    Harbour's tables failed there: each is refused by its own code, before anything is made."""
    refusals = {
        "target_not_empty": ["CREATE TABLE staff (id INTEGER PRIMARY KEY, total INTEGER)"],
        "target_other_version": [
            "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
            "INSERT INTO alembic_version VALUES ('0001')",  # a prefix of Harbour's is not it
        ],
    }
    for code, statements in refusals.items():
        target = f"sqlite:///{tmp_path / f'{code}.db'}"
        other = make_engine(target)
        try:
            with other.begin() as conn:
                for statement in statements:
                    conn.execute(text(statement))
            before = _tables(other)
            result = invoke(seeded, "db", "copy", "--to", target, "--as", "adm", "--json")
            assert result.exit_code == 1, result.stderr
            assert json.loads(result.stderr)["error"] == code
            assert _tables(other) == before
        finally:
            other.dispose()


@pytest.mark.postgres
def test_a_postgresql_target_that_refuses_harbours_tables_is_named_as_the_problem(
    seeded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL target whose account may not create tables was an `internal` error: the
    target refusing is said as such, its password echoed nowhere; one holding a table of
    Harbour's name is refused as not empty."""
    with new_postgres_database("harbour_copy") as url:
        _refused_harbours_tables(url, monkeypatch, seeded)


def _refused_harbours_tables(url: str, monkeypatch: pytest.MonkeyPatch, seeded: App) -> None:
    role = f"mkcopier_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD 'MKs3cret'"))
    target = make_url(url)
    owner = make_engine(url)
    try:
        with owner.begin() as conn:
            conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        weak = target.set(username=role, password="MKs3cret").render_as_string(hide_password=False)
        monkeypatch.setenv("HARBOUR_COPY_TO", weak)
        refused = invoke(seeded, "db", "copy", "--as", "adm", "--json")
        assert refused.exit_code == 1, refused.stderr
        said = json.loads(refused.stderr)
        assert said["error"] == "target_refused", said
        assert "MKs3cret" not in refused.stdout + refused.stderr
        assert _tables(owner) == set()

        with owner.begin() as conn:
            conn.execute(text("CREATE TABLE agencies (id integer PRIMARY KEY)"))
        monkeypatch.setenv("HARBOUR_COPY_TO", target.render_as_string(hide_password=False))
        taken = invoke(seeded, "db", "copy", "--as", "adm", "--json")
        assert taken.exit_code == 1, taken.stderr
        assert json.loads(taken.stderr)["error"] == "target_not_empty"
        assert _tables(owner) == {"agencies"}
    finally:
        owner.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the source is SQLite
def test_sqlite_to_a_new_postgresql_database(seeded: App, tmp_path: Path) -> None:
    refer(seeded, tmp_path, "TOPG")
    with new_postgres_database("harbour_copy") as target:
        assert invoke(seeded, "db", "copy", "--to", target, "--as", "adm").exit_code == 0
        settings = seeded.settings.model_copy(update={"database_url": SecretStr(target)})
        moved = App(settings, seeded.clock)
        assert counts(moved) == counts(seeded)
        moved.dispose()


def test_only_an_operator_copies_the_store_and_the_store_trail_says_who(
    seeded: App, tmp_path: Path
) -> None:
    refer(seeded, tmp_path, "COPIER")
    agency_admin(seeded)  # an admin of north, not an operator
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    nobody = invoke(seeded, "db", "copy", "--to", target)
    assert nobody.exit_code == 2 and "--as" in nobody.stderr
    for handle in ("sup", "nadm", "sup2"):  # a supervisor, an agency admin, another agency
        refused = invoke(seeded, "db", "copy", "--to", target, "--as", handle)
        assert refused.exit_code == 1 and "not_permitted" in refused.stderr, refused
    assert not (tmp_path / "copy.db").exists()  # nothing was copied anywhere

    assert invoke(seeded, "db", "copy", "--to", target, "--as", "adm").exit_code == 0
    trail = invoke(seeded, "audit", "--system", "--as", "adm", "--json").json()
    rows = [(r["actor"], r["action"], r["outcome"]) for r in trail]
    for handle in ("sup", "nadm", "sup2"):
        assert (handle, "store.copy", "denied") in rows
    assert ("adm", "store.copy", "ok") in rows and ("adm", "store.copy.done", "ok") in rows
    [done] = [r for r in trail if r["action"] == "store.copy.done"]
    assert done["details"]["rows"] > 0 and "copy.db" not in str(trail)
    agency = invoke(seeded, "audit", "--system", "--as", "nadm", "--json").json()
    assert not [r for r in agency if r["action"].startswith("store.")]


def test_the_copy_reads_every_table_in_one_snapshot(seeded: App, tmp_path: Path) -> None:
    """A row committed while the copy runs is in none of its tables, or in all."""
    from sqlalchemy import event, func, select

    from harbour.access import audit
    from harbour.db.copy import copy_store
    from harbour.db.models import AuditEvent

    before = seeded.run(lambda uow: uow.session.scalar(select(func.count(AuditEvent.seq))))
    target = make_engine(f"sqlite:///{tmp_path / 'snapshot.db'}")
    writes: list[int] = []

    def write_meanwhile(conn: object, cursor: object, statement: str, *_: object) -> None:
        if "FROM agencies" in statement and not writes:  # the first table; audit_events after
            writes.append(1)
            seeded.run(lambda uow: audit(uow, None, "test.meanwhile"))

    event.listen(seeded.engine, "after_cursor_execute", write_meanwhile)
    try:
        copied = copy_store(seeded.engine, target)
    finally:
        event.remove(seeded.engine, "after_cursor_execute", write_meanwhile)
        target.dispose()
    assert writes and copied["audit_events"] == before


def test_a_refused_copy_leaves_its_refusal_in_the_store_trail_not_a_start(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """The copy's start was recorded before its target was looked at, and a target then refused
    left that "started" row alone, as if a copy were under way: a refusal is recorded as one,
    by its code, and a start only once the target is taken."""
    filled = f"sqlite:///{tmp_path / 'filled.db'}"
    assert invoke(seeded, "db", "copy", "--to", filled, "--as", "adm").exit_code == 0
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with other.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    other.dispose()
    targets = {
        f"sqlite:///{tmp_path / 'no-such-folder' / 'moved.db'}": "target_unavailable",
        f"sqlite:///{tmp_path / 'other.db'}": "target_not_empty",
        filled: "target_not_empty",
    }
    for target, code in targets.items():
        clock.advance(timedelta(minutes=1))  # this attempt's rows told from the last one's
        before = invoke(seeded, "audit", "--system", "--as", "adm", "--json").json()
        result = invoke(seeded, "db", "copy", "--to", target, "--as", "adm", "--json")
        assert result.exit_code == 1 and json.loads(result.stderr)["error"] == code, target
        trail = invoke(seeded, "audit", "--system", "--as", "adm", "--json").json()
        new = [r for r in trail if r not in before and r["action"].startswith("store.copy")]
        said = [(r["actor"], r["action"], r["outcome"], r["details"].get("reason")) for r in new]
        assert said == [("adm", "store.copy", "denied", code)], (target, new)
