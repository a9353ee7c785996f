"""Opaque keys for the plan items that say what sealed answers and details were.

A risk item is there because a rule fired on the youth's answers; a strategy or step because of
who is at risk and which threat sources are present (both sealed), and even the youth's own
("change phone number") says what the youth disclosed and plans. Their keys (``risk:self_harm``)
and codes in clear would tell a reader of a raw dump what the sealed values hold. So such an item
(``kept_opaque``) is stored with its code, phase and owner sealed (an owner ``family`` would say
as much) and an opaque key: a keyed HMAC of its key under the case's own secret, itself sealed on
the case. The same item gets the same opaque key in every version of the case, so carrying
decisions over, diffs and the progress on a step (``StepProgress`` keeps the opaque key) work as
for any item; another case's keys say nothing about this one's. A key rotation re-seals the
secret like any sealed value, and the keys it made stay valid.

Reading a version back shows the key composition gave the item (``shown_key``) and its code,
phase and owner (``detail``), unsealed: staff and documents see ``risk:self_harm``, the store and
the audit trail never.

How many rows the risks section has would still say how many rules fired, so each version's
risks section is padded (``padding``) to as many rows as the instrument has rules: placeholders
stored like a risk (opaque key, sealed detail with no code), dropped when a version is read
(``is_padding``). Padding rows rather than sealing the section as one value keeps every reader,
decision and rotation working on rows as before; each sealed detail is padded to one length
(``PACKED``), so neither a placeholder nor a code shows by the size of its ciphertext.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from harbour.app import UnitOfWork
from harbour.db.models import Case, Plan, PlanItem
from harbour.domain.composition import ProposedItem, item_key, kept_opaque
from harbour.domain.vocab import ItemState, PlanSection

PREFIX = "opaque:"
DIGITS = 32  # hex digits of the HMAC kept: 128 bits
PAD_PREFIX = "pad:"  # a placeholder's key before it is made opaque
PACKED = 200  # characters of every sealed detail: three codes of 40 and the JSON around them


@dataclass(frozen=True)
class Detail:
    """An item's code, phase and owner, as stored in clear or unsealed."""

    code: str | None
    phase: str | None
    owner: str | None


def stored(uow: UnitOfWork, plan: Plan, item: ProposedItem) -> tuple[str, Detail, str | None]:
    """(key, what is stored in clear, the detail to seal) of ``item`` as a row of ``plan``."""
    if not kept_opaque(item):
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
    packed = json.dumps(
        {"code": found.code, "phase": found.phase, "owner": found.owner}, sort_keys=True
    )
    return packed.ljust(PACKED)  # JSON allows the trailing spaces


def padding(uow: UnitOfWork, items: Sequence[ProposedItem]) -> list[ProposedItem]:
    """Placeholders that bring the risks section of ``items`` to as many rows as the
    instrument has rules, so the count of its rows never says how many fired (risks staff
    write themselves are added later, as their own rows)."""
    fired = sum(1 for i in items if i.section == PlanSection.RISKS and i.state != ItemState.ADDED)
    rules = len(uow.reference.instrument.rules)
    return [
        ProposedItem(f"{PAD_PREFIX}{number}", PlanSection.RISKS, ItemState.ACCEPTED)
        for number in range(max(0, rules - fired))
    ]


def with_padding(uow: UnitOfWork, items: Sequence[ProposedItem]) -> list[ProposedItem]:
    """``items`` with the risks section's placeholders right after its last risk, so the rows'
    positions (in clear) run on through them as through any risk."""
    first = (PlanSection.EMERGENCY, PlanSection.RISKS)
    after = max((n + 1 for n, item in enumerate(items) if item.section in first), default=0)
    return [*items[:after], *padding(uow, items), *items[after:]]


def is_padding(uow: UnitOfWork, row: PlanItem) -> bool:
    """Whether the row is a placeholder of the risks section (sealed, with no code)."""
    return (
        row.section == PlanSection.RISKS
        and row.detail_sealed is not None
        and detail(uow, row).code is None
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
