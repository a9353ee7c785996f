"""A case given to another caseworker while a sweep is under way: the sweep reads the cases
(their caseworkers with them) in one transaction and writes a batch's reminders in another, so
the reassignment can commit in between, or while the batch is being written. The reminder goes
to the caseworker the case has when the batch writes; the protective orders' batch holds its
cases, so the reassignment's withdrawal (``withdraw_case``) finds every order reminder it gave
the caseworker before, while the assessments' batch holds none (a write on any of its cases
would wait for it). Found by review: a batch reminded the caseworker the case had when it was
read, and the new one was never told."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from harbour.admin import staffing
from harbour.app import App, UnitOfWork
from harbour.cases.reads import assign_case
from harbour.clock import FixedClock
from harbour.db.models import Alert, Case
from harbour.domain import orders, refs
from harbour.notify import order_reminders, reminders
from harbour.notify.digests import REASSIGNED, Digests
from tests.notify.helpers import MARKER, new_case, open_assessment, order_expires, rows

WAIT = 0.5  # how long a transaction that must wait for another is given to show that it does
Reader = Callable[[Callable[[UnitOfWork], Any]], Any]


def _sweep(app: App, read: Reader | None = None) -> Any:
    return reminders.sweep(app.run, app.reference.policy, app.clock.now(), read=read or app.read)


def _read_then(app: App, then: Callable[[], None]) -> Reader:
    """The sweep's read runner: ``then`` (another command's work) runs once the sweep has read
    what fires, before a batch writes it."""

    def read(work: Callable[[UnitOfWork], Any]) -> Any:
        page = app.read(work)
        then()
        return page

    return read


def _give(app: App, case: Case, handle: str, held: Callable[[], None] = lambda: None) -> None:
    """Give ``case`` to ``handle`` as ``harbour assign`` does (its row held, as ``load_case``
    holds it); ``held`` runs once the case is given, before the transaction commits."""

    def work(uow: UnitOfWork) -> None:
        row = uow.session.scalars(
            select(Case).where(Case.id == case.id).with_for_update(key_share=True)
        ).one()
        assign_case(uow, None, row, handle)
        uow.session.flush()
        held()

    app.run(work)


def _sweep_giving_away_meanwhile(
    app: App, clock: FixedClock, case: Case, monkeypatch: pytest.MonkeyPatch, within: float = WAIT
) -> list[bool]:
    """A sweep during whose first digest write (its batch's, once its caseworkers are read)
    another process gives ``case`` to cw2; whether the giving was still waiting ``within``
    seconds later (for the batch to commit, which it cannot do meanwhile)."""
    other = App(app.settings, clock)  # another process
    giving = threading.Thread(target=_give, args=(other, case, "cw2"))
    waited: list[bool] = []
    add = Digests.add

    def given_meanwhile(self: Digests, items: Any, uow: UnitOfWork) -> Any:
        if not waited:
            giving.start()
            giving.join(within)
            waited.append(giving.is_alive())
        return add(self, items, uow)

    monkeypatch.setattr(Digests, "add", given_meanwhile)
    try:
        _sweep(app)
    finally:
        if waited:
            giving.join(10)
        other.dispose()
    monkeypatch.undo()
    return waited


def _reminded(app: App) -> list[tuple[str, str, str, str]]:
    """(recipient, case_ref, kind, digest status) of every reminder in every reminder digest."""
    return sorted(
        (row.recipient, item["case_ref"], item["kind"], row.status)
        for row in rows(app, kind="reminder_digest")
        for item in row.context["items"]
    )


def _short(case: Case) -> str:
    return refs.short_form(case.reference)


def _postgres_only(app: App) -> None:
    if app.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's writers queue: no reassignment commits while a batch is written")


def test_a_case_given_away_after_the_sweep_read_it_reminds_the_new_caseworker(
    seeded: App, clock: FixedClock
) -> None:
    """SQLite: both cases are read as cw1's, then given to cw2 before the batch writes (a page's
    batches are paced over seconds there): cw2 is reminded of both, cw1 of neither; the overdue
    one's escalation goes to the supervisors, as ever. (On PostgreSQL a page's one batch is
    written straight after it is read, with the page's caseworkers:
    ``reminders._current_caseworkers``.)"""
    if seeded.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL writes a page's batch straight after reading it")
    soon, late = new_case(seeded, "MKS"), new_case(seeded, "MKL")
    open_assessment(seeded, soon, clock.now() + timedelta(days=1))
    open_assessment(seeded, late, clock.now() - timedelta(days=8))

    def give_both() -> None:
        _give(seeded, soon, "cw2")
        _give(seeded, late, "cw2")

    counts = _sweep(seeded, _read_then(seeded, give_both))
    assert (counts["due_soon"], counts["overdue"], counts["escalated"]) == (1, 1, 1)
    assert _reminded(seeded) == sorted(
        [
            ("cw2", _short(soon), "assessment_due_soon", "pending"),
            ("cw2", _short(late), "assessment_overdue", "pending"),
        ]
    )
    [alert] = seeded.run(lambda uow: uow.session.scalars(select(Alert)).all())
    assert alert.case_id == late.id
    assert {r.recipient for r in rows(seeded, kind="overdue_escalation")} == {"sup"}
    assert {r.recipient for r in rows(seeded, kind="escalation_digest")} == {"sup"}
    assert _sweep(seeded)["digests"] == 0  # each threshold once, to the caseworker it has


def test_a_reassignment_does_not_wait_for_a_batch_under_way(
    seeded: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the batch has read the case as cw1's when the reassignment comes; it is not
    held for that, so the reassignment (as any write on a case the batch reminds of, an
    imminent assessment above all) goes through at once rather than waiting for the batch to
    commit (a batch holding its cases kept such a write waiting 1.2 s at 20,000 cases). The
    batch's reminder stays cw1's: the window ``reminders._current_caseworkers`` leaves."""
    _postgres_only(seeded)
    case = new_case(seeded)
    open_assessment(seeded, case, clock.now() + timedelta(days=1))
    # Given long (it returns once done): on a loaded machine, the other process's first
    # connection and its assignment alone took longer than WAIT.
    waited = _sweep_giving_away_meanwhile(seeded, clock, case, monkeypatch, within=10)
    assert waited == [False]  # done before the batch committed
    assert _reminded(seeded) == [("cw1", _short(case), "assessment_due_soon", "pending")]


