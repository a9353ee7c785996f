"""One-time enrolment links: an admin issues one, the person follows it, sets a password and
enrols TOTP. A link is valid 24 hours, once; issuing a new one retires the old."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from harbour.access import (
    Actor,
    audit,
    audit_store,
    authorize,
    colleague,
    guard_operator,
    resolve_actor,
)
from harbour.app import App, UnitOfWork
from harbour.auth import passwords, totp
from harbour.auth.sessions import end_all
from harbour.auth.tokens import new_token, token_hash
from harbour.clock import as_utc
from harbour.db import upsert
from harbour.db.base import new_id
from harbour.db.models import Credential, Enrolment, OutboxMessage, Staff
from harbour.domain.vocab import Lane, NotificationKind
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.notify.directory import routes_of
from harbour.notify.links import PATH
from harbour.notify.outbox import enqueue, settle

VALID_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class IssuedLink:
    handle: str
    # The link itself when the person has no route of their own (the admin hands it over);
    # None when it went to their route.
    url: str | None
    expires_at: datetime


def issue(uow: UnitOfWork, actor: Actor | None, staff: Staff) -> IssuedLink:
    """A new link for ``staff`` in the caller's transaction; earlier unused links stop working."""
    now = uow.now()
    uow.session.execute(
        update(Enrolment)
        .where(Enrolment.staff_id == staff.id, Enrolment.used_at.is_(None))
        .values(used_at=now, token_sealed=None)
        .execution_options(synchronize_session=False)
    )
    # A message with a retired link not sent yet is not sent: the new one follows.
    waiting = (OutboxMessage.kind == NotificationKind.ENROLMENT.value) & (
        OutboxMessage.recipient == staff.handle
    )
    settle(uow, waiting, "link_replaced")
    token = new_token()
    row = Enrolment(
        staff_id=staff.id, token_hash=token_hash(token), created_at=now, expires_at=now + VALID_FOR
    )
    uow.session.add(row)
    uow.session.flush()
    own_route = bool(routes_of(uow).channels_for(staff.handle))
    if own_route:
        uow.seal(row, "token", token)  # the relay's to put in the message (notify.links)
        enqueue(
            uow,
            NotificationKind.ENROLMENT,
            recipients=[staff.handle],
            case=None,
            dedupe=f"enrolment:{row.id}",
            context={"enrolment": row.id},
            lane=Lane.NORMAL,
            agency_id=staff.agency_id,
        )
    # An operator's link for another agency's new admin goes in the store's trail, as its
    # ``staff.add`` did; that agency's admins do not see the operator's agency's rows.
    other_agency = actor is not None and actor.agency_id != staff.agency_id
    trail = audit_store if other_agency else audit
    trail(uow, actor, "staff.enrolment_issued", handle=staff.handle, sent=own_route)
    url = None if own_route else uow.app.settings.base_url + PATH + token
    return IssuedLink(staff.handle, url, row.expires_at)


def reset(
    app: App, actor_handle: str | None, handle: str, *, unless_since: datetime | None = None
) -> IssuedLink:
    """An admin's reset: the person's password and TOTP are cleared, their sessions end, any
    lock is lifted, and a new enrolment link is issued. ``unless_since``: when the page asking
    for it was shown; a link issued since (that page's form sent again by a refresh, or another
    admin's reset) is refused (``reset_since``), resetting nothing and keeping that link."""

    def work(uow: UnitOfWork) -> IssuedLink:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "staff.manage")
        staff = colleague(uow, actor, handle, "staff.reset")
        guard_operator(uow, actor, staff, "staff.reset")
        credential = credential_of(uow, staff)  # one reset of a person at a time
        if unless_since is not None and _issued_since(uow, staff, unless_since):
            raise Conflict("reset_since", "a new link was issued since the page was shown")
        credential.password_hash = None
        credential.totp_secret_sealed = None
        credential.enrolled_at = None
        lift_lock(uow, credential)
        ended = end_all(uow, staff.id)
        audit(uow, actor, "staff.reset", handle=staff.handle, sessions_ended=ended)
        return issue(uow, actor, staff)

    return app.run(work)


def _issued_since(uow: UnitOfWork, staff: Staff, moment: datetime) -> bool:
    latest = uow.session.scalar(
        select(Enrolment.created_at)
        .where(Enrolment.staff_id == staff.id)
        .order_by(Enrolment.created_at.desc())
        .limit(1)
    )
    return latest is not None and as_utc(latest) >= as_utc(moment)


