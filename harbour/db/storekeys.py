"""A store knows its keys by their check values: a keyring from elsewhere is refused before use.

Writers must hold the store's primary key (the one recorded last); readers at least one of its
keys. A store that has recorded none yet (made before ``harbour init`` recorded them, or by
tests) takes the keyring of its first write.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harbour.crypto import Keyring
from harbour.db.models import StoreKey
from harbour.errors import CryptoError

RESTORE = "restore the store's keyring from its backup, or point HARBOUR_KEY_FILE at it"


def recorded(session: Session) -> list[StoreKey]:
    """The store's keys, the primary last."""
    return list(session.scalars(select(StoreKey).order_by(StoreKey.position)))


def check(session: Session, keyring: Keyring, *, writing: bool, now: datetime) -> bool:
    """Refuse a keyring that is not this store's; True once checked against recorded keys.

    Raises:
        CryptoError: code ``wrong_keyring``; the message names no key.
    """
    keys = recorded(session)
    if not keys:
        if writing:
            record_primary(session, keyring, now)
        return False
    check_held(keys, keyring, primary=writing, said=": nothing was written" if writing else "")
    return True


def check_held(keys: list[StoreKey], keyring: Keyring, *, primary: bool, said: str = "") -> None:
    """Refuse a keyring that holds none of the store's ``keys`` (``recorded``), or with
    ``primary``, not its primary: ``said`` goes after the reason.

    Raises:
        CryptoError: code ``wrong_keyring``; the message names no key.
    """
    checks = keyring.check_values()
    held = [key for key in keys if checks.get(key.key_id) == key.check_value]
    if primary and keys[-1] not in held:
        raise CryptoError(
            "wrong_keyring",
            "the keyring does not hold this store's primary key (a key file from another store, "
            f"or from before the last rotation?){said}; {RESTORE}",
        )
    if not held:
        raise CryptoError(
            "wrong_keyring",
            f"the keyring holds none of this store's keys (a key file from another store?); {RESTORE}",
        )


def record_primary(session: Session, keyring: Keyring, now: datetime) -> None:
    """Record the keyring's primary key as the store's primary (already so: nothing changes)."""
    keys = recorded(session)
    check_value = keyring.check_values()[keyring.primary]
    if keys and keys[-1].key_id == keyring.primary and keys[-1].check_value == check_value:
        return
    top = session.scalar(select(func.max(StoreKey.position))) or 0
    known = next((key for key in keys if key.key_id == keyring.primary), None)
    if known is not None:
        if known.check_value != check_value:
            raise CryptoError(
                "wrong_keyring", f"the keyring's primary key is not this store's; {RESTORE}"
            )
        known.position = top + 1
    else:
        known = StoreKey(
            id=f"key-{keyring.primary}",  # not new_id(): the demo's seeded row ids must not shift
            key_id=keyring.primary,
            check_value=check_value,
            position=top + 1,
            recorded_at=now,
        )
        session.add(known)
    session.flush()
