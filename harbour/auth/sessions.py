"""Console sessions, kept server-side: the cookie holds a random token, the table its hash.

A session ends at sign-out, after ``session_idle_minutes`` without a request, after
``session_max_hours`` in all, when the person's account is deactivated or reset.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from harbour.access import Actor, audit
from harbour.app import App, UnitOfWork
from harbour.auth.tokens import new_token, token_hash
from harbour.db.models import Staff, WebSession
from harbour.domain.vocab import Role


@dataclass(frozen=True)
class SignedIn:
    """Who a request comes from, and the session's CSRF token."""

    session_id: str
    staff_id: str
    handle: str
    agency_id: str
    role: Role
    csrf_token: str


def start(uow: UnitOfWork, staff: Staff) -> tuple[str, SignedIn]:
    """A new session (always a new id) in the caller's transaction; the token for the cookie."""
    token, now = new_token(), uow.now()
    row = WebSession(
        token_hash=token_hash(token),
        staff_id=staff.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
    )
    uow.session.add(row)
    uow.session.flush()
    return token, _signed_in(row, staff)


def current(app: App, token: str | None) -> SignedIn | None:
    """The live session of a cookie's token, its idle time restarted; None (and the session
    ended) when it has run out or its account was deactivated."""
    if not token:
        return None

    def work(uow: UnitOfWork) -> SignedIn | None:
        found = uow.session.execute(
            select(WebSession, Staff)
            .join(Staff, Staff.id == WebSession.staff_id)
            .where(WebSession.token_hash == token_hash(token), WebSession.ended_at.is_(None))
        ).first()
        if found is None:
            return None
        row, staff = found
        now, settings = uow.now(), uow.app.settings
        idle = now - row.last_seen_at > timedelta(minutes=settings.session_idle_minutes)
        too_old = now - row.created_at > timedelta(hours=settings.session_max_hours)
        if idle or too_old or not staff.active:
            row.ended_at = now
            why = "inactive_account" if not staff.active else "idle" if idle else "max_age"
            audit(uow, _actor(staff), "session.expired", reason=why)
            return None
        row.last_seen_at = now
        return _signed_in(row, staff)

    return app.run(work)


def end(app: App, token: str | None) -> None:
    """Sign out: the cookie's session ends (nothing happens for an unknown token)."""
    if not token:
        return

    def work(uow: UnitOfWork) -> None:
        found = uow.session.execute(
            select(WebSession, Staff)
            .join(Staff, Staff.id == WebSession.staff_id)
            .where(WebSession.token_hash == token_hash(token), WebSession.ended_at.is_(None))
        ).first()
        if found is not None:
            found[0].ended_at = uow.now()
            audit(uow, _actor(found[1]), "sign_out")

    app.run(work)


def end_all(uow: UnitOfWork, staff_id: str) -> int:
    """End every live session of one person (deactivation, reset, new enrolment)."""
    result = uow.session.execute(
        update(WebSession)
        .where(WebSession.staff_id == staff_id, WebSession.ended_at.is_(None))
        .values(ended_at=uow.now())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _actor(staff: Staff) -> Actor:
    return Actor(staff.id, staff.handle, staff.agency_id, Role(staff.role))


def _signed_in(row: WebSession, staff: Staff) -> SignedIn:
    return SignedIn(
        row.id, staff.id, staff.handle, staff.agency_id, Role(staff.role), row.csrf_token
    )
