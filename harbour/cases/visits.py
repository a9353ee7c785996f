"""Staff visits in the community: tell a colleague where you go and when you will be back.

A visit records who goes (the actor), optionally for which case, where (sealed, like any
identifying field), their check-in buddy (by default a supervisor of the agency, one on call
first), when they expect to be back and whether an escort was arranged. Not back by that time
plus the policy's ``visit_check_in_grace``, the relay raises an alert to the buddy that climbs to
the supervisors, on-call, then the admins (``harbour.notify.visit_checks``). Checking in (``back``) or asking for
more time (``extend``) takes that alert as the visitor's own acknowledgement. A visitor who cannot
check in (a phone dead, an account deactivated while out) is recorded back by a supervisor they
reached some other way (``record_back``), with a reason sealed like a cover's. Where a visit went
(and that reason) is shown only to the visitor, their buddy, supervisors, on-call staff and an
admin its alert paged (whoever is paged must know where to send help), and every such read is
audited.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from harbour.access import (
    Actor,
    agency_zone,
    audit,
    authorize,
    load_case,
    refuse_missing,
    resolve_actor,
)
from harbour.app import App, UnitOfWork
from harbour.clock import local_time
from harbour.db import used_keys
from harbour.db.models import Alert, Case, Staff, Visit
from harbour.domain import privilege, refs
from harbour.domain.moments import parse_moment
from harbour.domain.text import Note, check_line, is_handle
from harbour.domain.vocab import Role
from harbour.errors import Conflict, InvalidInput
from harbour.notify import alerts, visit_checks
from harbour.validation import parse, parse_key

LONGEST = timedelta(hours=16)  # a visit expected back later than this is a typing slip
MAX_EXTEND = 240  # minutes
LOCATION_MAX = 300
# The actions whose keys are kept (``harbour.db.used_keys``), scoped to the staff member.
EXTEND, BACK, RECORD_BACK = "visit.extend", "visit.back", "visit.record_back"
SHARED_PREFIX_MAX = 20  # visits one typed id prefix (8 hex digits at least) is looked up among


@dataclass(frozen=True)
class VisitView:
    """A visit as staff see it. ``location`` is None unless the reader may see where it went
    (and asked: ``harbour visit show``)."""

    id: str
    visitor: str
    buddy: str | None
    case_reference: str | None
    escort: bool
    started_at: datetime
    expected_back_at: datetime
    deadline_at: datetime
    back_at: datetime | None
    extensions: int
    alert_id: str | None
    overdue: bool
    zone: ZoneInfo
    may_see_where: bool  # the reader may ask where it went (``show_visit``); not shown in JSON
    location: str | None = None
    # Whom its alert would page first, as the visit starts (``alerts.visit_first_paged``):
    # the tier's name ("buddy", "supervisors", ...; "" for nobody) and its people.
    alerted_as: str | None = None
    alerted: tuple[str, ...] = ()
    recorded_by: str | None = None  # the supervisor who recorded the visitor back, if one did
    may_record_back: bool = False  # the reader may record the visitor back; not in JSON
    back_reason: str | None = None  # how they knew, shown with where it went

    def as_json(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        shown: dict[str, Any] = {
            "visit": self.id,
            "visitor": self.visitor,
            "buddy": self.buddy,
            "case": self.case_reference,
            "escort": self.escort,
            "started_at": moment(self.started_at),
            "expected_back_at": moment(self.expected_back_at),
            "deadline_at": moment(self.deadline_at),
            "back_at": moment(self.back_at),
            "recorded_by": self.recorded_by,
            "extensions": self.extensions,
            "alert": self.alert_id,
            "overdue": self.overdue,
        }
        if self.alerted_as is not None:
            shown |= {"alerted_as": self.alerted_as or None, "alerted": list(self.alerted)}
        if self.location is not None:
            shown["location"] = self.location
        if self.back_reason is not None:
            shown["back_reason"] = self.back_reason
        return shown

    def local(self, moment: datetime | None) -> str:
        return local_time(moment, self.zone) if moment else "-"


def start_visit(
    app: App,
    actor_handle: str | None,
    *,
    back_at: str,
    location: str | None = None,
    buddy: str | None = None,
    case_ref: str | None = None,
    escort: bool = False,
    idempotency_key: str | None = None,
) -> VisitView:
    """Start the actor's visit, expected back at ``back_at`` (see ``harbour.domain.moments``).

    Refused if the actor has a visit not yet back, or the buddy is not active staff of the
    agency (or the visitor). Without ``buddy``, a supervisor other than the visitor: one on call
    first, then any (each by handle); with none, the alert starts with the first tier after the buddy with
    someone in it but the visitor. The view says whom it would page first (``alerted``). Sent again with
    its ``idempotency_key`` (a double click, a post retried), it is the visit it started
    (``_replay``), not a refusal.
    """
    key = parse_key(idempotency_key)

    def work(uow: UnitOfWork) -> VisitView:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "visit.start")
        now, zone = uow.now(), agency_zone(uow, actor.agency_id)
        expected = _expected(back_at, zone, now)
        where = _location(location)
        partner = _buddy(uow, actor, buddy)
        case = load_case(uow, actor, case_ref, "case.read") if case_ref else None
        is_open = _open_visit(uow, actor) is not None
        asked = (where, partner.id if partner else None, case.id if case else None, escort)
        if (replayed := _replay(uow, actor, key, asked, expected)) is not None:
            return _with_alerted(uow, actor, _view(uow, actor, replayed, zone))
        if is_open:
            raise Conflict("visit_open", "you have a visit not checked in: harbour visit back")
        visit = Visit(
            agency_id=actor.agency_id,
            staff_id=actor.staff_id,
            buddy_id=partner.id if partner else None,
            case_id=case.id if case else None,
            escort=escort,
            started_at=now,
            expected_back_at=expected,
            deadline_at=expected + _grace(uow),
            extensions=0,
            idempotency_key=key,
        )
        uow.session.add(visit)
        uow.session.flush()
        uow.seal(visit, "location", where)
        audit(uow, actor, "visit.start", visit.case_id, visit_id=visit.id, escort=escort)
        return _with_alerted(uow, actor, _view(uow, actor, visit, zone))

    return app.run(work)


def _with_alerted(uow: UnitOfWork, actor: Actor, view: VisitView) -> VisitView:
    tier, people = alerts.visit_first_paged(uow, actor.agency_id, actor.handle, view.buddy)
    return replace(view, alerted_as=tier, alerted=tuple(people))


def check_in(
    app: App,
    actor_handle: str | None,
    idempotency_key: str | None = None,
    of_visit: str | None = None,
) -> VisitView:
    """The actor is back: their open visit ends, and its overdue alert (if any) stops; whoever
    it paged is told they are back safe (``visit_checks.stand_down``). Sent
    again with its ``idempotency_key`` (a double click on "I'm back"), it is the check-in it
    recorded, answered alike, while no visit is out since; then spent (``harbour.db.used_keys``:
    a twin sent at once waits for the first, each holding the actor's row, ``_open_visit``).
    ``of_visit``: the visit a form was shown for (``_of_the_visit_out``)."""
    key = parse_key(idempotency_key)

    def work(uow: UnitOfWork) -> VisitView:
        actor, visit = _own(uow, actor_handle)
        zone = agency_zone(uow, actor.agency_id)
        found = used_keys.replayed(
            uow.session,
            BACK,
            actor.staff_id,
            key,
            lambda _: visit is None,  # the visit it ended is back; none out since
            "that key checked in from a visit, and another visit was started since",
        )
        if found is not None:
            done = uow.session.get_one(Visit, found)
            audit(uow, actor, "visit.back.replayed", done.case_id, visit_id=done.id)
            return _view(uow, actor, done, zone)
        _of_the_visit_out(visit, of_visit)
        visit = _out(uow, actor, visit)
        visit.back_at = uow.now()
        _settle_alert(uow, actor, visit)
        visit_checks.stand_down(uow, visit, also=[], but=actor.handle)
        used_keys.record(uow.session, uow.now(), BACK, actor.staff_id, key, visit.id)
        audit(uow, actor, "visit.back", visit.case_id, visit_id=visit.id)
        return _view(uow, actor, visit, zone)

    return app.run(work)


def extend(
    app: App,
    actor_handle: str | None,
    minutes: int = 30,
    idempotency_key: str | None = None,
    of_visit: str | None = None,
) -> VisitView:
    """The actor needs ``minutes`` more (from the time they gave, or from now if that has
    passed): a new deadline, and its overdue alert (if any) stops, since they checked in. Sent
    again with its ``idempotency_key`` (a double click), it is that extend, answered alike, while
    it is the latest extend of the visit still out, and refused with another number of minutes;
    then spent (``harbour.db.used_keys``): an earlier form sent again after a later extend, or
    once its visit is back (another visit out), changes nothing. A twin sent at once waits for the first: each holds the actor's row
    (``_open_visit``). ``of_visit``: the visit a form was shown for (``_of_the_visit_out``)."""
    if not 1 <= minutes <= MAX_EXTEND:
        raise InvalidInput([("--minutes", f"from 1 to {MAX_EXTEND}")])
    key = parse_key(idempotency_key)

    def work(uow: UnitOfWork) -> VisitView:
        actor, visit = _own(uow, actor_handle)
        zone = agency_zone(uow, actor.agency_id)
        found = used_keys.replayed(
            uow.session,
            EXTEND,
            actor.staff_id,
            key,
            lambda visit_id: visit is not None and visit.id == visit_id,
            "that key gave more time since given again, or to a visit that is back",
            asked=str(minutes),
            reused="that key gave another number of minutes",
        )
        _of_the_visit_out(visit, of_visit)
        visit = _out(uow, actor, visit)
        if found is not None:
            audit(uow, actor, "visit.extend.replayed", visit.case_id, visit_id=visit.id)
            return _view(uow, actor, visit, zone)
        now = uow.now()
        _settle_alert(uow, actor, visit)
        visit.expected_back_at = max(visit.expected_back_at, now) + timedelta(minutes=minutes)
        visit.deadline_at = visit.expected_back_at + _grace(uow)
        visit.extensions += 1
        visit.alert_id = None  # the new deadline alerts afresh if it passes too
        used_keys.record(uow.session, now, EXTEND, actor.staff_id, key, visit.id, str(minutes))
        audit(uow, actor, "visit.extend", visit.case_id, visit_id=visit.id, minutes=minutes)
        return _view(uow, actor, visit, zone)

    return app.run(work)


class _ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    reason: Note


def record_back(
    app: App,
    actor_handle: str | None,
    visit_id: str,
    reason: str | None,
    idempotency_key: str | None = None,
) -> VisitView:
    """A supervisor records a colleague's visit back: the visitor reached them some other way
    (a phone dead, an account deactivated while out), and only the visitor can check in. The
    visit ends as ``check_in`` ends it, its alert (if any) taken by the supervisor; ``reason``
    (how they know) is sealed like a cover's, and the act audited. Refused for one's own visit
    (``harbour visit back``) and for a visit already back, saying how it ended. Sent again with
    its ``idempotency_key`` (a double click), it is the record it made, answered alike."""
    if not reason or not reason.strip():
        raise InvalidInput([("--reason", "say how you know they are back (@FILE or -)")])
    data = parse(_ReasonIn, {"reason": reason}, prefix="--")
    typed = _typed_id(visit_id)
    key = parse_key(idempotency_key)

    def work(uow: UnitOfWork) -> VisitView:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, RECORD_BACK)
        visit = _one_of_agency(uow, actor, typed, RECORD_BACK, lambda _: True)
        if visit.staff_id == actor.staff_id:
            raise Conflict("own_visit", "this is your own visit: harbour visit back")
        visit = _held(uow, visit)
        zone = agency_zone(uow, actor.agency_id)
        found = used_keys.replayed(
            uow.session,
            RECORD_BACK,
            actor.staff_id,
            key,
            lambda _: True,
            "that key recorded a visit back before another",
            asked=visit.id,
            reused="that key recorded another visit back",
        )
        if found is not None:
            audit(uow, actor, "visit.back.recorded.replayed", visit.case_id, visit_id=visit.id)
            return _view(uow, actor, visit, zone)
        if visit.back_at is not None:
            raise Conflict("visit_back", f"the visit is back already: {_how_back(visit, zone)}")
        visit.back_at = uow.now()
        visit.back_recorded_by = actor.handle
        uow.seal(visit, "back_reason", data.reason)
        _settle_alert(uow, actor, visit)
        buddy = uow.session.scalar(select(Staff.handle).where(Staff.id == visit.buddy_id))
        visit_checks.stand_down(uow, visit, also=[buddy] if buddy else [], but=actor.handle)
        used_keys.record(
            uow.session, uow.now(), RECORD_BACK, actor.staff_id, key, visit.id, visit.id
        )
        audit(uow, actor, "visit.back.recorded", visit.case_id, visit_id=visit.id)
        return _view(uow, actor, visit, zone)

    return app.run(work)


def visit_to_record_back(app: App, actor_handle: str | None, visit_id: str) -> VisitView:
    """The visit a supervisor's "record them back" page is for (never where it went), as
    ``list_visits`` shows it (a listed read, audited alike); anyone else's answers as missing."""
    typed = _typed_id(visit_id)

    def work(uow: UnitOfWork) -> VisitView:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, RECORD_BACK)
        visit = _one_of_agency(uow, actor, typed, RECORD_BACK, lambda _: True)
        audit(uow, actor, "visit.list", count=1)
        return _view(uow, actor, visit, agency_zone(uow, actor.agency_id))

    return app.run(work)