def credential_of(uow: UnitOfWork, staff: Staff) -> Credential:
    """The staff member's credential, locked until the caller's transaction ends: every caller
    changes it, and a sign-in's checks (a code's step used once, the delay, the lock) hold only
    if the attempts on one account run one after another."""
    locked = select(Credential).where(Credential.staff_id == staff.id).with_for_update()
    credential = uow.session.scalar(locked)
    if credential is None:
        # Made by whichever first attempt gets there; the others find it once it commits
        # (two inserting it at once: one failed on the unique staff id, an error page).
        fresh = {"id": new_id(), "staff_id": staff.id, "totp_last_step": 0, "failed_streak": 0}
        insert = upsert.insert(uow.session, Credential).values(fresh)
        uow.session.execute(insert.on_conflict_do_nothing(index_elements=["staff_id"]))
        credential = uow.session.scalars(locked).one()
    return credential


def lift_lock(uow: UnitOfWork, credential: Credential) -> None:
    credential.locked_until = None
    credential.failed_streak = 0
    credential.failures_since = uow.now()


@dataclass(frozen=True)
class EnrolmentPage:
    handle: str
    totp_secret: str
    totp_uri: str


def link_holder(app: App, token: str) -> str:
    """The handle a usable link is for, and nothing written: what a plain visit to the link
    shows (a mail or chat link scanner's too). Raises NotFound as ``open_link`` does."""
    return app.read(lambda uow: _valid(uow, token)[1].handle)


def open_link(app: App, token: str) -> EnrolmentPage:
    """What the enrolment page shows once asked for by a form (``link_holder`` for a plain
    visit): the handle and a TOTP secret to enrol (the same one each time it is asked for,
    until enrolment completes)."""

    def work(uow: UnitOfWork) -> EnrolmentPage:
        row, staff = _valid(uow, token)
        secret = uow.unseal(row, "pending_totp")
        if secret is None:
            secret = totp.new_secret()
            uow.seal(row, "pending_totp", secret)
        return EnrolmentPage(staff.handle, secret, totp.provisioning_uri(secret, staff.handle))

    return app.run(work)


def complete(app: App, token: str, password: str, again: str, code: str) -> str:
    """Set the password and TOTP secret; the link is used up. Returns the handle.

    Raises:
        NotFound: the link is unknown, used or expired (one answer for all three).
        InvalidInput: a weak password, or a code that does not match the secret shown.
    """

    def work(uow: UnitOfWork) -> str:
        row, staff = _valid(uow, token)
        passwords.check_new_password(password, again, staff.handle)
        secret = uow.unseal(row, "pending_totp")
        step = totp.accepted_step(secret, code, uow.now(), 0) if secret else None
        if secret is None or step is None:
            raise InvalidInput([("code", "the code does not match: check the device's clock")])
        credential = credential_of(uow, staff)
        _use_up(uow, row)
        credential.password_hash = passwords.hash_password(
            password, uow.app.settings.password_hashing
        )
        uow.seal(credential, "totp_secret", secret)
        credential.totp_last_step = step
        credential.enrolled_at = uow.now()
        lift_lock(uow, credential)
        row.pending_totp_sealed = None
        end_all(uow, staff.id)
        audit(uow, _as_actor(staff), "staff.enrol")
        return staff.handle

    return app.run(work)


def _valid(uow: UnitOfWork, token: str) -> tuple[Enrolment, Staff]:
    found = uow.session.execute(
        select(Enrolment, Staff)
        .join(Staff, Staff.id == Enrolment.staff_id)
        .where(Enrolment.token_hash == token_hash(token))
    ).first()
    if found is None:
        raise NotFound("enrolment_not_found", "this link is unknown, used or expired")
    row, staff = found
    if row.used_at is not None or row.expires_at <= uow.now() or not staff.active:
        raise NotFound("enrolment_not_found", "this link is unknown, used or expired")
    return row, staff


def _use_up(uow: UnitOfWork, row: Enrolment) -> None:
    """Mark the link used, if it still is unused: ``_valid`` read it without a lock, so two
    forms sent at once both found it unused (PostgreSQL). The update waits for the other's
    transaction and then finds nothing to change: that one answers as a used link."""
    now = uow.now()
    result = uow.session.execute(
        update(Enrolment)
        .where(Enrolment.id == row.id, Enrolment.used_at.is_(None))
        .values(used_at=now, token_sealed=None)
        .execution_options(synchronize_session=False)
    )
    if int(result.rowcount) != 1:  # type: ignore[attr-defined]
        raise NotFound("enrolment_not_found", "this link is unknown, used or expired")
    row.used_at = now


def _as_actor(staff: Staff) -> Actor:
    from harbour.domain.vocab import Role

    return Actor(staff.id, staff.handle, staff.agency_id, Role(staff.role))
