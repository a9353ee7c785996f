"""Changing a case's people and threat sources after referral.

Each change is validated in full before anything is written, sealed like the referral's own
values, audited (field names, never values) in the same transaction, and touches the case, so
its version column turns a concurrent edit of the same case into a ``stale`` conflict. People
and threats are numbered as ``case show`` lists them (their stored position).

Plan contacts are chosen from approved people when the next plan version is composed
(``planning.approved_contacts``): a change here does not add or drop a contact in a plan that
exists already.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import flag_modified

from harbour.access import Actor, agency_today, audit, on_case
from harbour.app import App, UnitOfWork
from harbour.cases import duplicates
from harbour.cases.intake import MAX_PEOPLE, ContactIn, FamilyIn, ThreatIn, check_order
from harbour.db.models import Case, Person, Plan, ThreatSource
from harbour.domain.composition import may_be_contact
from harbour.domain.text import Address, Name, Note, PastDate, Phone, PlausibleDate, ShortText
from harbour.domain.vocab import (
    CaseStatus,
    PersonKind,
    PlanStatus,
    ThreatKind,
)
from harbour.errors import Conflict, InvalidInput, NotFound
from harbour.validation import option_name, parse, parse_key, required

ACTION = "case.edit"
CONTACTS_NOTE = (
    "Plan contacts are chosen from the people the youth approved when the next plan version is "
    "composed (at the next assessment). Someone no longer approved, or no longer known to be "
    "safe, is left off the copies of the open draft and of every version finalised from now "
    "on; a final version keeps the contacts it was finalised with: assess again for a "
    "plan without them."
)
STILL_LISTED = (
    "Final plan version {version} still lists them on the youth's and family's copies: "
    "assess again to give the youth a plan without them."
)
STILL_LISTED_DRAFT = (
    "Final plan version {version} still lists them on the youth's and family's copies: "
    "finalize draft version {draft} (it leaves them off), or assess again, to give the youth a "
    "plan without them."
)
THREATS_NOTE = (
    "The plan's strategies follow the threat sources and their protective orders when the next "
    "plan version is composed (at the next assessment); plans that exist already stay as they are."
)

_THREAT_KINDS = frozenset(k.value for k in ThreatKind)

_Row = TypeVar("_Row", Person, ThreatSource)

_SEALED_PERSON = ("name", "preferred_name", "relationship", "phone", "address", "notes")
_SEALED_THREAT = ("name", "description", "protective_order_details")

# Which fields each kind of person has, and which of them may be cleared (left empty).
_PERSON_FIELDS: dict[PersonKind, frozenset[str]] = {
    PersonKind.YOUTH: frozenset(
        {"name", "preferred_name", "date_of_birth", "phone", "address", "notes"}
    ),
    PersonKind.FAMILY_MEMBER: frozenset(
        {"name", "relationship", "phone", "address", "caretaker", "non_offending"}
        | {"approved_by_youth"}
    ),
    PersonKind.TRUSTED_CONTACT: frozenset({"name", "relationship", "phone", "approved_by_youth"}),
}
_PERSON_FIELDS[PersonKind.CARETAKER] = _PERSON_FIELDS[PersonKind.FAMILY_MEMBER]
_PERSON_CLEARABLE_BY_KIND = {
    PersonKind.YOUTH: frozenset({"preferred_name", "date_of_birth", "phone", "address", "notes"}),
    PersonKind.FAMILY_MEMBER: frozenset({"phone", "address"}),
    PersonKind.CARETAKER: frozenset({"phone", "address"}),
    PersonKind.TRUSTED_CONTACT: frozenset({"relationship", "phone"}),
}
_PERSON_CLEARABLE = frozenset().union(*_PERSON_CLEARABLE_BY_KIND.values())
_THREAT_CLEARABLE = frozenset(
    {"name", "description", "protective_order_details", "protective_order_expires_on"}
)


class _Patch(BaseModel):
    """Only the fields given change; every one is checked as the referral checks it."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    clearable: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def requested(
        cls, fields: dict[str, Any], clear: list[str] | None, today: date | None = None
    ) -> tuple[dict[str, Any], list[str]]:
        """The fields given, checked, and the names to clear; refused if that changes nothing."""
        patch = parse(cls, _present(fields), prefix="--", today=today)
        given = patch.model_dump(exclude_unset=True)
        cleared = _clear_names(clear, cls.clearable)
        _nothing_to_do(given, cleared)
        return given, cleared


