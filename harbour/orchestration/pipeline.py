"""Lifecycle events, each processed once: the steps an event calls for, run by the CLI itself
(``HARBOUR_ORCHESTRATION=inline``, the embedded default) or by Prefect flows (``prefect``).

Both modes run the same idempotent step functions (``harbour.orchestration.steps``) and mark the event
``processed_at`` when its steps are done, so nothing is done twice when a server appears later,
and a sweep finishes whatever was recorded but never processed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import NamedTuple

from sqlalchemy import select, tuple_, update

from harbour import events
from harbour.app import App, UnitOfWork
from harbour.db.models import LifecycleEvent
from harbour.domain.vocab import AssessmentPoint
from harbour.errors import HarbourError
from harbour.orchestration import steps

log = logging.getLogger(__name__)

Step = steps.Step
Cursor = tuple[datetime, str]


class Pending(NamedTuple):
    occurred_at: datetime
    id: str
    name: str
    subject_id: str


INLINE_BATCH = 20  # events a CLI command processes after committing; the sweep does the rest
NORMAL_LANE_BATCH = 20  # normal-lane notifications a CLI command delivers
# In prefect mode an event younger than this is left to the flow its trigger started.
PREFECT_GRACE = timedelta(minutes=5)


# Which lifecycle event runs which steps, in process or as a Prefect flow: said here only.
STEPS_OF_EVENT: dict[str, tuple[Step, ...]] = {
    events.CASE_REFERRED: steps.INITIAL_CONTACT,
    events.ASSESSMENT_SUBMITTED: steps.ASSESSMENT,  # and what the assessment's point adds
    events.PLAN_FINALIZED: steps.PLAN_FINALIZED,
}
ROUTED = frozenset(STEPS_OF_EVENT)
# The flow (deployment) a routed event starts in Prefect mode, as deployments/prefect.yaml's
# triggers map them; a finalised plan starts none (the sweep finishes it).
FLOW_OF_REFERRAL = "initial_contact"
FLOW_OF_POINT = {
    AssessmentPoint.PLANNING_MEETING: "planning_meeting",
    AssessmentPoint.DISCHARGE: "discharge",
    AssessmentPoint.FOLLOW_UP: "follow_up",
}
FLOW_OF_OTHER_POINTS = "safety_assessment"
# What the points without a flow of their own add, run by their shared flow for every one of
# them: Prefect is never told the point, so which tasks run may not say it either; each such
# step checks the point itself (an incident after discharge may close the case).
STEPS_OF_OTHER_POINTS: tuple[Step, ...] = tuple(
    dict.fromkeys(
        step
        for point, extra in steps.AFTER_POINT.items()
        if point not in FLOW_OF_POINT
        for step in extra
    )
)


def steps_of(name: str, point: str | None = None) -> tuple[Step, ...]:
    """The steps the event ``name`` runs (``point``: a submitted assessment's); () for none."""
    extra = (
        steps.AFTER_POINT.get(point, ()) if name == events.ASSESSMENT_SUBMITTED and point else ()
    )
    return STEPS_OF_EVENT.get(name, ()) + extra


def flow_of(name: str, point: str | None = None) -> str | None:
    """The flow the event ``name`` starts in Prefect mode; None for an event that starts none."""
    if name == events.CASE_REFERRED:
        return FLOW_OF_REFERRAL
    if name == events.ASSESSMENT_SUBMITTED and point is not None:
        return FLOW_OF_POINT.get(AssessmentPoint(point), FLOW_OF_OTHER_POINTS)
    return None


def flow_of_assessment(app: App, assessment_id: str) -> str:
    """The flow a submitted assessment starts: what may be said of it outside Harbour, where its
    point may not (a youth who "just left" or is "considering leaving" is at their most exposed)."""
    flow = flow_of(events.ASSESSMENT_SUBMITTED, steps.point_of(app, assessment_id))
    assert flow is not None  # every point starts a flow
    return flow


def steps_for(app: App, name: str, subject_id: str) -> tuple[Step, ...]:
    """The steps processing the event ``name`` about ``subject_id`` takes; () for none."""
    return steps_of(name, _point(app, name, subject_id))


def flow_for(app: App, event: Pending) -> str | None:
    """The flow a recorded event starts in Prefect mode (None: the sweep finishes it)."""
    return flow_of(event.name, _point(app, event.name, event.subject_id))


def _point(app: App, name: str, subject_id: str) -> str | None:
    return steps.point_of(app, subject_id) if name == events.ASSESSMENT_SUBMITTED else None


def process(app: App, name: str, subject_id: str) -> None:
    """Run an event's steps in order (each its own transaction), then mark it processed."""
    if not is_pending(app, name, subject_id):
        return
    for step in steps_for(app, name, subject_id):
        step(app, subject_id)
    mark_processed(app, name, subject_id)


def is_pending(app: App, name: str, subject_id: str) -> bool:
    """True when the event is recorded and not yet processed: a repeat run does nothing."""

    def work(uow: UnitOfWork) -> bool:
        found = uow.session.scalar(
            select(LifecycleEvent.id).where(
                LifecycleEvent.name == name,
                LifecycleEvent.subject_id == subject_id,
                LifecycleEvent.processed_at.is_(None),
            )
        )
        return found is not None

    return app.run(work)


def mark_processed(app: App, name: str, subject_id: str) -> None:
    def work(uow: UnitOfWork) -> None:
        uow.session.execute(
            update(LifecycleEvent)
            .where(
                LifecycleEvent.name == name,
                LifecycleEvent.subject_id == subject_id,
                LifecycleEvent.processed_at.is_(None),
            )
            .values(processed_at=uow.now())
        )

    app.run(work)


def pending(
    app: App,
    *,
    before: datetime | None,
    limit: int,
    after: Cursor | None = None,
    newest: bool = False,
) -> list[Pending]:
    """Up to ``limit`` unprocessed events, oldest first, after the ``after`` cursor; with
    ``newest``, the latest ``limit`` of them (still listed oldest first)."""

    def work(uow: UnitOfWork) -> list[Pending]:
        row = LifecycleEvent
        query = select(row.occurred_at, row.id, row.name, row.subject_id).where(
            row.processed_at.is_(None)
        )
        if before is not None:
            query = query.where(row.occurred_at <= before)
        if after is not None:
            query = query.where(tuple_(row.occurred_at, row.id) > tuple_(*after))
        order = (row.occurred_at.desc(), row.id.desc()) if newest else (row.occurred_at, row.id)
        query = query.order_by(*order).limit(limit)
        page = [Pending(*found) for found in uow.session.execute(query)]
        return page[::-1] if newest else page

    return app.read(work)  # on SQLite a read takes no lock: a page read keeps no writer waiting


def process_pending(
    app: App,
    *,
    before: datetime | None = None,
    limit: int = INLINE_BATCH,
    between: Callable[[], None] = lambda: None,
) -> int:
    """Process unprocessed events in pages of ``limit``; when ``before`` is None, as after a CLI
    command, only the newest page: the command's own events (older ones, a backlog left by
    another mode or events whose step keeps failing, are the sweep's, which pages through them
    all; taking the oldest page, every command retried the same failing events and never
    reached its own). A failing event is logged by code and left for the next pass.
    ``between`` runs before each page of events that call for no step is marked and before each
    routed event is processed (a sweep's ``WriterGap``: after an outage a catch-up sweep marks
    thousands of escalation events, and back to back their transactions kept an SQLite writer
    waiting 0.3 to 1.3 s). Returns how many were processed."""
    done, cursor = 0, None
    while True:
        page = pending(app, before=before, limit=limit, after=cursor, newest=before is None)
        unrouted = [event.id for event in page if event.name not in ROUTED]
        if unrouted:
            between()
            done += _mark_unrouted(app, unrouted)
        for event in page:
            if event.name in ROUTED:
                between()
                done += _try(app, event)
        if before is None or len(page) < limit:
            return done
        cursor = (page[-1].occurred_at, page[-1].id)


def _mark_unrouted(app: App, ids: list[str]) -> int:
    """Events that call for no step are processed as soon as they are seen, together."""

    def work(uow: UnitOfWork) -> None:
        uow.session.execute(
            update(LifecycleEvent)
            .where(LifecycleEvent.id.in_(ids), LifecycleEvent.processed_at.is_(None))
            .values(processed_at=uow.now())
        )

    if ids:
        app.run(work)
    return len(ids)


def _try(app: App, event: Pending) -> bool:
    try:
        process(app, event.name, event.subject_id)
        return True
    except Exception as exc:  # by code or class only: third-party messages may quote values
        code = _code_of(exc)
    log.warning("event %s left unprocessed: %s", event.name, code)
    try:
        app.run(partial(_failed, event_id=event.id, code=code))
    except Exception as exc:  # the next try counts again
        log.warning("event %s failure not recorded: %s", event.name, _code_of(exc))
    return False


def _failed(uow: UnitOfWork, *, event_id: str, code: str) -> None:
    """Count a failed try of an event's steps, with its code; once it is stuck (``events.
    is_stuck``: failed a few times over an hour), tell its agency's admins (else the operators),
    once per event (its notice's key), as the relay tells them of a dead letter: the case's
    short reference, the event and the code. It is still tried; a later success settles it
    (``harbour notify check`` names it until then)."""
    from harbour.db.models import CODE, Case
    from harbour.domain import refs
    from harbour.domain.vocab import Lane, NotificationKind
    from harbour.notify import recipients
    from harbour.notify.outbox import enqueue

    E = LifecycleEvent
    counted = uow.session.execute(
        update(E)
        .where(E.id == event_id, E.processed_at.is_(None))
        .values(failures=E.failures + 1, last_error=code[:CODE])
        .returning(E.case_id, E.failures, E.occurred_at, E.name)
    ).one_or_none()
    if counted is None or counted.case_id is None:  # done meanwhile; or about no case (unrouted)
        return
    if not events.is_stuck(counted.failures, counted.occurred_at, uow.now()):
        return
    case = uow.session.get_one(Case, counted.case_id)
    admins, own = recipients.admins_or_operators(uow, case.agency_id)
    enqueue(
        uow,
        NotificationKind.EVENT_STUCK,
        recipients=admins,
        case=case if own else None,
        dedupe=f"event_stuck:{event_id}",
        context={
            "case_ref": refs.short_form(case.reference),
            "path": f"/cases/{case.reference}",
            "event": counted.name,
            "error": code[:CODE],
        },
        lane=Lane.NORMAL,
    )


def _code_of(exc: Exception) -> str:
    return exc.code if isinstance(exc, HarbourError) else type(exc).__name__


def after_commit(app: App) -> None:
    """What a CLI command does once its change is committed.

    The urgent lane first, in both modes: an imminent-threat alert waits for nothing, neither a
    trigger nor this command's own follow-through. Inline: then process the new lifecycle events
    here and deliver what they added, urgent rows first, with a bounded batch of the rest.
    Prefect: the deployments do the rest. The command's own urgent rows that nobody has a route
    for are named on stderr: the command succeeded (its change is recorded), but nobody was
    told. Other people's delivery problems are not this command's output: they are in
    `harbour notify check` and `harbour outbox`.
    """
    from harbour.domain.vocab import Lane
    from harbour.notify import relay

    mine, app.urgent_written = app.urgent_written or set(), None  # not the relay's escalations
    unsent = relay.deliver(app, lane=Lane.URGENT).unsent
    warn_unsent([unsent[row] for row in sorted(unsent) if row in mine])
    if app.settings.orchestration == "inline":
        process_pending(app)
        # A bounded share of the rest: after a catch-up sweep, thousands of alerts may wait to
        # move up (the relay's periodic pass and the sweep take them all); a command takes a batch.
        relay.deliver(app, limit=NORMAL_LANE_BATCH, escalation_batches=1)


def deliver(app: App, lane: str | None = None, limit: int | None = None) -> int:
    """Send pending notifications of ``lane`` (all lanes when None); how many were sent."""
    from harbour.domain.vocab import Lane
    from harbour.notify import relay

    chosen = Lane(lane) if lane is not None else None
    return relay.deliver(app, lane=chosen, limit=limit if limit is not None else 500).sent


# Why an urgent page was not sent, as a warning says it, and the fix to try.
_ROUTES_FIX = (
    "give them a route (an address on record: harbour staff contact HANDLE --email @FILE, with "
    "the agency's harbour agency delivery; or a route tagged for them in the routes file, "
    "HARBOUR_APPRISE_CONFIG), then run: harbour notify check --as ADMIN"
)
_UNSENT: dict[str, tuple[str, str]] = {
    "no_config": ("no notification routes are configured; nobody has been told", _ROUTES_FIX),
    "config_invalid": (
        "the routes file cannot be used (harbour notify check says why); nobody has been told",
        "correct the routes file (HARBOUR_APPRISE_CONFIG), then run: harbour notify check "
        "--as ADMIN",
    ),
    "no_route": ("no route has these tags; nobody has been told", _ROUTES_FIX),
    "send_failed": (
        "the send failed; it is tried again",
        "test their route: harbour notify test --to TAG --as ADMIN",
    ),
    "render_failed": (
        "the message could not be rendered from its template; nobody has been told",
        "correct the templates folder (HARBOUR_TEMPLATES_DIR; unset, the shipped templates "
        "are used), then run: harbour deliver",
    ),
}


def warn_unsent(unsent: list[tuple[str, str, str]]) -> None:
    """One warning line per reason, naming the recipients only (tags, and the channel of a
    failed send; no content). ``unsent``: (recipient tag, channel, why) per page."""
    for reason, (said, fix) in _UNSENT.items():
        named = {
            f"{tag} by {channel}" if why == "send_failed" else tag
            for tag, channel, why in unsent
            if why == reason
        }
        if named:
            sys.stderr.write(
                f"warning: urgent alert not sent to {', '.join(sorted(named))}: {said}. "
                f"Fix: {fix}\n"
            )