def _held(uow: UnitOfWork, visit: Visit) -> Visit:
    """The visit, read again once its visitor's row and its own are held, as ``_open_visit``
    holds them: of a check-in (or more time) and a record back at once, the second sees the
    first, and the relay's pass skips the visit rather than raise an alert this record would
    not see (PostgreSQL; SQLite's writers queue anyway)."""
    held = select(Staff.id).where(Staff.id == visit.staff_id).with_for_update()
    uow.session.execute(held)
    uow.session.refresh(visit, with_for_update={"key_share": True})
    return visit


def _how_back(visit: Visit, zone: ZoneInfo) -> str:
    at = local_time(visit.back_at, zone)
    if visit.back_recorded_by:
        return f"recorded back by {visit.back_recorded_by} at {at}"
    return f"checked in at {at}"


def list_visits(
    app: App, actor_handle: str | None, *, include_back: bool = False, limit: int = 50
) -> list[VisitView]:
    """Visits the actor may see, newest first (supervisors and on-call staff: the agency's; the
    others: their own and those they are buddy for); without where they went."""

    def work(uow: UnitOfWork) -> list[VisitView]:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "visit.read")
        query = _listed_to(uow, actor)
        if not include_back:
            query = query.where(Visit.back_at.is_(None))
        rows = uow.session.scalars(query.order_by(Visit.started_at.desc(), Visit.id).limit(limit))
        zone = agency_zone(uow, actor.agency_id)
        shown = [_view(uow, actor, visit, zone) for visit in rows]
        audit(uow, actor, "visit.list", count=len(shown))
        return shown

    return app.run(work)