class PersonPatch(_Patch):
    clearable: ClassVar[frozenset[str]] = _PERSON_CLEARABLE

    name: Name | None = None
    preferred_name: Name | None = None
    relationship: ShortText | None = None
    date_of_birth: PastDate | None = None
    phone: Phone | None = None
    address: Address | None = None
    notes: Note | None = None
    caretaker: bool | None = None
    non_offending: bool | None = None
    approved_by_youth: bool | None = None


class ThreatPatch(_Patch):
    clearable: ClassVar[frozenset[str]] = _THREAT_CLEARABLE

    kind: ThreatKind | None = None
    name: Name | None = None
    description: Note | None = None
    protective_order: bool | None = None
    protective_order_expires_on: PlausibleDate | None = None
    protective_order_details: ShortText | None = None


@dataclass(frozen=True)
class StillListed:
    """A person edited who may no longer be a contact (``composition.may_be_contact``) whom
    the case's current final plan version (``version``) lists as one: its copies (the youth's
    card among them) keep the contacts it was finalised with. ``draft``: a newer draft open,
    which leaves them off once finalised."""

    version: int
    draft: int | None = None

    @property
    def say(self) -> str:
        if self.draft is None:
            return STILL_LISTED.format(version=self.version)
        return STILL_LISTED_DRAFT.format(version=self.version, draft=self.draft)


@dataclass(frozen=True)
class Change:
    """What was changed, for the CLI and the console: operational values only."""

    case: str
    number: int
    kind: str
    fields: tuple[str, ...]
    still_listed: StillListed | None = None

    @property
    def note(self) -> str:
        return THREATS_NOTE if self.kind in _THREAT_KINDS else CONTACTS_NOTE

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "case": self.case,
            "number": self.number,
            "kind": self.kind,
            "fields": list(self.fields),
            "note": self.note,
        }
        if self.still_listed is not None:
            listed = self.still_listed
            shown["final_contact"] = {"version": listed.version, "say": listed.say}
            shown["final_contact"] |= {"draft": listed.draft} if listed.draft else {}
        return shown


def add_person(
    app: App,
    actor_handle: str | None,
    ref: str,
    fields: dict[str, Any],
    idempotency_key: str | None = None,
) -> Change:
    """Add a family member, caretaker or trusted contact (``kind``) to the case (repeated with
    its ``idempotency_key``: the person it added, ``_replay``)."""
    key = parse_key(idempotency_key)
    given = _present(fields)
    kind = given.pop("kind", None)
    if kind not in ("family_member", "caretaker", "trusted_contact"):
        raise InvalidInput([("--kind", "must be family_member, caretaker or trusted_contact")])
    whose = _whose(kind)
    if kind == "trusted_contact":
        contact = parse(ContactIn, given, prefix="--", whose=whose)
        values = contact.model_dump()
    else:
        member = parse(
            FamilyIn, {**given, "caretaker": kind == "caretaker"}, prefix="--", whose=whose
        )
        values = member.model_dump(exclude={"caretaker"})

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Change:
        replayed = _replay(uow, actor, case, Person, key, kind, values)
        if replayed is not None:
            return replayed
        count = _count(uow, Person, case)
        if count >= 1 + 2 * MAX_PEOPLE:
            raise Conflict("too_many_people", "the case holds as many people as it can")
        person = _new_row(uow, Person, case, kind, key)
        _apply_person(uow, person, values)
        return _changed(uow, actor, case, "case.person.add", person.position, kind, values)

    return _on_editable_case(app, actor_handle, ref, work)


def edit_person(
    app: App,
    actor_handle: str | None,
    ref: str,
    number: int,
    fields: dict[str, Any],
    clear: list[str] | None = None,
) -> Change:
    """Change the given fields of one person of the case; ``clear`` empties optional ones."""
    PersonPatch.requested(fields, clear, date.max)  # refused before anything is read; dates below

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Change:
        # The date of birth is checked against today where the case's agency is.
        patch, cleared = PersonPatch.requested(fields, clear, agency_today(uow, case.agency_id))
        person = _numbered(uow, Person, case, number, "person")
        kind = PersonKind(person.kind)
        _applies(set(patch) | set(cleared), _PERSON_FIELDS[kind], _whose(kind))
        _clearable(cleared, _PERSON_CLEARABLE_BY_KIND[kind], _whose(kind))
        values = {**patch, **dict.fromkeys(cleared)}
        if values.pop("caretaker", None) is not None:
            person.kind = PersonKind.CARETAKER if patch["caretaker"] else PersonKind.FAMILY_MEMBER
            values["kind"] = person.kind
        _apply_person(uow, person, values)
        if kind == PersonKind.YOUTH and {"name", "date_of_birth"} & set(values):
            duplicates.reindex(uow, case.id)
        changed = _changed(uow, actor, case, "case.person.edit", number, person.kind, values)
        return replace(changed, still_listed=_still_listed(uow, case, person))

    return _on_editable_case(app, actor_handle, ref, work)