# Protective orders running out (``order_reminders.remind``): one more batch of the pass, whose
# candidates (with their cases) are read and written in one transaction. On PostgreSQL (READ
# COMMITTED) a reassignment can commit between its statements, or be under way when it reads.
# Found by review: the reminder went to the caseworker the candidates' read found.


def _order_case(app: App, clock: FixedClock, marker: str = MARKER, days: int = 20) -> Case:
    """A case of cw1's whose protective order runs out in ``days`` (its 30-day reminder due)."""
    case = new_case(app, marker)
    order_expires(app, case, clock.now().date() + timedelta(days=days))
    return case


def _after_candidates(monkeypatch: pytest.MonkeyPatch, then: Callable[[], None]) -> None:
    """``then`` runs once the order batch has read its candidates, in its transaction."""
    candidates = order_reminders._candidates

    def read_then(uow: UnitOfWork, now: datetime) -> list[Any]:
        found = candidates(uow, now)
        then()
        return found

    monkeypatch.setattr(order_reminders, "_candidates", read_then)


def test_an_order_case_given_away_after_the_order_batch_read_it_reminds_the_new_caseworker(
    seeded: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the reassignment commits between the order batch's read of its candidates and
    its writes (SQLite has no such gap: the batch's transaction holds the write lock from its
    start). cw2 is reminded, cw1 is not, and once."""
    _postgres_only(seeded)
    case = _order_case(seeded, clock)
    other = App(seeded.settings, clock)  # another process
    _after_candidates(monkeypatch, lambda: _give(other, case, "cw2"))
    try:
        assert _sweep(seeded)["orders_expiring"] == 1
    finally:
        other.dispose()
    monkeypatch.undo()
    assert _reminded(seeded) == [("cw2", _short(case), orders.EXPIRING, "pending")]
    assert _sweep(seeded)["digests"] == 0


def test_the_order_batch_waits_for_a_reassignment_under_way_and_reminds_the_new_caseworker(
    seeded: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the reassignment holds the case, given but not committed (its withdrawal and
    its forgetting of the marks done, finding nothing), when the order batch reads its
    candidates, and commits a moment later. The batch waits for it and reminds cw2."""
    _postgres_only(seeded)
    case = _order_case(seeded, clock)
    holding, commit = threading.Event(), threading.Event()
    other = App(seeded.settings, clock)  # another process

    def hold_then_commit() -> None:
        holding.set()
        commit.wait(10)

    giving = threading.Thread(target=_give, args=(other, case, "cw2", hold_then_commit))
    _after_candidates(monkeypatch, lambda: threading.Timer(WAIT, commit.set).start())
    giving.start()
    try:
        assert holding.wait(10)
        _sweep(seeded)
        given_first = not giving.is_alive()  # committed before the batch could
    finally:
        commit.set()
        giving.join(10)
        other.dispose()
    monkeypatch.undo()
    assert _reminded(seeded) == [("cw2", _short(case), orders.EXPIRING, "pending")]
    assert given_first
    assert _sweep(seeded)["digests"] == 0


def test_a_reassignment_waits_for_the_order_batch_under_way_and_takes_its_reminder_back(
    seeded: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the order batch has the case, and has found it cw1's and written its mark,
    when the reassignment comes. The reassignment waits for the batch to commit, then finds its
    digest item and its mark: cw1's digest is cancelled, and the next sweep reminds cw2."""
    _postgres_only(seeded)
    case = _order_case(seeded, clock)
    waited = _sweep_giving_away_meanwhile(seeded, clock, case, monkeypatch)
    [digest] = rows(seeded, kind="reminder_digest")
    assert (digest.recipient, digest.status, digest.last_error) == ("cw1", "cancelled", REASSIGNED)
    assert waited == [True]  # for the batch to commit
    _sweep(seeded)
    assert [(who, status) for who, *_, status in _reminded(seeded)] == [
        ("cw1", "cancelled"),
        ("cw2", "pending"),
    ]


def test_a_deactivation_holding_the_cases_of_renewed_orders_meets_the_order_batch_without_deadlock(
    seeded: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: cw1 is deactivated, their cases given to cw2; the deactivation holds both cases
    (their orders renewed since reminded: the batch re-arms their marks, rows the deactivation's
    ``forget_order_marks`` waits for) when the order batch reads them, and gives them away a
    moment later. The batch takes the cases before it writes a mark, as the deactivation takes
    them before it forgets one: it waits, and neither is undone as a deadlock and run again (a
    batch writing the marks first, as the assessments' does, and holding the cases after, was
    waited for by the deactivation while it waited for the deactivation). cw2 is reminded of
    both renewed orders."""
    _postgres_only(seeded)
    first, second = sorted(
        (_order_case(seeded, clock, "MKA"), _order_case(seeded, clock, "MKB")), key=lambda c: c.id
    )
    _sweep(seeded)  # reminded to cw1: their marks written
    renewed = clock.now().date() + timedelta(days=25)
    for case in (first, second):
        order_expires(seeded, case, renewed)
    other = App(seeded.settings, clock)  # another process
    moving = threading.Thread(target=staffing.deactivate_staff, args=(other, "adm", "cw1", "cw2"))
    holding, go = threading.Event(), threading.Event()
    given, remind = staffing.assign_case, order_reminders.remind
    tries: list[str] = []

    def held_then_given(uow: UnitOfWork, actor: Any, case: Case, handle: str) -> Case:
        if not tries:  # the cases held, none given yet
            holding.set()
            go.wait(10)
        tries.append(case.id)
        return given(uow, actor, case, handle)

    def counted(*args: Any, **kwargs: Any) -> Any:
        tries.append("batch")
        return remind(*args, **kwargs)

    monkeypatch.setattr(staffing, "assign_case", held_then_given)
    monkeypatch.setattr(order_reminders, "remind", counted)
    _after_candidates(monkeypatch, lambda: threading.Timer(WAIT, go.set).start())
    moving.start()
    try:
        assert holding.wait(10)
        assert _sweep(seeded)["orders_expiring"] == 2
    finally:
        go.set()
        moving.join(20)
        other.dispose()
    monkeypatch.undo()
    assert tries == ["batch", first.id, second.id]  # each once
    items = [
        (row.recipient, item["case_ref"], item["due_date"], row.status)
        for row in rows(seeded, kind="reminder_digest")
        for item in row.context["items"]
        if item["due_date"] == renewed.isoformat()
    ]
    assert sorted(items) == sorted(
        ("cw2", _short(case), renewed.isoformat(), "pending") for case in (first, second)
    )


def test_a_reassignment_during_an_overlapping_sweep_s_batch_forgets_the_marks_it_finds(
    seeded: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: two sweeps overlap (``harbour sweep`` by hand during the scheduled one). The
    second read the assessment as due before the first wrote its mark and reminded cw1; while
    the second's batch, finding the mark written, is under way, the case is given to cw2. The
    reassignment forgets the mark, so the next sweep reminds cw2. Found by review: the second
    batch's upsert held the mark it left alone until it committed, the reassignment passed over
    it (its marks are forgotten SKIP LOCKED), and cw2 was never reminded."""
    _postgres_only(seeded)
    case = new_case(seeded)
    open_assessment(seeded, case, clock.now() + timedelta(days=1))
    first, giver = App(seeded.settings, clock), App(seeded.settings, clock)  # other processes
    giving = threading.Thread(target=_give, args=(giver, case, "cw2"))
    add = Digests.add

    def given_meanwhile(self: Digests, items: Any, uow: UnitOfWork) -> Any:
        if giving.ident is None:
            giving.start()
            giving.join(WAIT)
        return add(self, items, uow)

    def first_sweep() -> None:
        if giving.ident is None and not rows(seeded, kind="reminder_digest"):
            _sweep(first)
            monkeypatch.setattr(Digests, "add", given_meanwhile)

    try:
        counts = _sweep(seeded, _read_then(seeded, first_sweep))
    finally:
        if giving.ident is not None:
            giving.join(10)
        first.dispose()
        giver.dispose()
    monkeypatch.undo()
    assert counts.get("due_soon", 0) == 0  # the first sweep had reminded cw1
    _sweep(seeded)
    assert _reminded(seeded) == [
        ("cw1", _short(case), "assessment_due_soon", "cancelled"),
        ("cw2", _short(case), "assessment_due_soon", "pending"),
    ]
