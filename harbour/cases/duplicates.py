"""Likely duplicates: is the youth of a referral already a case of the agency?

Each case keeps a blind index of its youth (``YouthIndex``): a keyed HMAC of the loose name and
birth date (``harbour.domain.likeness``), under a key derived from the keyring's (never stored),
so a lookup compares digests instead of unsealing every case. Only the agency's own cases are
looked at: another agency's case of the same youth is never named. A rotation recomputes the
indexes under the new key (``harbour.admin.keys``); until it has, a lookup tries every key.
``harbour db upgrade`` recomputes those a newer Harbour matches differently (``rematch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache, partial
from typing import Any

from sqlalchemy import Select, String, and_, bindparam, literal, or_, select, union_all

from harbour.access import Actor, audit, authorize, resolve_actor
from harbour.app import App, UnitOfWork
from harbour.db.models import Case, Person, YouthIndex
from harbour.domain.likeness import identity_text
from harbour.domain.vocab import PersonKind
from harbour.errors import Conflict

MAX_NAMED = 5  # a refusal names at most this many existing cases


@dataclass(frozen=True)
class Existing:
    """An agency's case that is likely the same youth: its reference and status, nothing else."""

    reference: str
    status: str

    def as_json(self) -> dict[str, str]:
        return {"case": self.reference, "status": self.status}


@dataclass(frozen=True)
class DuplicateCheck:
    """What a referral form shows before it is sent: the agency's likely duplicates, if any."""

    existing: tuple[Existing, ...]

    def as_json(self) -> dict[str, object]:
        return {"likely_duplicates": [e.as_json() for e in self.existing]}


class LikelyDuplicate(Conflict):
    """A referral refused because its youth looks like one already referred (nothing written)."""

    def __init__(self, existing: tuple[Existing, ...]) -> None:
        self.existing = existing
        named = ", ".join(f"{e.reference} ({e.status})" for e in existing)
        super().__init__(
            "likely_duplicate",
            f"the agency has a case with the same youth name and date of birth: {named}; "
            "nothing was written (to refer anyway, repeat with --allow-duplicate)",
        )

    def json_extra(self) -> dict[str, object]:
        return {"likely_duplicates": [e.as_json() for e in self.existing]}


def check(
    app: App, actor_handle: str | None, name: str, date_of_birth: date | None
) -> DuplicateCheck:
    """The actor's agency's cases likely of this youth (for a form, before it refers); audited."""

    def work(uow: UnitOfWork) -> DuplicateCheck:
        actor = resolve_actor(uow, actor_handle)
        authorize(uow, actor, "case.refer")
        found = likely(uow, actor, name, date_of_birth)
        audit(uow, actor, "case.refer.duplicate_check", found=len(found))
        return DuplicateCheck(found)

    return app.run(work)


def likely(
    uow: UnitOfWork,
    actor: Actor,
    name: str,
    date_of_birth: date | str | None,
    *,
    besides: str | None = None,
) -> tuple[Existing, ...]:
    """The actor's agency's cases (but ``besides``) whose youth index matches, oldest first."""
    uow.check_keys("read")
    digests = uow.app.cipher.blind_indexes(identity_text(name, date_of_birth))
    values: dict[str, object] = {"agency_id": actor.agency_id, "besides": besides}
    for i, (key_id, digest) in enumerate(digests.items()):
        values |= {f"key_{i}": key_id, f"digest_{i}": digest}
    query = _likely_query(len(digests), besides is not None)
    return tuple(Existing(ref, status) for ref, status in uow.session.execute(query, values))


@dataclass(frozen=True)
class Keyed:
    """The agency's case an earlier referral with the same idempotency key started."""

    id: str
    reference: str
    status: str
    intake_digest_sealed: str | None


def likely_or_keyed(
    uow: UnitOfWork, actor: Actor, name: str, date_of_birth: date | str | None, key: str
) -> tuple[tuple[Existing, ...], Keyed | None]:
    """``likely``, and the agency's case whose referral had idempotency key ``key`` (if any):
    one statement, which a referral reads instead of two."""
    uow.check_keys("read")
    digests = uow.app.cipher.blind_indexes(identity_text(name, date_of_birth))
    values: dict[str, object] = {"agency_id": actor.agency_id, "key": key}
    for i, (key_id, digest) in enumerate(digests.items()):
        values |= {f"key_{i}": key_id, f"digest_{i}": digest}
    alike, keyed = [], None
    for row in uow.session.execute(_likely_or_keyed_query(len(digests)), values):
        if row.keyed:
            keyed = Keyed(row.id, row.reference, row.status, row.intake_digest_sealed)
        else:
            alike.append(Existing(row.reference, row.status))
    return tuple(alike), keyed


