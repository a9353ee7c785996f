"""Idempotency keys of actions that change a row rather than add one (``UsedKey``): a
supervisor's override of an assessment (scoped to the case), a visit's extend and check-in
(scoped to the staff member), a supervisor's record of a colleague's visit back (scoped to the
supervisor). As the outbox's rows are, they are idempotent by a unique key,
written in the action's transaction.

An action sent again with its key (a double click, a retried post, the back button) is the one
it did while that is still current: the latest of its action and scope (``record`` marks those
it replaces), and what it acted on still the thing the action would act on now (the case's
latest assessment, the visitor's visit out). Otherwise it is spent, and refused as such: it
changes nothing. The caller holds the scope's row (the case's, the staff member's) before
asking, so a twin sent at the same time finds the first's key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from harbour.db.models import UsedKey
from harbour.errors import Conflict


def replayed(
    session: Session,
    action: str,
    scope_id: str,
    key: str | None,
    current: Callable[[str], bool],
    spent: str,
    asked: str | None = None,
    reused: str = "that key was sent with other values",
) -> str | None:
    """The id of what the action sent with ``key`` acted on, if it was sent before and is still
    current (``current`` is asked of that id); None if the key was not used for ``action`` in
    ``scope_id`` (or there is none). Refused as ``idempotency_key_spent`` (with ``spent`` as
    its detail) if a later one replaced it or ``current`` says it is over, and as
    ``idempotency_key_reused`` (``reused``) if it was ``asked`` something else (``record``)."""
    found = _used(session, action, scope_id, key)
    if found is None:
        return None
    if found.replaced_at is not None or not current(found.record_id):
        raise Conflict("idempotency_key_spent", spent)
    if found.asked != asked:
        raise Conflict("idempotency_key_reused", reused)
    return found.record_id


def _used(session: Session, action: str, scope_id: str, key: str | None) -> UsedKey | None:
    if key is None:
        return None
    return session.scalar(
        select(UsedKey).where(
            UsedKey.action == action, UsedKey.scope_id == scope_id, UsedKey.key == key
        )
    )


def record(
    session: Session,
    now: datetime,
    action: str,
    scope_id: str,
    key: str | None,
    record_id: str,
    asked: str | None = None,
) -> None:
    """The action was done on ``record_id`` (``asked`` what the row acted on does not keep, if
    anything): the earlier ones of its action and scope are replaced (spent if sent again), and
    its ``key``, if it has one, is kept."""
    session.execute(
        update(UsedKey)
        .where(
            UsedKey.action == action, UsedKey.scope_id == scope_id, UsedKey.replaced_at.is_(None)
        )
        .values(replaced_at=now)
    )
    if key is not None:
        session.add(
            UsedKey(
                action=action,
                scope_id=scope_id,
                key=key,
                record_id=record_id,
                asked=asked,
                created_at=now,
            )
        )
