"""Referrals: what a coordinator records when a youth is referred, and the case it starts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from harbour import events
from harbour.access import (
    Actor,
    agency_zone,
    audit,
    audit_event,
    authorize,
    caseworker,
    today_in,
)
from harbour.app import App, UnitOfWork
from harbour.cases import duplicates, schedule
from harbour.cases.duplicates import Existing, Keyed, LikelyDuplicate
from harbour.cases.reads import Assignee, least_loaded_caseworker, set_at_risk, set_situation
from harbour.db.base import new_id
from harbour.db.models import PERSON_FIELDS, Case, Person, ThreatSource
from harbour.domain.text import (
    Address,
    Handle,
    Name,
    Note,
    PastDate,
    Phone,
    PlausibleDate,
    ShortText,
)
from harbour.domain.vocab import CaseStatus, PersonAtRisk, PersonKind, Situation, ThreatKind
from harbour.errors import Conflict, InvalidInput
from harbour.validation import option_name, parse, parse_key

MAX_PEOPLE = 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class YouthIn(_Strict):
    name: Name
    preferred_name: Name | None = None
    date_of_birth: PastDate | None = None
    phone: Phone | None = None
    address: Address | None = None
    notes: Note | None = None


class FamilyIn(_Strict):
    name: Name
    relationship: ShortText
    phone: Phone | None = None
    address: Address | None = None
    caretaker: bool = False
    non_offending: bool = Field(False, description="True only when staff know they are safe.")
    approved_by_youth: bool = Field(
        False, description="The youth agrees to have them on the plan as a contact."
    )


class ContactIn(_Strict):
    name: Name
    relationship: ShortText | None = None
    phone: Phone | None = None
    approved_by_youth: bool = True


class ThreatIn(_Strict):
    kind: ThreatKind
    name: Name | None = None
    description: Note | None = None
    protective_order: bool = False
    protective_order_expires_on: PlausibleDate | None = None
    protective_order_details: ShortText | None = None


class Referral(_Strict):
    """A referral, as a JSON or YAML file for ``harbour refer --file``."""

    youth: YouthIn
    situation: Situation
    persons_at_risk: list[PersonAtRisk] = Field(
        default_factory=lambda: [PersonAtRisk.YOUTH], max_length=3
    )
    family: list[FamilyIn] = Field(default_factory=list, max_length=MAX_PEOPLE)
    trusted_contacts: list[ContactIn] = Field(default_factory=list, max_length=MAX_PEOPLE)
    threats: list[ThreatIn] = Field(default_factory=list, max_length=MAX_PEOPLE)
    referral_source: ShortText | None = None
    caseworker: Handle | None = Field(None, description="Assign now; otherwise the agency's rule.")

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def checked_orders(self) -> Referral:
        """The referral, refused if a threat source's order is described but not said to exist."""
        for number, threat in enumerate(self.threats):
            check_order(threat.model_dump(), where=f"threats.{number}.")
        return self


def check_order(state: dict[str, Any], *, taken_off: bool = False, where: str = "") -> None:
    """An expiry date or details describe a protective order: there must be one (``taken_off``:
    this change takes the order off, so what describes it goes too). ``where``: the fields sit
    in a referral's file (``threats.0.``); otherwise they are command-line options. A date
    without an order would be shown but never reminded of (the sweep watches orders)."""
    if state.get("protective_order"):
        return
    for field in ("protective_order_expires_on", "protective_order_details"):
        if state.get(field) is not None:
            name = f"{where}{field}" if where else option_name(field)
            said = f"{where}protective_order: true" if where else "--protective-order"
            reason = (
                f"describes the order being taken off: empty it too (--clear {name[2:]})"
                if taken_off
                else f"describes a protective order: say {said} too"
            )
            raise InvalidInput([(name, reason)])


@dataclass(frozen=True)
class Referred:
    """The case a referral started (or, repeated with its key, had started): no content.
    ``duplicate_of`` names the agency's cases likely of the same youth, when the referral was
    made anyway (``allow_duplicate``)."""

    id: str
    reference: str
    status: str
    duplicate_of: tuple[Existing, ...] = ()

    def as_json(self) -> dict[str, object]:
        shown: dict[str, object] = {"case": self.reference, "status": self.status}
        if self.duplicate_of:
            shown["likely_duplicates"] = [e.as_json() for e in self.duplicate_of]
        return shown