def add_threat(
    app: App,
    actor_handle: str | None,
    ref: str,
    fields: dict[str, Any],
    idempotency_key: str | None = None,
) -> Change:
    """Add a threat source (trafficker, network, complicit family or friend) to the case
    (repeated with its ``idempotency_key``: the threat source it added)."""
    key = parse_key(idempotency_key)
    threat = parse(ThreatIn, _present(fields), prefix="--")
    values = threat.model_dump()
    check_order(values)

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Change:
        replayed = _replay(uow, actor, case, ThreatSource, key, threat.kind, values)
        if replayed is not None:
            return replayed
        if _count(uow, ThreatSource, case) >= MAX_PEOPLE:
            raise Conflict("too_many_threats", "the case holds as many threat sources as it can")
        row = _new_row(uow, ThreatSource, case, threat.kind, key)
        _apply_threat(uow, row, values)
        return _changed(uow, actor, case, "case.threat.add", row.position, row.kind, values)

    return _on_editable_case(app, actor_handle, ref, work)


def edit_threat(
    app: App,
    actor_handle: str | None,
    ref: str,
    number: int,
    fields: dict[str, Any],
    clear: list[str] | None = None,
) -> Change:
    """Change the given fields of one threat source, protective order included."""
    patch, cleared = ThreatPatch.requested(fields, clear)

    def work(uow: UnitOfWork, actor: Actor, case: Case) -> Change:
        row = _numbered(uow, ThreatSource, case, number, "threat")
        values = {**patch, **dict.fromkeys(cleared)}
        check_order(
            {**_threat_state(uow, row), **values}, taken_off=patch.get("protective_order") is False
        )
        _apply_threat(uow, row, values)
        return _changed(uow, actor, case, "case.threat.edit", number, row.kind, values)

    return _on_editable_case(app, actor_handle, ref, work)


def _on_editable_case(
    app: App, actor_handle: str | None, ref: str, work: Callable[[UnitOfWork, Actor, Case], Change]
) -> Change:
    def run(uow: UnitOfWork, actor: Actor, case: Case) -> Change:
        if case.status == CaseStatus.CLOSED:
            raise Conflict("case_closed", "the case is closed: reopen it first")
        result = work(uow, actor, case)
        case.updated_at = uow.now()
        # Written even when the time is the same, so the version moves: a concurrent edit of
        # the same case (read before this one committed) fails as stale, never overwrites.
        flag_modified(case, "updated_at")
        return result

    return on_case(app, actor_handle, ref, ACTION, run)


def _replay(
    uow: UnitOfWork,
    actor: Actor,
    case: Case,
    model: type[_Row],
    key: str | None,
    kind: str,
    values: dict[str, Any],
) -> Change | None:
    """The entry an earlier add with ``key`` made (audited as a replay), if there is one; refused
    if it does not hold what this add gives (another entry's values, or changed since). A twin
    sent at the same time finds it too: each add holds the case's row (``load_case``)."""
    if key is None:
        return None
    row: _Row | None = uow.session.scalar(
        select(model).where(model.case_id == case.id, model.idempotency_key == key)
    )
    if row is None:
        return None
    what = "person" if model is Person else "threat"
    sealed = _SEALED_PERSON if model is Person else _SEALED_THREAT
    held = {f: uow.unseal(row, f) if f in sealed else getattr(row, f) for f in values}
    if held != values or row.kind != kind:
        raise Conflict("idempotency_key_reused", f"that key was used for another {what}")
    audit(uow, actor, f"case.{what}.add.replayed", case.id, number=row.position, kind=row.kind)
    return Change(case.reference, row.position, row.kind, tuple(sorted(values)))


def _changed(
    uow: UnitOfWork,
    actor: Actor,
    case: Case,
    action: str,
    number: int,
    kind: str,
    values: dict[str, Any],
) -> Change:
    fields = tuple(sorted(values))
    audit(uow, actor, action, case.id, number=number, kind=str(kind), fields=list(fields))
    return Change(case.reference, number, str(kind), fields)


def _still_listed(uow: UnitOfWork, case: Case, person: Person) -> StillListed | None:
    """Whether the case's current final version lists ``person`` as a contact although, as they
    stand now, they may no longer be one (``_lists``)."""
    if may_be_contact(
        person.kind, approved_by_youth=person.approved_by_youth, non_offending=person.non_offending
    ):
        return None
    final = uow.session.scalar(
        select(Plan)
        .where(Plan.case_id == case.id, Plan.status == PlanStatus.FINAL)
        .order_by(Plan.version_number.desc())
        .limit(1)
    )
    if final is None or not _lists(uow, final, person):
        return None
    draft = uow.session.scalar(
        select(Plan.version_number).where(
            Plan.case_id == case.id,
            Plan.status == PlanStatus.DRAFT,
            Plan.version_number > final.version_number,
        )
    )
    return StillListed(final.version_number, draft)


