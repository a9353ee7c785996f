"""Opaque keys for the plan items that say what sealed answers were.

A risk item is there because a rule fired on the youth's answers, and a strategy for family or
staff at risk because an answer said so; their keys (``risk:self_harm``) and codes in clear would
tell a reader of a raw dump what the sealed answers hold. So such an item (``drawn_from_answers``)
is stored with its code sealed and an opaque key: a keyed HMAC of its key under the case's own
secret, itself sealed on the case. The same item gets the same opaque key in every version of the
case, so carrying decisions over, diffs and the progress on a step (``StepProgress`` keeps the
opaque key) work as for any item; another case's keys say nothing about this one's. A key
rotation re-seals the secret like any sealed value, and the keys it made stay valid.

Reading a version back shows the key composition gave the item (``shown_key``), worked out from
the sealed code: staff and documents see ``risk:self_harm``, the store and the audit trail never.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from harbour.app import UnitOfWork
from harbour.db.models import Case, Plan, PlanItem
from harbour.domain.composition import ProposedItem, drawn_from_answers, item_key
from harbour.domain.vocab import PlanSection

PREFIX = "opaque:"
DIGITS = 32  # hex digits of the HMAC kept: 128 bits


def stored(uow: UnitOfWork, plan: Plan, item: ProposedItem) -> tuple[str, str | None, str | None]:
    """(key, code in clear, code to seal) of ``item`` as stored in ``plan``."""
    if not drawn_from_answers(item, uow.reference.catalogue):
        return item.key, item.code, None
    return opaque_key(_secret(uow, plan.case_id), item.key), None, item.code


def shown_code(uow: UnitOfWork, row: PlanItem) -> str | None:
    """The item's catalogue or rule code, unsealed when it is kept opaque."""
    return row.code if row.code_sealed is None else uow.unseal(row, "code")


def shown_key(uow: UnitOfWork, row: PlanItem) -> str:
    """The item's key as composition gave it (``risk:self_harm``), its stored one otherwise."""
    code = uow.unseal(row, "code") if row.code_sealed is not None else None
    return row.key if code is None else item_key(PlanSection(row.section), code)


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