def show_visit(app: App, actor_handle: str | None, visit_id: str) -> VisitView:
    """One visit with where it went, for the visitor, their buddy, supervisors, on-call staff and an
    admin its alert paged; audited. Anyone else (and another agency's visit) is answered as a
    missing one."""
    typed = _typed_id(visit_id)

    def work(uow: UnitOfWork) -> VisitView:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "visit.read")
        visit = _one_of_agency(
            uow, actor, typed, "visit.read", lambda v: _may_see_where(uow, actor, v)
        )
        audit(uow, actor, "visit.read", visit.case_id, visit_id=visit.id)
        view = _view(uow, actor, visit, agency_zone(uow, actor.agency_id))
        where, why = uow.unseal(visit, "location") or "", uow.unseal(visit, "back_reason")
        return replace(view, location=where, back_reason=why)

    return app.run(work)


def _typed_id(visit_id: str) -> str:
    typed = visit_id.strip().lower()
    if not (8 <= len(typed) <= 32 and all(c in "0123456789abcdef" for c in typed)):
        raise InvalidInput([("VISIT_ID", "not a visit id (at least 8 hex characters)")])
    return typed


def _one_of_agency(uow: UnitOfWork, actor: Actor, typed: str, action: str, may: Any) -> Visit:
    """The one visit of the actor's agency whose id starts with ``typed`` and that ``may``
    says the actor may see; anyone else's is answered as a missing one (audited)."""
    matching = uow.session.scalars(
        select(Visit)
        .where(Visit.agency_id == actor.agency_id, Visit.id.startswith(typed))
        .limit(SHARED_PREFIX_MAX)
    ).all()
    # Only the visits the actor may see count: "more than one" about hidden ones would tell
    # them those exist.
    found = [v for v in matching if may(v)]
    if len(found) > 1:
        raise InvalidInput([("VISIT_ID", "matches more than one visit; type more of it")])
    if not found:
        refuse_missing(uow, actor, action, "visit_not_found", "no such visit")
    return found[0]


