"""Opaque keys for the plan items that say what sealed answers were.

A risk item is there because a rule fired on the youth's answers, and a strategy for family or
staff at risk because an answer said so; their keys (``risk:self_harm``) and codes in clear would
tell a reader of a raw dump what the sealed answers hold. So such an item (``drawn_from_answers``)
is stored with its code, phase and owner sealed (an owner ``family`` would say as much) and an
opaque key: a keyed HMAC of its key under the case's own secret, itself sealed on the case. The same item gets the same opaque key in every version of the
case, so carrying decisions over, diffs and the progress on a step (``StepProgress`` keeps the
opaque key) work as for any item; another case's keys say nothing about this one's. A key
rotation re-seals the secret like any sealed value, and the keys it made stay valid.

Reading a version back shows the key composition gave the item (``shown_key``) and its code,
phase and owner (``detail``), unsealed: staff and documents see ``risk:self_harm``, the store and
the audit trail never.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace

from harbour.app import UnitOfWork
from harbour.db.models import Case, Plan, PlanItem
from harbour.domain.composition import ProposedItem, drawn_from_answers, item_key
from harbour.domain.vocab import PlanSection

PREFIX = "opaque:"
DIGITS = 32  # hex digits of the HMAC kept: 128 bits


@dataclass(frozen=True)
class Detail:
    """An item's code, phase and owner, as stored in clear or unsealed."""

    code: str | None
    phase: str | None
    owner: str | None


def stored(uow: UnitOfWork, plan: Plan, item: ProposedItem) -> tuple[str, Detail, str | None]:
    """(key, what is stored in clear, the detail to seal) of ``item`` as a row of ``plan``."""
    if not drawn_from_answers(item, uow.reference.catalogue):
        return item.key, Detail(item.code, item.phase, item.owner), None
    sealed = _pack(Detail(item.code, item.phase, item.owner))
    return opaque_key(_secret(uow, plan.case_id), item.key), Detail(None, None, None), sealed


def detail(uow: UnitOfWork, row: PlanItem) -> Detail:
    """The item's code, phase and owner, unsealed when it is kept opaque."""
    found = uow.unseal(row, "detail") if row.detail_sealed is not None else None
    if found is None:
        return Detail(row.code, row.phase, row.owner)
    data = json.loads(found)
    return Detail(data["code"], data["phase"], data["owner"])


def set_owner(uow: UnitOfWork, row: PlanItem, owner: str | None) -> None:
    """Who does a step: sealed with its code when the item is kept opaque."""
    if row.detail_sealed is None:
        row.owner = owner
        return
    uow.seal(row, "detail", _pack(replace(detail(uow, row), owner=owner)))


def shown_code(uow: UnitOfWork, row: PlanItem) -> str | None:
    """The item's catalogue or rule code, unsealed when it is kept opaque."""
    return detail(uow, row).code


def shown_key(uow: UnitOfWork, row: PlanItem) -> str:
    """The item's key as composition gave it (``risk:self_harm``), its stored one otherwise."""
    if row.detail_sealed is None:
        return row.key
    code = detail(uow, row).code
    return row.key if code is None else item_key(PlanSection(row.section), code)


def _pack(found: Detail) -> str:
    return json.dumps(
        {"code": found.code, "phase": found.phase, "owner": found.owner}, sort_keys=True
    )


def clear_keys(uow: UnitOfWork, case_id: str, keys: Iterable[str]) -> frozenset[str]:
    """Stored step keys (from ``StepProgress``) as composition gives them: an opaque one is
    matched against every step the catalogue can draw (an unknown one is left as it is)."""
    keys = frozenset(keys)
    if not any(k.startswith(PREFIX) for k in keys):
        return keys
    secret = _secret(uow, case_id)
    known = {
        opaque_key(secret, key): key
        for key in (
            item_key(PlanSection.STEPS, code) for code in uow.reference.catalogue.strategies
        )
    }
    return frozenset(known.get(k, k) for k in keys)


def opaque_key(secret: bytes, key: str) -> str:
    return PREFIX + hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()[:DIGITS]


def _secret(uow: UnitOfWork, case_id: str) -> bytes:
    """The case's secret for its opaque keys, made (and sealed) the first time one is needed."""
    memo = f"plans.opaque.secret:{case_id}"
    if memo not in uow.memo:
        case = uow.session.get_one(Case, case_id)
        found = uow.unseal(case, "item_secret")
        if found is None:
            found = secrets.token_hex(32)
            uow.seal(case, "item_secret", found)
        uow.memo[memo] = bytes.fromhex(found)
    secret: bytes = uow.memo[memo]
    return secret
