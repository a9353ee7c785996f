"""The reassessment sweep over 10,000 and 100,000 open cases, on SQLite and PostgreSQL, against
its floor: the bare indexed query that selects the assessments with a reminder due plus one bulk
insert of as many outbox rows as there are due assessments, in the same run. Every case has one
open assessment, due somewhere from a day ago to 29 days ahead (a 30-day planning cycle), and
nothing has been reminded yet: about a tenth of them have a reminder due. A second sweep at the
same moment (nothing new) is set against the bare due query alone; peak memory against the
query's; and on SQLite, the longest an imminent-threat write (``harbour assess``) made from
another process every 20 ms waited for the write lock during the first sweep, against 0.2 s.

``benchmarks.sweep_backlog`` runs the worst case: due from 10 days ago over 40 days, 30% of them
with thresholds passed. Checked on the way: the assessments the sweep reminded or escalated are
exactly those the policy says have a threshold passed, and a second sweep at the same moment
enqueues nothing (its time is the routine cost of a sweep that finds nothing new).

The sweep and the bare query each run in a fresh process of their own, which reports the seconds
and how far the work raised the process's peak resident memory (``ru_maxrss``) above what it
held before: one run gives both figures, with no tracing slowing it down (tracemalloc made the
sweep several times slower, and missed the database drivers' C allocations).
"""

from __future__ import annotations

import base64
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext, suppress
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.orm import configure_mappers

from benchmarks.common import BACKENDS, START, Row, settle, snapshot, temp_store
from harbour.admin.staffing import AgencyIn, StaffIn, create_agency, create_staff
from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.db.base import new_id
from harbour.db.models import Assessment, Case, OutboxMessage, ReminderMark
from harbour.domain import refs
from harbour.domain.policy import reminder_times
from harbour.orchestration.sweep import sweep
from harbour.settings import Settings

ZONE = "America/New_York"
BACK, SPREAD = timedelta(days=1), timedelta(days=30)
OPENED = timedelta(days=60)  # when every case and assessment was opened
CHUNK = 5000
_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", refs.ALPHABET)


@dataclass(frozen=True)
class Measured:
    """What a child process measured: seconds, peak-memory growth in MB, outbox rows after."""

    seconds: float
    megabytes: float
    outbox: int
    again_seconds: float = 0.0
    outbox_again: int = 0
    floor_seconds: float = 0.0  # "bare": the due query and the bulk insert
    longest_wait: float = 0.0  # "sweep" on SQLite: the longest another writer waited


WAIT_GOAL = 0.2  # seconds an imminent-threat write may wait for a sweep on SQLite
# Rounds per store: each side's figures are its median round. In single rounds the 100,000-case
# sweep on PostgreSQL read 2.98 to 5.3 times its floor from one run to the next.
ROUNDS = 3