def visit_of_alert(app: App, actor_handle: str | None, alert_id: str) -> VisitView | None:
    """The visit an overdue alert is about, as ``list_visits`` shows it to the actor (never
    where it went; ``may_see_where`` says whether they may ask), for the alert's page: whoever
    the alert woke must learn whose visit it is and where to send help. None for an alert of no
    visit of theirs to see (or no visit's current alert); listed reads are audited alike."""

    def work(uow: UnitOfWork) -> VisitView | None:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "visit.read")
        visit = uow.session.scalar(_listed_to(uow, actor).where(Visit.alert_id == alert_id))
        if visit is None:
            return None
        audit(uow, actor, "visit.list", count=1)
        return _view(uow, actor, visit, agency_zone(uow, actor.agency_id))

    return app.run(work)


@dataclass(frozen=True)
class Buddies:
    """Whom the actor may name as their check-in buddy, and who it is when they name nobody."""

    handles: tuple[str, ...]
    default: str | None


def buddy_choices(app: App, actor_handle: str | None) -> Buddies:
    """The actor's active colleagues (by handle) and the default buddy ``start_visit`` takes
    (a supervisor), for a form that offers them; handles only, nothing else of them."""

    def work(uow: UnitOfWork) -> Buddies:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "visit.start")
        found = uow.session.scalars(_colleagues(actor).order_by(Staff.handle)).all()
        default = _buddy(uow, actor, None)
        return Buddies(tuple(s.handle for s in found), default.handle if default else None)

    return app.run(work)