@cache
def _likely_or_keyed_query(keys: int) -> Select[Any]:
    """``likely``'s statement, and the keyed case's row after its rows, built once."""
    cases = Case.__table__.c
    columns = (cases.id, cases.reference, cases.status, cases.intake_digest_sealed)
    alike = _likely_query(keys, False).with_only_columns(
        *columns, literal(False).label("keyed"), cases.created_at
    )
    keyed = select(*columns, literal(True).label("keyed"), cases.created_at).where(
        cases.agency_id == bindparam("agency_id", type_=String),
        cases.intake_key == bindparam("key"),
    )
    both = union_all(select(alike.subquery()), keyed).subquery()
    return select(both).order_by(both.c.keyed, both.c.created_at, both.c.reference)


@cache
def _likely_query(keys: int, besides: bool) -> Select[str, str]:
    """``likely``'s statement for a keyring of ``keys`` keys, built once (building it cost
    more than running it): its values are bound when it runs. Core columns: no ORM loading."""
    cases, index = Case.__table__.c, YouthIndex.__table__.c
    matches = or_(
        *(
            and_(index.key_id == bindparam(f"key_{i}"), index.digest == bindparam(f"digest_{i}"))
            for i in range(keys)
        )
    )
    agency = bindparam("agency_id", type_=String)
    query = (
        select(cases.reference, cases.status)
        .join_from(Case.__table__, YouthIndex.__table__, index.case_id == cases.id)
        .where(index.agency_id == agency, cases.agency_id == agency, matches)
        .order_by(cases.created_at, cases.reference)
        .limit(MAX_NAMED)
    )
    return query.where(cases.id != bindparam("besides")) if besides else query


def index(
    uow: UnitOfWork,
    case: Case,
    name: str,
    date_of_birth: date | str | None,
    *,
    new_case: bool = False,
) -> None:
    """Write (or rewrite) ``case``'s youth index under the primary key. ``new_case``: the case is
    created in this transaction, so it has no index yet to look up."""
    cipher = uow.app.cipher
    uow.check_keys("write")
    digest = cipher.blind_index(identity_text(name, date_of_birth))
    row = None if new_case else uow.session.get(YouthIndex, case.id)
    if row is None:  # its id is the case's: no id is drawn (the demo's seeded ids stay put)
        row = YouthIndex(id=case.id, case_id=case.id, agency_id=case.agency_id)
        uow.add(row)
    row.key_id, row.digest = cipher.primary, digest


def reindex(uow: UnitOfWork, case_id: str) -> None:
    """Recompute a case's index from its youth's sealed name and birth date (after a rotation)."""
    case = uow.session.get_one(Case, case_id)
    youth = uow.session.scalar(
        select(Person)
        .where(Person.case_id == case_id, Person.kind == PersonKind.YOUTH)
        .order_by(Person.position)
        .limit(1)
    )
    name = uow.unseal(youth, "name") if youth is not None else None
    if youth is None or name is None:  # nothing to match on (never so for a referral): no index
        row = uow.session.get(YouthIndex, case_id)
        if row is not None:
            uow.session.delete(row)
        return
    index(uow, case, name, uow.unseal(youth, "date_of_birth"))


REMATCH_BATCH = 500


def rematch(app: App) -> int:
    """Recompute each case's index whose digest is not what this Harbour's matching rule
    (``harbour.domain.likeness``) gives its youth, a committed batch at a time: after an
    upgrade that matches names differently, a youth referred before is still found. How many
    changed (none the second time)."""
    changed, after = 0, ""
    while True:
        after, moved = app.run(partial(_rematch_batch, after=after))
        changed += moved
        if not after:
            return changed


def _rematch_batch(uow: UnitOfWork, *, after: str) -> tuple[str, int]:
    """(the batch's last case id, or "" when none is left; how many indexes changed)"""
    rows = uow.session.scalars(
        select(YouthIndex).where(YouthIndex.case_id > after).order_by(YouthIndex.case_id)
        .limit(REMATCH_BATCH)
    ).all()  # fmt: skip
    changed = 0
    for row in rows:
        before = (row.key_id, row.digest)
        reindex(uow, row.case_id)
        changed += (row.key_id, row.digest) != before
    return (rows[-1].case_id if rows else ""), changed
