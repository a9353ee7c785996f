"""Intake: concurrent referrals per second (validated, sealed, audited, idempotency-keyed), against
bare inserts of the same rows (the case, its people and threats, its initial assessment, its
duplicate-check index entries, the audit row and the lifecycle event, copied with new ids, one
transaction per referral) from the same number of threads, on SQLite and PostgreSQL, into an
agency that already has a caseload (with the planner statistics a store in use has)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from sqlalchemy import insert, select

from benchmarks.common import BACKENDS, Row, settle, temp_store, timed
from harbour.admin.staffing import AgencyIn, StaffIn, create_agency, create_staff
from harbour.app import App
from harbour.cases.intake import refer
from harbour.db.base import new_id
from harbour.db.models import (
    Assessment,
    AuditEvent,
    Case,
    LifecycleEvent,
    Person,
    ThreatSource,
    YouthIndex,
)
from harbour.domain import refs

THREADS = 8
ROUNDS = 4  # the two alternate, so that a change in the machine's load falls on both


def run(size: int = 2000) -> list[Row]:
    rows = []
    for backend in BACKENDS:
        with temp_store(backend) as app:
            _seed(app)
            _caseload(app, size // 2)
            referrals = bare = 0.0
            for round_ in range(ROUNDS):
                keys = [f"bench-{round_}-{i}" for i in range(size // ROUNDS)]
                referrals += timed(partial(_referrals, app, keys))
                copies = _copies(app, f"bench-{round_}-%")
                bare += timed(partial(_bare_inserts, app, copies))
            size = size // ROUNDS * ROUNDS
            rows.append(
                Row(
                    f"intake, {THREADS} threads, {backend}",
                    size / referrals,
                    size / bare,
                    "referrals/s",
                    "bare INSERTs of the same rows/s",
                )
            )
    return rows


def _seed(app: App) -> None:
    def work(uow):  # type: ignore[no-untyped-def]
        create_agency(uow, AgencyIn(name="bench", timezone="America/New_York"))
        create_staff(uow, StaffIn(handle="coord", agency="bench", role="coordinator"))

    app.run(work)


def _caseload(app: App, cases: int) -> None:
    """The agency's existing ``cases``, of other youth, then ``settle``: on a store just created,
    PostgreSQL went on planning the duplicate check for the handful of rows it first saw while
    the tables grew (no autovacuum here), a cost no store in use has."""
    _referrals(app, [f"caseload-{i}" for i in range(cases)], first=1_000_000)
    settle(app)


def _referral(i: int) -> dict[str, object]:
    return {
        "youth": {"name": f"Bench Youth {i}", "date_of_birth": "2009-01-01", "phone": "555-0100"},
        "situation": "just_left",
        "threats": [{"kind": "trafficker", "name": f"Bench Threat {i}"}],
        "family": [{"name": f"Bench Family {i}", "relationship": "aunt", "non_offending": True}],
    }


def _referrals(app: App, keys: list[str], first: int = 0) -> None:
    """A referral per key, of youth ``first``, ``first + 1``..., from ``THREADS`` threads."""
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda i: _refer(app, keys[i], first + i), range(len(keys))))


def _refer(app: App, key: str, i: int) -> None:
    # Each round refers the same youth again (with new keys): referred anyway, as a duplicate.
    refer(app, "coord", _referral(i), key, allow_duplicate=True)


# Every row a referral writes, in foreign-key order.
TABLES = (Case, Person, ThreatSource, Assessment, YouthIndex, AuditEvent, LifecycleEvent)


def _bare_inserts(app: App, referrals: list[dict[type, list[dict[str, Any]]]]) -> None:
    """The rows the referrals wrote, inserted again under new ids, a referral per transaction."""

    def one(rows: dict[type, list[dict[str, Any]]]) -> None:
        with app.engine.begin() as conn:
            for model in TABLES:
                if rows[model]:
                    conn.execute(insert(model), rows[model])

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, referrals))


def _copies(app: App, keys: str) -> list[dict[type, list[dict[str, Any]]]]:
    """Per case whose key is like ``keys``, its rows in every table with fresh ids (and a fresh
    reference and key)."""
    with app.engine.connect() as conn:
        cases = conn.execute(select(Case).where(Case.intake_key.like(keys))).mappings().all()
        new_ids = {row["id"]: new_id() for row in cases}
        copies: dict[str, dict[type, list[dict[str, Any]]]] = {
            row["id"]: {model: [] for model in TABLES} for row in cases
        }
        for row in cases:
            fresh = {"reference": refs.new_reference(), "intake_key": f"bare-{new_ids[row['id']]}"}
            copies[row["id"]][Case].append({**row, "id": new_ids[row["id"]], **fresh})
        for model in TABLES[1:]:
            table = model.__table__
            for row in conn.execute(select(table).where(table.c.case_id.in_(new_ids))).mappings():
                copy = {**row, "id": new_id(), "case_id": new_ids[row["case_id"]]}
                copy.pop("seq", None)  # the audit log's order: assigned by the database
                copies[row["case_id"]][model].append(copy)
    return list(copies.values())