def _lists(uow: UnitOfWork, plan: Plan, person: Person) -> bool:
    """Whether a final version's copies list ``person``: the people ``snapshot.freeze_people``
    kept with its contacts."""
    frozen = uow.unseal(plan, "people")
    return frozen is not None and person.id in json.loads(frozen).get("contact_people", ())


def _apply_person(uow: UnitOfWork, person: Person, values: dict[str, Any]) -> None:
    for field, value in values.items():
        if field in _SEALED_PERSON:
            uow.seal(person, field, value)
        elif field == "date_of_birth":
            uow.seal(person, field, value.isoformat() if value else None)
        elif field in ("non_offending", "approved_by_youth"):
            setattr(person, field, bool(value))


def _apply_threat(uow: UnitOfWork, row: ThreatSource, values: dict[str, Any]) -> None:
    for field, value in values.items():
        if field in _SEALED_THREAT:
            uow.seal(row, field, value)
        elif field == "kind":
            row.kind = value
        elif field in ("protective_order", "protective_order_expires_on"):
            setattr(row, field, value)


def _threat_state(uow: UnitOfWork, row: ThreatSource) -> dict[str, Any]:
    return {
        "protective_order": row.protective_order,
        "protective_order_expires_on": row.protective_order_expires_on,
        "protective_order_details": uow.unseal(row, "protective_order_details"),
    }


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _clear_names(clear: list[str] | None, allowed: frozenset[str]) -> list[str]:
    names = [c.replace("-", "_") for c in clear or []]
    if any(name not in allowed for name in names):
        choices = ", ".join(sorted(option_name(a).removeprefix("--") for a in allowed))
        raise InvalidInput([("--clear", f"names a field that cannot be cleared ({choices})")])
    return sorted(set(names))


def _whose(kind: str) -> str:
    """A kind of person in words, as refusals name it: ``family_member`` is "a family member"."""
    return "a " + kind.replace("_", " ")


def _clearable(cleared: list[str], allowed: frozenset[str], whose: str) -> None:
    """A field the kind has (``_applies``) but may not leave empty is one it requires. Refused
    as the field's own problem, so that the console shows it beside the field."""
    for name in cleared:
        if name not in allowed:
            reason = f"{required(whose)}: it cannot be cleared"
            raise InvalidInput([(option_name(name), reason)])


def _applies(given: set[str], allowed: frozenset[str], whose: str) -> None:
    for name in sorted(given - allowed):
        raise InvalidInput([(option_name(name), f"does not apply to {whose}")])


def _nothing_to_do(patch: dict[str, Any], cleared: list[str]) -> None:
    if not patch and not cleared:
        raise InvalidInput([("(options)", "nothing to change: give a field or --clear")])
    if set(patch) & set(cleared):
        raise InvalidInput([("--clear", "clears a field also given a value")])


def _numbered(
    uow: UnitOfWork, model: type[Person] | type[ThreatSource], case: Case, number: int, what: str
) -> Any:
    row = uow.session.scalar(
        select(model).where(model.case_id == case.id, model.position == number)
    )
    if row is None:
        raise NotFound(f"{what}_not_found", f"the case has no {what} with that number")
    return row


def _new_row(uow: UnitOfWork, model: type[_Row], case: Case, kind: str, key: str | None) -> _Row:
    """A person or threat source numbered after the case's last, flushed so that it has the
    id its sealed fields are bound to."""
    position = _next_position(uow, model, case)
    row = model(case_id=case.id, kind=kind, position=position, idempotency_key=key)
    uow.session.add(row)
    uow.session.flush()
    return row


def _next_position(uow: UnitOfWork, model: type[Person] | type[ThreatSource], case: Case) -> int:
    highest = uow.session.scalar(select(func.max(model.position)).where(model.case_id == case.id))
    return 0 if highest is None else highest + 1


def _count(uow: UnitOfWork, model: type[Person] | type[ThreatSource], case: Case) -> int:
    return uow.session.scalar(select(func.count()).where(model.case_id == case.id)) or 0


__all__ = [
    "CONTACTS_NOTE",
    "STILL_LISTED",
    "THREATS_NOTE",
    "Change",
    "StillListed",
    "add_person",
    "add_threat",
    "edit_person",
    "edit_threat",
]