def _expected(back_at: str, zone: ZoneInfo, now: datetime) -> datetime:
    try:
        expected = parse_moment(back_at, zone, now, "future")
    except ValueError as exc:
        raise InvalidInput([("--back-at", str(exc))]) from None
    if expected - now > LONGEST:  # a bare clock time gone by today is read as tomorrow's
        read = local_time(expected, zone)
        raise InvalidInput([("--back-at", f"must be within 16 hours of now (read as {read})")])
    return expected


def _location(location: str | None) -> str | None:
    if location is None or location == "":
        return None
    try:
        return check_line(location, LOCATION_MAX)
    except ValueError as exc:
        raise InvalidInput([("--where", str(exc))]) from None


def _grace(uow: UnitOfWork) -> timedelta:
    return uow.reference.policy.visit_check_in_grace.delta


def _colleagues(actor: Actor) -> Any:
    return select(Staff).where(
        Staff.agency_id == actor.agency_id, Staff.active.is_(True), Staff.id != actor.staff_id
    )


def _buddy(uow: UnitOfWork, actor: Actor, handle: str | None) -> Staff | None:
    staff = _colleagues(actor)
    if handle is None:  # a supervisor on call first (awake to answer), then any, by handle
        supervisors = staff.where(Staff.role == Role.SUPERVISOR)
        first = supervisors.order_by(Staff.on_call.desc(), Staff.handle).limit(1)
        return uow.session.scalars(first).first()
    found = uow.session.scalar(staff.where(Staff.handle == handle)) if is_handle(handle) else None
    if found is None:
        raise InvalidInput([("--buddy", "not an active colleague in your agency (nor yourself)")])
    return found


