"""A caseworker covering a colleague's case: break-glass access, explicit and time-limited.

A caseworker acts only on the cases assigned to them (``harbour.domain.privilege``). To act on a
colleague's case (a sick day, a crisis while the caseworker is away) without being assigned it,
they start a cover with a reason (sealed like any case text) for a number of hours (the policy's
``cover``: 8 by default, at most 72). The cover is audited, recorded on the case's timeline, and
the agency's supervisors are told through the outbox (who, which case; never the reason). It
ends when its time is up, or earlier with ``case cover --end`` (by the one covering, or by a
supervisor).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from harbour import events
from harbour.access import (
    Actor,
    agency_zone,
    audit,
    audit_access,
    cover_active,
    on_case,
    standing,
)
from harbour.app import App, UnitOfWork
from harbour.clock import local_time
from harbour.db.base import new_id
from harbour.db.models import Case, CaseCover, Staff
from harbour.domain import privilege
from harbour.domain.text import Note
from harbour.domain.vocab import CaseStatus, Role
from harbour.errors import Conflict, InvalidInput
from harbour.notify import hooks
from harbour.validation import parse, parse_key


class _CoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    reason: Note


@dataclass(frozen=True)
class Cover:
    """One cover of a case: who covers it and until when (the reason only where the case's
    details are shown)."""

    case: str  # the reference
    caseworker: str  # the handle of who covers it
    started_at: datetime
    ends_at: datetime
    ends_local: str
    ended: bool = False
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "case": self.case,
            "caseworker": self.caseworker,
            "started_at": self.started_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "ends_local": self.ends_local,
            "ended": self.ended,
        }
        if self.reason is not None:
            shown["reason"] = self.reason
        return shown


def start_cover(
    app: App,
    actor_handle: str | None,
    ref: str,
    reason: str | None,
    hours: int | None = None,
    idempotency_key: str | None = None,
) -> Cover:
    """Start covering a colleague's case of the actor's agency, for ``hours`` (the policy's
    default if None), with a reason. Sent again with its ``idempotency_key`` (a double click,
    a post retried), it is the cover it started, not a refusal (``_replay``)."""
    policy = app.reference.policy.cover
    if not reason or not reason.strip():
        raise InvalidInput([("--reason", "say why you cover the case (@FILE or -)")])
    data = parse(_CoverIn, {"reason": reason}, prefix="--")
    key = parse_key(idempotency_key)
    granted = privilege.cover_hours(hours, policy.default_hours, policy.max_hours)
    if granted is None:
        raise InvalidInput([("--hours", f"from 1 to {policy.max_hours}")])

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Cover:
        replayed = _replay(uow, actor, case, key, data.reason, granted)
        if replayed is not None:  # answered as the first time: its own row, not the access's
            return replayed
        audit_access(uow, actor, case, "case.cover")
        why = privilege.cover_refusal(standing(uow, actor, case))
        if why is not None:
            raise Conflict(f"cover_{why.value}", privilege.COVER_REFUSALS[why])
        if case.status == CaseStatus.CLOSED:
            raise Conflict("case_closed", "the case is closed: reopen it first")
        _hold_role(uow, actor)
        now = uow.now()
        cover = CaseCover(
            id=new_id(),
            case_id=case.id,
            staff_id=actor.staff_id,
            started_at=now,
            ends_at=now + timedelta(hours=granted),
            idempotency_key=key,
        )
        uow.seal(cover, "reason", data.reason)
        uow.session.add(cover)
        audit(uow, actor, "case.cover.start", case.id, hours=granted)
        events.record(uow, case.id, events.COVER_STARTED, cover.id, by=actor.handle, hours=granted)
        hooks.cover_started(uow, case, cover.id, actor.handle)
        return _shown(uow, case, cover, actor.handle)

    return on_case(app, actor_handle, ref, "case.cover", work, access_row=False)


def _replay(
    uow: UnitOfWork, actor: Actor, case: Case, key: str | None, reason: str, hours: int
) -> Cover | None:
    """The cover an earlier start with ``key`` started (audited as a replay), if there is one;
    refused if it was another's or for another reason or time, and if it is over (a stale form
    sent again starts nothing, and must not say it did). A twin sent at the same time finds it
    too: each start holds the case's row (``load_case``)."""
    if key is None:
        return None
    cover = uow.session.scalar(
        select(CaseCover).where(CaseCover.case_id == case.id, CaseCover.idempotency_key == key)
    )
    if cover is None:
        return None
    asked = (actor.staff_id, reason, timedelta(hours=hours))
    if (cover.staff_id, uow.unseal(cover, "reason"), cover.ends_at - cover.started_at) != asked:
        raise Conflict("idempotency_key_reused", "that key was used for another cover")
    if cover.ended_at is not None or cover.ends_at <= uow.now():
        raise Conflict("idempotency_key_spent", "that key started a cover that is over")
    audit(uow, actor, "case.cover.start.replayed", case.id, hours=hours)
    return _shown(uow, case, cover, actor.handle)


