"""Intake: concurrent referrals per second (validated, sealed, audited, idempotency-keyed), against
bare inserts of the same case rows from the same number of threads, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial

from sqlalchemy import insert

from benchmarks.common import BACKENDS, Row, temp_store, timed
from harbour.admin.staffing import AgencyIn, StaffIn, create_agency, create_staff
from harbour.app import App
from harbour.cases.intake import refer
from harbour.db.base import new_id
from harbour.db.models import Agency, Case
from harbour.domain import refs

THREADS = 8


def run(size: int = 400) -> list[Row]:
    rows = []
    for backend in BACKENDS:
        with temp_store(backend) as app:
            _seed(app)
            referrals = timed(partial(_referrals, app, size))
            bare = timed(partial(_bare_inserts, app, size))
            rows.append(
                Row(
                    f"intake, {THREADS} threads, {backend}",
                    size / referrals,
                    size / bare,
                    "referrals/s",
                    "bare case INSERTs/s",
                )
            )
    return rows


def _seed(app: App) -> None:
    def work(uow):  # type: ignore[no-untyped-def]
        create_agency(uow, AgencyIn(name="bench", timezone="America/New_York"))
        create_staff(uow, StaffIn(handle="coord", agency="bench", role="coordinator"))

    app.run(work)


def _referral(i: int) -> dict[str, object]:
    return {
        "youth": {"name": f"Bench Youth {i}", "date_of_birth": "2009-01-01", "phone": "555-0100"},
        "situation": "just_left",
        "threats": [{"kind": "trafficker", "name": f"Bench Threat {i}"}],
        "family": [{"name": f"Bench Family {i}", "relationship": "aunt", "non_offending": True}],
    }


def _referrals(app: App, size: int) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda i: refer(app, "coord", _referral(i), f"bench-{i}"), range(size)))


def _bare_inserts(app: App, size: int) -> None:
    from sqlalchemy import select

    with app.uow() as uow:
        agency_id = uow.session.scalar(select(Agency.id))

    def one(i: int) -> None:
        now = app.clock.now()
        with app.engine.begin() as conn:
            conn.execute(
                insert(Case).values(
                    id=new_id(),
                    reference=refs.new_reference(),
                    agency_id=agency_id,
                    status="referred",
                    situation="just_left",
                    persons_at_risk=[],
                    escalated=False,
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, range(size)))
