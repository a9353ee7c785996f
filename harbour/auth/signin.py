"""Signing in: handle, password and a current TOTP code, with a growing per-account delay, a
lock after repeated failures, and a per-address throttle. Every outcome is audited; a handle
that matches no account is recorded as ``unknown``. The caller learns only yes or no, and every
attempt costs one password check (but a throttled address's, refused whatever the handle), so
its time says no more."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from harbour.access import audit_event
from harbour.app import App, UnitOfWork
from harbour.auth import passwords, totp
from harbour.auth.enrolment import credential_of
from harbour.auth.sessions import SignedIn, start
from harbour.auth.tokens import token_hash
from harbour.db.models import Credential, SignInAttempt, Staff
from harbour.domain.text import is_handle

LOCK_AFTER = 10  # failures within LOCK_WINDOW lock the account for LOCK_FOR
LOCK_WINDOW = timedelta(hours=1)
LOCK_FOR = timedelta(hours=1)
DELAY_FROM = 3  # consecutive failures before each next attempt must wait
DELAY_MAX = timedelta(minutes=1)
ADDRESS_LIMIT = 30  # failures from one address within ADDRESS_WINDOW throttle it
ADDRESS_WINDOW = timedelta(minutes=15)
UNKNOWN = "unknown"


def delay_after(streak: int) -> timedelta:
    """How long an account waits before its next attempt after ``streak`` failures in a row."""
    if streak < DELAY_FROM:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (streak - DELAY_FROM)), DELAY_MAX)


def sign_in(
    app: App, handle: str, password: str, code: str, address: str
) -> tuple[str, SignedIn] | None:
    """A new session's cookie token and who signed in, or None (for any failure)."""
    hashing = app.settings.password_hashing

    def work(uow: UnitOfWork) -> tuple[tuple[str, SignedIn] | None, str | None]:
        """The session, or None and why its refusal checked no password (None: it did)."""
        now, where = uow.now(), token_hash(address or "-")
        staff = _staff_named(uow, handle)
        credential = credential_of(uow, staff) if staff is not None and staff.active else None
        reason = _refusal(uow, staff, credential, where, now)
        unchecked = reason
        if reason is None and credential is not None:
            step = None
            if passwords.verify_password(credential.password_hash, password, hashing):
                secret = uow.unseal(credential, "totp_secret")
                step = totp.accepted_step(secret or "", code, now, credential.totp_last_step)
                reason = None if step is not None else "code"
            else:
                reason = "password"
            if step is not None and staff is not None:
                credential.totp_last_step = step
                credential.failed_streak = 0
                uow.session.add(
                    SignInAttempt(at=now, staff_id=staff.id, address_hash=where, ok=True)
                )
                _audit(uow, staff, "sign_in", "ok", {})
                return start(uow, staff), None
        _failed(uow, staff, credential, where, now, reason or "password")
        return None, unchecked

    signed, unchecked = app.run(work)
    if unchecked is not None and unchecked != "throttled":
        # Every refusal of a handle costs one password check, as a real attempt does: a known
        # handle that is locked or made to wait answers no faster than an unknown one. Spent
        # once the transaction has ended, not holding SQLite's write lock or the account's
        # credential row; a throttled address is refused whatever the handle, and spends none.
        passwords.verify_password(None, password, hashing)
    return signed


def _staff_named(uow: UnitOfWork, handle: str) -> Staff | None:
    if not is_handle(handle):  # no one: answered as an unknown handle
        return None
    return uow.session.scalar(select(Staff).where(Staff.handle == handle))


def _refusal(
    uow: UnitOfWork,
    staff: Staff | None,
    credential: Credential | None,
    where: str,
    now: datetime,
) -> str | None:
    recent = uow.session.scalar(
        select(func.count())
        .select_from(SignInAttempt)
        .where(
            SignInAttempt.address_hash == where,
            SignInAttempt.ok.is_(False),
            SignInAttempt.at > now - ADDRESS_WINDOW,
        )
    )
    if (recent or 0) >= ADDRESS_LIMIT:
        return "throttled"
    if staff is None:
        return UNKNOWN
    if not staff.active:
        return "inactive"
    if credential is None or credential.password_hash is None:
        return "not_enrolled"
    if credential.locked_until is not None and credential.locked_until > now:
        return "locked"
    waited = credential.last_failed_at
    if waited is not None and now < waited + delay_after(credential.failed_streak):
        return "too_soon"
    return None


def _failed(
    uow: UnitOfWork,
    staff: Staff | None,
    credential: Credential | None,
    where: str,
    now: datetime,
    reason: str,
) -> None:
    uow.session.add(
        SignInAttempt(at=now, staff_id=staff.id if staff else None, address_hash=where, ok=False)
    )
    uow.session.flush()
    if staff is None:
        _audit(uow, None, "sign_in", "failed", {"reason": reason})
        return
    _audit(uow, staff, "sign_in", "failed", {"reason": reason})
    if credential is None:
        return
    credential.failed_streak += 1
    credential.last_failed_at = now
    since = max(now - LOCK_WINDOW, credential.failures_since or now - LOCK_WINDOW)
    failures = uow.session.scalar(
        select(func.count())
        .select_from(SignInAttempt)
        .where(
            SignInAttempt.staff_id == staff.id,
            SignInAttempt.ok.is_(False),
            SignInAttempt.at >= since,
        )
    )
    if (failures or 0) >= LOCK_AFTER and not (
        credential.locked_until and credential.locked_until > now
    ):
        credential.locked_until = now + LOCK_FOR
        _audit(uow, staff, "sign_in.locked", "ok", {"failures": failures})


def _audit(
    uow: UnitOfWork, staff: Staff | None, action: str, outcome: str, details: dict[str, object]
) -> None:
    handle, agency_id = (staff.handle, staff.agency_id) if staff else (UNKNOWN, None)
    uow.session.add(audit_event(uow, handle, agency_id, None, action, outcome, details))