def run(size: int = 100_000) -> list[Row]:
    sizes = [size // 10, size] if size >= 10_000 else [size]
    return [row for n in sizes for row in measure(n, BACK, SPREAD)]


def measure(
    size: int,
    back: timedelta,
    spread: timedelta,
    backends: tuple[str, ...] = BACKENDS,
    rounds: int = ROUNDS,
) -> list[Row]:
    """Rows for ``size`` cases due from ``back`` before START over ``spread``: each figure the
    median of ``rounds`` rounds, each round on the same seeded store (put back between two)."""
    rows = []
    for backend in backends:
        with temp_store(backend) as app:
            seed_cases(app, size, back, spread)
            settle(app)
            swept, bare, due = [], [], 0
            with snapshot(app) if rounds > 1 else nullcontext(lambda: None) as put_back:
                for n in range(rounds):
                    if n:
                        put_back()
                    swept.append(_in_child(app, "sweep"))
                    if n == 0:
                        due = check_due_set(app)
                    if swept[-1].outbox_again != swept[-1].outbox:
                        raise AssertionError(
                            "a second sweep at the same moment enqueued notifications"
                        )
                    bare.append(_in_child(app, "bare", due))
        rows += _rows_of(size, due, backend, _median(swept), _median(bare), rounds)
    return rows


def _rows_of(
    size: int, due: int, backend: str, swept: Measured, bare: Measured, rounds: int
) -> list[Row]:
    label = f"sweep over {size:,} cases, {due:,} due, {backend}"
    floor = f"due query + insert of {due:,} outbox rows"
    per_due = f"{swept.seconds / max(due, 1) * 1e6:.0f} µs per due case"
    of_rounds = f"median of {rounds} rounds" if rounds > 1 else "one round"
    rows = [
        Row(
            f"{label}: time",
            swept.seconds,
            bare.floor_seconds,
            "s",
            floor,
            f"{per_due}; {of_rounds}",
        ),
        Row(f"{label}: again", swept.again_seconds, bare.seconds, "s", "bare due query", of_rounds),
        Row(
            f"{label}: memory",
            swept.megabytes,
            bare.megabytes,
            "MB peak RSS growth",
            "bare due query",
            of_rounds,
        ),
    ]
    if backend == "sqlite":
        longest = "the longest of any round" if rounds > 1 else ""
        rows.append(
            Row(f"{label}: writer waited", swept.longest_wait, WAIT_GOAL, "s", "the goal", longest)
        )
    return rows


def _median(rounds: list[Measured]) -> Measured:
    """Each figure's median over ``rounds`` (a round the machine stalled moves none of them),
    but the writer's wait: the longest of any round."""
    medians = {
        name: statistics.median(getattr(r, name) for r in rounds) for name in asdict(rounds[0])
    }
    return replace(Measured(**medians), longest_wait=max(r.longest_wait for r in rounds))


def _in_child(app: App, job: str, due: int = 0) -> Measured:
    """``_measure`` in a fresh interpreter (``python -m benchmarks.sweep JOB URL HOME KEYS DUE``)."""
    settings = app.settings
    args = [job, settings.resolved_database_url, str(settings.home)]
    command = [
        sys.executable,
        "-m",
        "benchmarks.sweep",
        *args,
        str(settings.resolved_key_file),
        str(due),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {job} process failed:\n{done.stderr[-2000:]}")
    return Measured(**json.loads(done.stdout.splitlines()[-1]))


def _measure(job: str, database_url: str, home: str, key_file: str, due: str) -> Measured:
    """In a fresh process: "sweep" times the first sweep (with its memory, and on SQLite another
    process's writes during it) and a second one at the same moment, as `harbour sweep` would run
    them; "bare" times the due query alone, its statement already compiled, then the floor: the
    query and one bulk insert of ``due`` outbox rows."""
    import harbour.notify.alerts
    import harbour.notify.reminders
    import harbour.orchestration.pipeline  # noqa: F401  (imported up front: the sweep imports them lazily)

    # What a process pays once, outside the time as the imports are: a served sweep (one process,
    # a sweep every few minutes) pays it once for all its runs.
    configure_mappers()
    settings = Settings(home=Path(home), database_url=database_url, key_file=Path(key_file))
    app = App(settings, FixedClock(START))
    horizon = START + _earliest_offset(app)  # the policy read outside the bare query's time
    gc.freeze()  # as `harbour sweep` does once its App is built (harbour.cli.base.get_app)
    work = (lambda: sweep(app, START)) if job == "sweep" else (lambda: _due_query(app, horizon))
    try:
        if job == "sweep":
            with app.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        else:
            _due_query(app, START - 10 * SPREAD)  # compiled and connected, but no rows yet
        writer = (
            _Writer(database_url) if job == "sweep" and database_url.startswith("sqlite") else None
        )
        before = _reset_peak()
        started = time.perf_counter()
        work()
        seconds = time.perf_counter() - started
        measured = Measured(seconds, max(_peak() - before, 0.0), outbox_rows(app))
        if writer is not None:
            measured = replace(measured, longest_wait=writer.stop())
        if job == "sweep":
            started = time.perf_counter()
            work()
            again = time.perf_counter() - started
            measured = replace(measured, again_seconds=again, outbox_again=outbox_rows(app))
        else:
            started = time.perf_counter()
            work()
            _insert_outbox(app, int(due))
            measured = replace(measured, floor_seconds=time.perf_counter() - started)
        return measured
    finally:
        app.dispose()


def _insert_outbox(app: App, count: int) -> None:
    """One bulk insert of ``count`` outbox rows like a reminder's, in one transaction."""
    now = START
    rows = [
        {
            "id": new_id(),
            "dedupe_key": f"floor:{n}|bench-cw{n % 20}|email",
            "kind": "assessment_due_soon",
            "lane": "normal",
            "recipient": f"bench-cw{n % 20}",
            "channel": "email",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "context": {"case_ref": "HB-ABCD", "due_date": "2026-03-04"},
            "delivered": [],
            "created_at": now,
        }
        for n in range(count)
    ]
    if rows:
        with app.engine.begin() as conn:
            bulk_insert(conn, cast(Table, OutboxMessage.__table__), rows)


class _Writer:
    """Another process that writes every 20 ms as a short `harbour` command would (its write
    transaction begun through Harbour's engine, one update, commit) and keeps the longest it
    waited for the lock; started before the sweep."""

    SCRIPT = """
import sys, time, os, json
from sqlalchemy import text
from harbour.db.engine import make_engine
path, stop = sys.argv[1], sys.argv[2]
engine = make_engine("sqlite:///" + path)
with engine.connect():
    pass
print("ready", flush=True)
longest = 0.0
while not os.path.exists(stop):
    with engine.connect() as conn:
        started = time.perf_counter()
        with conn.begin():
            longest = max(longest, time.perf_counter() - started)
            conn.execute(text("UPDATE staff SET on_call = on_call WHERE handle = 'bench-sup'"))
    time.sleep(0.02)
print(json.dumps(longest), flush=True)
"""

    def __init__(self, database_url: str) -> None:
        path = database_url.split("///", 1)[1]
        self.stop_file = Path(path + ".stop")
        self.stop_file.unlink(missing_ok=True)  # an earlier round's
        self.process = subprocess.Popen(
            [sys.executable, "-c", self.SCRIPT, path, str(self.stop_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()  # ready

    def stop(self) -> float:
        self.stop_file.touch()
        out, errors = self.process.communicate(timeout=60)
        if self.process.returncode != 0:
            raise RuntimeError(f"the writer failed:\n{errors[-2000:]}")
        return float(json.loads(out.strip().splitlines()[-1]))


def _reset_peak() -> float:
    """Reset the process's peak resident memory to what it holds now (Linux), in MB."""
    with suppress(OSError):  # elsewhere the peak is the one since start: the imports', at most
        Path("/proc/self/clear_refs").write_text("5")
    return _status_megabytes("VmRSS")


def _peak() -> float:
    return _status_megabytes("VmHWM")


def _status_megabytes(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _due_query(app: App, horizon: datetime) -> int:
    """The due query alone: open assessments due by the earliest reminder's horizon."""
    with app.engine.connect() as conn:
        found = conn.execute(
            select(Assessment.id).where(Assessment.status == "open", Assessment.due_at <= horizon)
        ).all()
    return len(found)


def _earliest_offset(app: App) -> timedelta:
    policy = app.reference.policy
    return max(START - at for _, at in reminder_times(policy, START, ZoneInfo(ZONE)))


def check_due_set(app: App, now: datetime = START) -> int:
    """The assessments reminded or escalated are exactly those with a threshold passed; how
    many."""
    policy, zone = app.reference.policy, ZoneInfo(ZONE)
    with app.engine.connect() as conn:
        dues = conn.execute(select(Assessment.id, Assessment.due_at)).all()
        marked = set(conn.scalars(select(ReminderMark.assessment_id).distinct()))
    expected = {
        assessment_id
        for assessment_id, due_at in dues
        if due_at is not None and any(at <= now for _, at in reminder_times(policy, due_at, zone))
    }
    if marked != expected:
        raise AssertionError(f"due set differs: {len(marked ^ expected)} assessments")
    return len(expected)


def outbox_rows(app: App) -> int:
    with app.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def seed_cases(app: App, size: int, back: timedelta = BACK, spread: timedelta = SPREAD) -> None:
    """``size`` active cases of agency "bench", each with one open assessment, due from
    ``back`` before START over ``spread``."""

    def staff(uow: UnitOfWork) -> tuple[str, list[str]]:
        agency = create_agency(uow, AgencyIn(name="bench", timezone=ZONE))
        create_staff(uow, StaffIn(handle="bench-sup", agency="bench", role="supervisor"))
        workers = [
            create_staff(uow, StaffIn(handle=f"bench-cw{i}", agency="bench", role="caseworker")).id
            for i in range(20)
        ]
        return agency.id, workers

    agency_id, workers = app.run(staff)
    for first in range(0, size, CHUNK):
        numbers = range(first, min(first + CHUNK, size))
        cases, assessments = _rows(agency_id, workers, numbers, START - back, spread / size)
        with app.engine.begin() as conn:
            bulk_insert(conn, cast(Table, Case.__table__), cases)
            bulk_insert(conn, cast(Table, Assessment.__table__), assessments)


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) at the driver: PostgreSQL's COPY, or SQLite's
    executemany, with each value converted by its column type as SQLAlchemy would."""
    columns = list(rows[0])
    dialect = conn.dialect
    if dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_copy_value(row[name]) for name in columns])
        return
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    values = [
        tuple(p(row[n]) if p else row[n] for n, p in zip(columns, processors, strict=True))
        for row in rows
    ]
    marks = ", ".join("?" * len(columns))
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", values
    )


def _copy_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def _rows(
    agency_id: str, workers: list[str], numbers: range, first_due: datetime, step: timedelta
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    cases, assessments = [], []
    for n in numbers:
        case_id = new_id()
        due = first_due + step * n
        cases.append(_case(case_id, agency_id, workers[n % len(workers)], due))
        assessments.append(_assessment(case_id, due))
    return cases, assessments


def _case(case_id: str, agency_id: str, worker: str, due: datetime) -> dict[str, Any]:
    return {
        "id": case_id,
        "reference": _reference(),
        "agency_id": agency_id,
        "caseworker_id": worker,
        "status": "active",
        "risk_level": "moderate",
        "next_due_at": due,
        "first_assessed_at": None,  # no assessment completed yet (harbour.cases.milestones)
        "latest_plan_final": False,
        "escalated": False,
        "created_at": START - OPENED,
        "updated_at": START - OPENED,
        "version": 1,
    }


def _reference() -> str:
    """A random reference like ``refs.new_reference``, made from one read of the system's random
    source (drawing its 28 characters one by one was most of the seeding time)."""
    chars = base64.b32encode(os.urandom(20)).decode().translate(_CROCKFORD)
    return refs.format_reference(chars[: refs.GROUPS * refs.GROUP_LEN])


def _assessment(case_id: str, due: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "case_id": case_id,
        "point": "planning_meeting",
        "status": "open",
        "due_at": due,
        "opened_at": START - OPENED,
        "version": 1,
    }


if __name__ == "__main__":
    print(json.dumps(asdict(_measure(*sys.argv[1:6]))))