def _hold_role(uow: UnitOfWork, actor: Actor) -> None:
    """Hold the actor's account row until the cover is written, and check their role is still
    the one they act in: a role changed meanwhile ends the covers it finds (``end_covers_of``),
    and must not miss one being started (PostgreSQL; SQLite's writers queue anyway)."""
    held = uow.session.execute(
        select(Staff.role, Staff.active)
        .where(Staff.id == actor.staff_id)
        .with_for_update(read=True)
    ).one()
    if (held.role, held.active) != (actor.role, True):
        raise Conflict("role_changed", "your role changed as you asked: nothing was started")


def end_cover(app: App, actor_handle: str | None, ref: str) -> list[Cover]:
    """End the actor's running cover of the case; a supervisor ends every running cover of it."""

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> list[Cover]:
        now = uow.now()
        query = select(CaseCover, Staff.handle).join(Staff, Staff.id == CaseCover.staff_id)
        query = query.where(CaseCover.case_id == case.id, cover_active(now))
        if actor.role != Role.SUPERVISOR:
            query = query.where(CaseCover.staff_id == actor.staff_id)
        running = uow.session.execute(query.order_by(CaseCover.started_at)).all()
        if not running:
            raise Conflict("no_cover", "no cover of this case is running that you may end")
        ended = []
        for cover, handle in running:
            _end(uow, actor, cover, handle)
            ended.append(_shown(uow, case, cover, handle))
        return ended

    return on_case(app, actor_handle, ref, "case.cover", work)


def end_covers_of(uow: UnitOfWork, actor: Actor, staff: Staff) -> int:
    """End every running cover of a staff member whose role changed: a cover is a caseworker
    standing in, not something a coordinator or an admin keeps (it showed them the case's
    alerts). Audited on each case, as an ended cover is; how many."""
    running = uow.session.scalars(
        select(CaseCover).where(CaseCover.staff_id == staff.id, cover_active(uow.now()))
    ).all()
    for cover in running:
        _end(uow, actor, cover, staff.handle)
    return len(running)


def _end(uow: UnitOfWork, actor: Actor, cover: CaseCover, handle: str) -> None:
    cover.ended_at, cover.ended_by = uow.now(), actor.handle
    audit(uow, actor, "case.cover.end", cover.case_id, caseworker=handle)
    events.record(uow, cover.case_id, events.COVER_ENDED, cover.id, by=actor.handle)


def running_covers(uow: UnitOfWork, case: Case, *, with_reasons: bool) -> tuple[Cover, ...]:
    """The case's covers running now, oldest first; their reasons only if ``with_reasons``."""
    rows = uow.session.execute(
        select(CaseCover, Staff.handle)
        .join(Staff, Staff.id == CaseCover.staff_id)
        .where(CaseCover.case_id == case.id, cover_active(uow.now()))
        .order_by(CaseCover.started_at)
    ).all()
    return tuple(_shown(uow, case, cover, handle, with_reasons) for cover, handle in rows)


def _shown(
    uow: UnitOfWork, case: Case, cover: CaseCover, handle: str, with_reason: bool = False
) -> Cover:
    zone = agency_zone(uow, case.agency_id)
    return Cover(
        case=case.reference,
        caseworker=handle,
        started_at=cover.started_at,
        ends_at=cover.ended_at or cover.ends_at,
        ends_local=local_time(cover.ended_at or cover.ends_at, zone) or "-",
        ended=cover.ended_at is not None,
        reason=uow.unseal(cover, "reason") if with_reason else None,
    )
