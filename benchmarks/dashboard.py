"""The program dashboard over 100,000 cases of one agency: ``harbour report``'s service call
(actor, permission, the two aggregate queries, the audit row, one transaction) and the console's
``/dashboard`` page over HTTP (session, render, security headers), each against the same two
aggregate queries run bare on a connection, in the same run; median of several runs, on each
database. The goal is under a second for the page.

The store is the sweep's (every case active with one open assessment, due from a day ago over
30 days) with more on top: a completed initial assessment per case (referral to it from 0 to 71
hours), a final plan for two in three of them (and each case's milestones as
``harbour.cases.milestones`` would have kept them), cases spread over the statuses and risk levels
(a sixteenth closed), an imminent alert per hundred cases (most acknowledged), a sent
notification per ten, an open missing episode per thousand; on PostgreSQL, vacuumed and analysed
as autovacuum would have.
"""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update

from benchmarks.common import BACKENDS, START, Row, settle, temp_store, timed
from benchmarks.sweep import bulk_insert, seed_cases
from harbour.app import App
from harbour.auth import sessions
from harbour.cases.report import program_report, statements
from harbour.db.base import new_id
from harbour.db.models import Alert, Assessment, Case, MissingEpisode, OutboxMessage, Plan, Staff
from harbour.web import cookies
from harbour.web.server import create_app

HANDLE = "bench-sup"
CHUNK = 5000


def run(size: int = 100_000) -> list[Row]:
    if size < 1:
        return []
    repeats = 5 if size >= 10_000 else 3
    rows = []
    for backend in BACKENDS:
        with temp_store(backend) as app:
            rows += _measure(app, backend, size, repeats)
    return rows


def _measure(app: App, backend: str, size: int, repeats: int) -> list[Row]:
    from starlette.testclient import TestClient

    seed(app, size)
    agency_id = app.run(
        lambda uow: uow.session.scalars(select(Staff.agency_id).where(Staff.handle == HANDLE)).one()
    )
    token = app.run(
        lambda uow: sessions.start(uow, uow.session.query(Staff).filter_by(handle=HANDLE).one())
    )[0]
    web = TestClient(create_app(app), base_url="http://127.0.0.1")
    web.cookies.set(cookies.name(app.settings, cookies.SESSION), token)
    grouped, scalars = statements(agency_id, START)

    def bare() -> None:
        with app.engine.connect() as conn:
            conn.execute(grouped).all()
            conn.execute(scalars).one()

    def page() -> None:
        assert web.get("/dashboard").status_code == 200

    open_cases = program_report(app, HANDLE).open_cases  # warm, and checked
    page()
    served, called, floor = [], [], []
    for _ in range(repeats):  # alternating, so that the machine's load falls on each
        called.append(timed(lambda: program_report(app, HANDLE)))
        served.append(timed(page))
        floor.append(timed(bare))
    web.close()
    base = statistics.median(floor)
    note = f"{open_cases:,} open; median of {repeats}; goal: the page under 1 s"
    label = f"{size:,} cases ({backend})"
    return [
        Row(f"dashboard: service call, {label}", statistics.median(called), base, "s", BARE, note),
        Row(f"dashboard: page, {label}", statistics.median(served), base, "s", BARE, note),
    ]


BARE = "its two aggregate queries, bare"


def seed(app: App, size: int) -> None:
    """The sweep's cases, then the assessments, plans, alerts, messages and episodes above."""
    seed_cases(app, size)
    with app.engine.connect() as conn:
        cases = conn.execute(select(Case.id, Case.agency_id, Case.created_at)).all()
    for first in range(0, len(cases), CHUNK):
        tables: dict[Any, list[dict[str, Any]]] = {
            Assessment: [],
            Plan: [],
            Alert: [],
            OutboxMessage: [],
            MissingEpisode: [],
        }
        reached: list[dict[str, Any]] = []
        for n, (case_id, agency_id, created) in enumerate(cases[first : first + CHUNK], first):
            reached.append(_rows_of(tables, n, case_id, agency_id, created))
        with app.engine.begin() as conn:
            for model, rows in tables.items():
                if rows:
                    bulk_insert(conn, cast(Table, model.__table__), rows)
            conn.execute(REACHED, reached)
    with app.engine.begin() as conn:
        for ending, values in (
            ("1", {"status": "referred", "risk_level": None}),
            ("2", {"status": "discharge_pending"}),
            ("3", {"status": "closed"}),
            ("4", {"risk_level": "high"}),
            ("5", {"risk_level": "low"}),
            ("6", {"risk_level": "imminent"}),
        ):
            conn.execute(update(Case).where(Case.id.endswith(ending)).values(**values))
    settle(app)


# What ``harbour.cases.milestones.note`` keeps on a case, written as it would have been after
# the case's one assessment and (for two in three) its plan's finalisation.
REACHED = (
    update(Case)
    .where(Case.id == bindparam("case"))
    .values(first_assessed_at=bindparam("first"), latest_plan_final=bindparam("final"))
)


def _rows_of(
    tables: dict[Any, list[dict[str, Any]]], n: int, case_id: str, agency_id: str, created: Any
) -> dict[str, Any]:
    """Case ``n``'s rows in ``tables``; its milestones, as ``REACHED`` writes them."""
    completed = created + timedelta(hours=n % 72)
    plan_status = "final" if n % 3 else "draft"
    assessment_id = new_id()
    tables[Assessment].append(
        {
            "id": assessment_id,
            "case_id": case_id,
            "point": "initial_contact",
            "status": "completed",
            "due_at": completed,
            "opened_at": created,
            "completed_at": completed,
            "computed_level": "moderate",
            "version": 1,
        }
    )
    tables[Plan].append(
        {
            "id": new_id(),
            "case_id": case_id,
            "version_number": 1,
            "assessment_id": assessment_id,
            "status": plan_status,
            "risk_level": "moderate",
            "point": "initial_contact",
            "hide_hotlines": False,
            "next_position": 0,
            "created_at": completed,
            "finalized_at": completed if n % 3 else None,
            "version": 1,
        }
    )
    if n % 100 == 0:
        opened = START - timedelta(hours=n % 700)
        tables[Alert].append(
            {
                "id": new_id(),
                "agency_id": agency_id,
                "case_id": case_id,
                "kind": "imminent_threat",
                "source_id": assessment_id,
                "tier": 0,
                "opened_at": opened,
                "acknowledged_at": opened + timedelta(minutes=n % 45) if n % 700 else None,
                "acknowledged_by": HANDLE if n % 700 else None,
            }
        )
    if n % 10 == 0:
        kind = ("assessment_due_soon", "reminder_digest", "overdue_escalation")[n % 3]
        tables[OutboxMessage].append(
            {
                "id": new_id(),
                "dedupe_key": f"bench:{n}",
                "kind": kind,
                "lane": "normal",
                "recipient": f"bench-cw{n % 20}",
                "channel": "email",
                "status": "sent",
                "attempts": 1,
                "next_attempt_at": START,
                "agency_id": agency_id,
                "context": {},
                "delivered": [],
                "created_at": START - timedelta(hours=n % 1000),
                "sent_at": START - timedelta(hours=n % 1000),
            }
        )
    if n % 1000 == 0:
        tables[MissingEpisode].append(
            {
                "id": new_id(),
                "case_id": case_id,
                "last_seen_at": START - timedelta(hours=n % 50),
                "recorded_at": START - timedelta(hours=n % 50),
            }
        )
    return {"case": case_id, "first": completed, "final": plan_status == "final"}
