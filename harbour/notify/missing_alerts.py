"""A missing youth's reporting steps as their deadline nears and passes.

``missing_steps_due`` opens (once per episode) when the earliest step not yet done is within the
policy's ``missing_warn_before`` of its deadline: the caseworker (and a colleague covering the case)
and the supervisors, then up the ladder unacknowledged. ``missing_steps_overdue`` opens when that
deadline passes: on-call staff and the supervisors, then the admins. A deadline found already
passed (a youth last seen long ago) opens the overdue alert alone, paging the caseworker and a
colleague covering too, and the warning never follows: it is skipped, as a reminder passed with a
later one is. Recording every step (``harbour missing-step``) or the youth's return takes both.
The relay calls ``raise_due`` on every pass when ``any_due`` says so (every minute, and after
every command: the overdue alert is urgent, out within a relay period of the deadline, not at the
next 15-minute sweep), the sweep every pass, and the command that records an episode at once (a
youth last seen a day ago is overdue already).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select

from harbour.access import agency_zone
from harbour.app import UnitOfWork
from harbour.db.models import Alert, Case, MissingEpisode, MissingStep
from harbour.domain.policy import Policy
from harbour.domain.vocab import AlertKind, NotificationKind
from harbour.notify import alerts

KINDS = (AlertKind.MISSING_STEPS_DUE, AlertKind.MISSING_STEPS_OVERDUE)
# A step not done, of an episode still open (the youth not back, the episode not withdrawn).
_steps_open = (MissingEpisode.still_open(), MissingStep.done_at.is_(None))


def raise_due(uow: UnitOfWork, now: datetime, episode_id: str | None = None) -> int:
    """Open the alerts the open episodes (or one) call for now; how many were opened."""
    warn = uow.reference.policy.missing_warn_before.delta
    query = (
        select(MissingEpisode.id, MissingEpisode.case_id, func.min(MissingStep.due_at))
        .join(MissingStep, MissingStep.episode_id == MissingEpisode.id)
        .where(*_steps_open)
        .group_by(MissingEpisode.id, MissingEpisode.case_id)
        .having(func.min(MissingStep.due_at) <= now + warn)
    )
    if episode_id is not None:
        query = query.where(MissingEpisode.id == episode_id)
    opened = 0
    found = uow.session.execute(query.order_by(MissingEpisode.case_id)).all()
    for episode, case_id, due_at in found:
        if not _still_open(uow, episode, case_id):
            continue
        opened += _open(uow, episode, case_id, KINDS[1] if due_at <= now else KINDS[0], due_at)
    return opened


def _still_open(uow: UnitOfWork, episode_id: str, case_id: str) -> bool:
    """Whether the episode still has a step open, asked again with its case held as the
    commands that record a step or the return hold it (``access.load_case``): one committed
    since the query above took the episode's alerts before this opened any, and an alert opened
    now would climb about a youth already back (PostgreSQL; SQLite's writers queue anyway)."""
    held = select(Case.id).where(Case.id == case_id).with_for_update(key_share=True)
    uow.session.execute(held)
    step = (
        select(MissingStep.id)
        .join(MissingEpisode, MissingStep.episode_id == MissingEpisode.id)
        .where(MissingEpisode.id == episode_id, *_steps_open)
        .limit(1)
    )
    return uow.session.scalar(step) is not None


def any_due(policy: Policy, now: datetime) -> Any:
    """Whether ``raise_due`` has an alert to open at ``now`` (an SQL EXISTS): an open episode
    with a step not done that is due within the warning and no alert yet, or past due and no
    overdue alert yet (an overdue alert stands for the warning it skipped)."""
    warn = policy.missing_warn_before.delta

    def without(kind: AlertKind) -> Any:
        alerted = Alert.kind == kind, Alert.source_id == MissingEpisode.id
        return ~exists().where(*alerted)

    return (
        select(MissingStep.id)
        .join(MissingEpisode, MissingStep.episode_id == MissingEpisode.id)
        .where(
            *_steps_open,
            or_(
                and_(MissingStep.due_at <= now + warn, without(KINDS[0]), without(KINDS[1])),
                and_(MissingStep.due_at <= now, without(KINDS[1])),
            ),
        )
        .exists()
    )


def _open(uow: UnitOfWork, episode: str, case_id: str, kind: AlertKind, due_at: datetime) -> int:
    found = select(Alert.id).where(Alert.kind == kind, Alert.source_id == episode)
    if uow.session.scalar(found) is not None:
        return 0
    case = uow.session.get_one(Case, case_id)
    local = due_at.astimezone(agency_zone(uow, case.agency_id)).strftime("%Y-%m-%dT%H:%M")
    alerts.open_alert(uow, case, kind, episode, NotificationKind(kind.value), {"due_date": local})
    return 1


def settle(uow: UnitOfWork, episode_id: str, handle: str) -> list[str]:
    """Take the episode's open alerts (its steps are done, or the youth is back); their ids."""
    found = uow.session.scalars(
        select(Alert).where(Alert.kind.in_(KINDS), Alert.source_id == episode_id)
    ).all()
    return [alert.id for alert in found if alerts.close(uow, alert, handle)]