def refer(
    app: App,
    actor_handle: str | None,
    data: object,
    idempotency_key: str | None,
    *,
    allow_duplicate: bool = False,
) -> Referred:
    """Validate a referral, then create its case once (safe to repeat with the same key).

    Raises:
        LikelyDuplicate: the agency has a case of the same youth (loose name and birth date)
            and ``allow_duplicate`` is not set; nothing is written but the refusal's audit row.
    """
    # Validated once, before the transaction, where it can be: no agency's today is before
    # yesterday in UTC, so dates that pass against it pass against the agency's today too.
    # Otherwise (a date of birth today, say) it is refused here if malformed, and its dates
    # are checked against the agency's today once its zone is read.
    floor = app.clock.now().astimezone(UTC).date() - timedelta(days=1)
    try:
        checked: Referral | None = parse(Referral, data, today=floor).checked_orders()
    except InvalidInput:
        parse(Referral, data, today=date.max).checked_orders()
        checked = None
    idempotency_key = parse_key(idempotency_key)

    def work(uow: UnitOfWork) -> Referred:
        from harbour.access import resolve_actor

        actor = resolve_actor(uow, actor_handle)
        # The agency's zone, looked up once: the date of birth is checked against today
        # there, and the initial assessment falls due by its clock.
        zone = agency_zone(uow, actor.agency_id)
        referral = checked or parse(Referral, data, today=today_in(uow, zone))
        authorize(uow, actor, "case.refer")
        return _create_or_replay(uow, actor, referral, zone, idempotency_key, allow_duplicate)

    try:
        return app.run(work)
    except IntegrityError:
        # The key was used since it was looked up (a concurrent twin that won the race, the
        # unique (agency, key) index tells): again, to answer as the replay it now is.
        if idempotency_key is None:
            raise
        return app.run(work)


def _create_or_replay(
    uow: UnitOfWork,
    actor: Actor,
    referral: Referral,
    zone: ZoneInfo,
    key: str | None,
    allow: bool,
) -> Referred:
    youth = referral.youth
    if key is None:
        alike = duplicates.likely(uow, actor, youth.name, youth.date_of_birth)
    else:  # the likely duplicates and the case this key started, by one statement
        alike, keyed = duplicates.likely_or_keyed(uow, actor, youth.name, youth.date_of_birth, key)
        if keyed is not None:  # a repeat of a referral: a replay, not a duplicate
            return _replay(uow, actor, referral, keyed)
    if alike and not allow:
        details = {"likely_duplicates": [e.reference for e in alike]}
        refused = audit_event(
            uow, actor.handle, actor.agency_id, None, "case.refer", "likely_duplicate", details
        )
        uow.record_after_rollback(refused)
        raise LikelyDuplicate(alike)
    # The case has its caseworker and its initial assessment from the moment it exists, whatever
    # runs the follow-through (which then only tells the caseworker).
    assigned = _assignee(uow, actor, referral)  # looked up before the case is written
    with uow.inserting():  # the case and everything it starts with: all new
        case = _new_case(uow, actor, referral, zone, key, assigned)
        duplicates.index(uow, case, youth.name, youth.date_of_birth, new_case=True)
        shown = {"likely_duplicates": [e.reference for e in alike]} if alike else {}
        audit(uow, actor, "case.refer", case.id, **shown)
        # Ids only: the youth's situation ("considering leaving") is sealed on the case.
        events.record_new(uow, case.id, events.CASE_REFERRED, case.id)
        if assigned is not None:  # told by the initial-contact step, like any assignment
            if referral.caseworker is None:  # by the agency's rule
                audit(uow, None, "case.assign", case.id, caseworker=assigned.handle)
            events.record_new(
                uow, case.id, events.CASE_ASSIGNED, new_id(), caseworker=assigned.handle
            )
    return Referred(case.id, case.reference, case.status, alike)


