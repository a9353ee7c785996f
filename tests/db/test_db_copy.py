"""`harbour db copy`: a whole store into an empty database, readable there with the same keys."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from harbour.app import App
from harbour.cases.reads import show_case
from harbour.db.engine import make_engine
from tests.conftest import POSTGRES_URL
from tests.orchestration.helpers import counts, refer
from tests.support import invoke


def test_a_store_moves_whole_and_stays_readable(seeded: App, tmp_path: Path) -> None:
    case = refer(seeded, tmp_path, "MOVED")
    target = f"sqlite:///{tmp_path / 'moved.db'}"
    copied = invoke(seeded, "db", "copy", "--to", target, "--json")
    assert copied.exit_code == 0, copied.stderr
    settings = seeded.settings.model_copy(update={"database_url": SecretStr(target)})
    moved = App(settings, seeded.clock)
    try:
        assert counts(moved) == counts(seeded)
        shown = show_case(moved, "cw1", case.reference)
        assert shown.people[0]["name"] == "MOVEDyouthname"
    finally:
        moved.dispose()
    again = invoke(seeded, "db", "copy", "--to", target)
    assert again.exit_code == 1 and "target_not_empty" in again.stderr


def test_a_bad_target_is_refused_without_echoing_it(seeded: App) -> None:
    result = invoke(seeded, "db", "copy", "--to", "mysql://user:s3cret@host/db")
    assert result.exit_code == 2 and "--to" in result.stderr and "s3cret" not in result.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the source is SQLite
def test_sqlite_to_a_new_postgresql_database(seeded: App, tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip("to PostgreSQL: HARBOUR_TEST_POSTGRES_URL is not set")
    refer(seeded, tmp_path, "TOPG")
    name = f"harbour_copy_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    target = make_engine(POSTGRES_URL).url.set(database=name).render_as_string(hide_password=False)
    try:
        assert invoke(seeded, "db", "copy", "--to", target).exit_code == 0
        settings = seeded.settings.model_copy(update={"database_url": SecretStr(target)})
        moved = App(settings, seeded.clock)
        assert counts(moved) == counts(seeded)
        moved.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