def _open_visit(uow: UnitOfWork, actor: Actor) -> Visit | None:
    """The actor's visit not yet back, to change it (or to start one when there is none). The
    actor's staff row and that visit are held until the transaction ends: a person's visits
    change one at a time, and the relay's pass skips a visit being changed (PostgreSQL;
    SQLite's writers queue anyway); a deactivation or a record back holding that row first is
    waited for and seen."""
    held = select(Staff.active).where(Staff.id == actor.staff_id).with_for_update(key_share=True)
    if not uow.session.scalar(held):  # deactivated as this began (``staffing._refuse_if_out``)
        raise Conflict("account_deactivated", "your account was deactivated: nothing was done")
    return uow.session.scalar(
        select(Visit)
        .where(Visit.staff_id == actor.staff_id, Visit.back_at.is_(None))
        .limit(1)
        .with_for_update(key_share=True)
    )


def _replay(
    uow: UnitOfWork, actor: Actor, key: str | None, asked: tuple[Any, ...], expected: datetime
) -> Visit | None:
    """The visit an earlier start with ``key`` started (audited as a replay), if there is one;
    refused if it went elsewhere, with another buddy, case, escort or time (or was given more
    time since), and if it is back (a stale form sent again starts nothing, and must not say it
    did). A twin sent at the same time finds it: each start holds the actor's row
    (``_open_visit``)."""
    if key is None:
        return None
    visit = uow.session.scalar(
        select(Visit).where(Visit.staff_id == actor.staff_id, Visit.idempotency_key == key)
    )
    if visit is None:
        return None
    held = (uow.unseal(visit, "location"), visit.buddy_id, visit.case_id, visit.escort)
    if held != asked or visit.expected_back_at != expected:
        raise Conflict("idempotency_key_reused", "that key was used for another visit")
    if visit.back_at is not None:
        raise Conflict("idempotency_key_spent", "that key started a visit that is over")
    audit(uow, actor, "visit.start.replayed", visit.case_id, visit_id=visit.id)
    return visit


def _own(uow: UnitOfWork, actor_handle: str | None) -> tuple[Actor, Visit | None]:
    """The actor, and their visit out if any, held (``_open_visit``)."""
    actor = resolve_actor(uow, actor_handle)
    authorize(uow, actor, "visit.start")
    return actor, _open_visit(uow, actor)


def _out(uow: UnitOfWork, actor: Actor, visit: Visit | None) -> Visit:
    """The actor's visit out, or "you have no visit out" (audited)."""
    if visit is None:
        refuse_missing(uow, actor, "visit.back", "no_open_visit", "you have no visit out")
    return visit