def _replay(uow: UnitOfWork, actor: Actor, referral: Referral, existing: Keyed) -> Referred:
    """The case an earlier referral with the same key started (audited as a replay); refused if
    that referral said something else."""
    digest = uow.unseal_token(existing.intake_digest_sealed, "cases", existing, "intake_digest")
    if digest != referral.digest():
        raise Conflict("idempotency_key_reused", "that key was used for another referral")
    audit(uow, actor, "case.refer.replayed", existing.id)
    return Referred(existing.id, existing.reference, existing.status)


def _assignee(uow: UnitOfWork, actor: Actor, referral: Referral) -> Assignee | None:
    """The caseworker the referral names, else the agency's rule's (None: it has none)."""
    if referral.caseworker is None:
        return least_loaded_caseworker(uow, actor.agency_id)
    staff = caseworker(uow, actor.agency_id, referral.caseworker)
    if staff is None:
        raise InvalidInput([("caseworker", "no active caseworker with that handle in your agency")])
    return Assignee(staff.id, staff.handle)


def _new_case(
    uow: UnitOfWork,
    actor: Actor,
    referral: Referral,
    zone: ZoneInfo,
    key: str | None,
    assigned: Assignee | None,
) -> Case:
    now = uow.now()
    case = Case(
        reference=uow.app.references(),
        agency_id=actor.agency_id,
        status=CaseStatus.REFERRED,
        intake_key=key,
        created_at=now,
        updated_at=now,
    )
    case.caseworker_id = assigned.id if assigned is not None else None
    uow.seal(case, "intake_digest", referral.digest())
    uow.seal(case, "referral_source", referral.referral_source)
    set_situation(uow, case, referral.situation)
    set_at_risk(uow, case, referral.persons_at_risk)
    uow.add(case)
    for row in _people(uow, case, referral):
        uow.add(row)
    for position, threat in enumerate(referral.threats):
        uow.add(_threat(uow, case, position, threat))
    schedule.open_initial_new(uow, case, zone)
    return case


def _people(uow: UnitOfWork, case: Case, referral: Referral) -> list[Person]:
    youth = referral.youth
    rows = [
        _person(
            uow,
            case,
            0,
            PersonKind.YOUTH,
            name=youth.name,
            preferred_name=youth.preferred_name,
            date_of_birth=youth.date_of_birth.isoformat() if youth.date_of_birth else None,
            phone=youth.phone,
            address=youth.address,
            notes=youth.notes,
        ),
    ]
    for member in referral.family:
        kind = PersonKind.CARETAKER if member.caretaker else PersonKind.FAMILY_MEMBER
        row = _person(
            uow,
            case,
            len(rows),
            kind,
            name=member.name,
            relationship=member.relationship,
            phone=member.phone,
            address=member.address,
        )
        row.non_offending = member.non_offending
        row.approved_by_youth = member.approved_by_youth
        rows.append(row)
    for contact in referral.trusted_contacts:
        row = _person(
            uow,
            case,
            len(rows),
            PersonKind.TRUSTED_CONTACT,
            name=contact.name,
            relationship=contact.relationship,
            phone=contact.phone,
        )
        row.approved_by_youth = contact.approved_by_youth
        rows.append(row)
    return rows


def _person(
    uow: UnitOfWork, case: Case, position: int, kind: PersonKind, **fields: str | None
) -> Person:
    """Every field sealed, the absent as None, and both flags set: rows with the same columns
    are written by one multi-row INSERT."""
    person = Person(
        case_id=case.id, kind=kind, position=position, non_offending=False, approved_by_youth=False
    )
    for name in PERSON_FIELDS:
        uow.seal(person, name, fields.get(name))
    return person


def _threat(uow: UnitOfWork, case: Case, position: int, threat: ThreatIn) -> ThreatSource:
    row = ThreatSource(
        case_id=case.id,
        kind=threat.kind,
        position=position,
        protective_order=threat.protective_order,
        protective_order_expires_on=threat.protective_order_expires_on,
    )
    uow.seal(row, "name", threat.name)
    uow.seal(row, "description", threat.description)
    uow.seal(row, "protective_order_details", threat.protective_order_details)
    return row