def _of_the_visit_out(visit: Visit | None, of_visit: str | None) -> None:
    """A form shown for visit ``of_visit`` (the page of a visit out, left open in another tab or
    come back to) acts on that visit only: once it is back, whether or not the form's key was
    ever used, the form changes nothing, and never ends, or gives time to, a visit started
    since."""
    if of_visit is not None and (visit is None or visit.id != of_visit):
        raise Conflict("idempotency_key_spent", "that form was of a visit that is back")


def _settle_alert(uow: UnitOfWork, actor: Actor, visit: Visit) -> None:
    alert = uow.session.get(Alert, visit.alert_id) if visit.alert_id else None
    if alert is not None and alerts.close(uow, alert, actor.handle):
        audit(uow, actor, "alert.ack", visit.case_id, alert_id=alert.id, tier=alert.tier)


def _listed_to(uow: UnitOfWork, actor: Actor) -> Any:
    """The visits ``list_visits`` shows the actor: the agency's to those who see them all, else
    their own and those they are buddy for."""
    query = select(Visit).where(Visit.agency_id == actor.agency_id)
    if _sees_all(uow, actor):
        return query
    return query.where(or_(Visit.staff_id == actor.staff_id, Visit.buddy_id == actor.staff_id))


def _sees_all(uow: UnitOfWork, actor: Actor) -> bool:
    """Supervisors, admins and on-call staff see every visit of their agency."""
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    return bool(uow.session.scalar(select(Staff.on_call).where(Staff.id == actor.staff_id)))


def _may_see_where(uow: UnitOfWork, actor: Actor, visit: Visit) -> bool:
    if actor.staff_id in (visit.staff_id, visit.buddy_id):
        return True
    if actor.role == Role.SUPERVISOR or _paged_about(uow, actor, visit):
        return True
    return bool(uow.session.scalar(select(Staff.on_call).where(Staff.id == actor.staff_id)))


def _paged_about(uow: UnitOfWork, actor: Actor, visit: Visit) -> bool:
    """Whether the visit's overdue alert paged the actor (its last tier: the admins)."""
    alert = uow.session.get(Alert, visit.alert_id) if visit.alert_id else None
    return alert is not None and alerts.paged_to(uow, alert, actor.handle)


def _view(uow: UnitOfWork, actor: Actor, visit: Visit, zone: ZoneInfo) -> VisitView:
    """The visit as ``actor`` sees it: its alert only if they may see that alert (on-call staff
    see every visit, but an alert only once it has paged them), so a link to it never answers
    "not found"; and whether they may ask where it went, so a page offers it to them alone."""
    visitor, buddy = aliased(Staff), aliased(Staff)
    handles = uow.session.execute(
        select(visitor.handle, buddy.handle, Case.reference)
        .select_from(Visit)
        .join(visitor, visitor.id == Visit.staff_id)
        .outerjoin(buddy, buddy.id == Visit.buddy_id)
        .outerjoin(Case, Case.id == Visit.case_id)
        .where(Visit.id == visit.id)
    ).one()
    now = uow.now()
    return VisitView(
        id=visit.id,
        visitor=handles[0],
        buddy=handles[1],
        case_reference=refs.short_form(handles[2]) if handles[2] else None,
        escort=visit.escort,
        started_at=visit.started_at,
        expected_back_at=visit.expected_back_at,
        deadline_at=visit.deadline_at,
        back_at=visit.back_at,
        extensions=visit.extensions,
        alert_id=visit.alert_id if alerts.sees(uow, actor, visit.alert_id) else None,
        overdue=visit.back_at is None and visit.deadline_at <= now,
        zone=zone,
        may_see_where=_may_see_where(uow, actor, visit),
        recorded_by=visit.back_recorded_by,
        may_record_back=visit.back_at is None
        and actor.staff_id != visit.staff_id
        and privilege.permitted(actor.role, RECORD_BACK),
    )
