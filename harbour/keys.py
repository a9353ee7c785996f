"""Key rotation: add a key, then re-encrypt every sealed value to it in small committed batches.

Old keys stay in the keyring, so every row is readable at every moment. A rotation killed midway
is finished by running it again: while any value is sealed under an older key, ``rotate`` resumes
instead of adding another key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from sqlalchemy import select

from harbour.app import App, UnitOfWork
from harbour.crypto import FieldCipher
from harbour.db.base import Base, sealed_columns
from harbour.errors import ConfigError

BATCH = 500


def sealed_tables() -> list[type[Base]]:
    from harbour.db import models  # noqa: F401  (registers every table)

    mappers = sorted(Base.registry.mappers, key=lambda m: m.class_.__name__)
    return [m.class_ for m in mappers if sealed_columns(m.class_)]


def stale_count(app: App) -> int:
    """How many sealed values are not under the primary key."""
    return sum(1 for _ in _stale(app, batch=None))


def rotate(app: App, progress: Callable[[int], None] = lambda n: None) -> tuple[int, int]:
    """Rotate (or resume a rotation); returns (primary key version, values re-encrypted)."""
    if app.settings.encryption_keys is not None:
        raise ConfigError(
            "keys_from_environment",
            "keys come from HARBOUR_ENCRYPTION_KEYS: add a key there, then run `harbour keys rotate`",
        )
    if stale_count(app) == 0 and app.settings.encryption_keys is None:
        keyring = app.cipher.keyring.with_new_key()
        keyring.save(app.settings.resolved_key_file)  # on disk before any value uses it
        app.cipher = FieldCipher(keyring)
    done = 0
    for table in sealed_tables():
        after: str | None = ""
        while after is not None:
            after, moved = app.run(partial(_reseal_page, table=table, after=after or ""))
            done += moved
            progress(done)
    return app.cipher.primary, done


def _reseal_page(uow: UnitOfWork, *, table: type[Base], after: str) -> tuple[str | None, int]:
    """Re-encrypt the stale values of the next page of rows; returns (last id or None, count)."""
    fields = [c.removesuffix("_sealed") for c in sealed_columns(table)]
    primary = uow.app.cipher.primary
    id_col = table.id  # type: ignore[attr-defined]
    rows = uow.session.scalars(select(table).where(id_col > after).order_by(id_col).limit(BATCH))
    moved, last = 0, None
    for row in rows:
        last = row.id  # type: ignore[attr-defined]
        stale = [f for f in fields if _is_stale(getattr(row, f"{f}_sealed"), primary)]
        for field in stale:
            uow.seal(row, field, uow.unseal(row, field))
        moved += len(stale)
    return last, moved


def _stale(app: App, batch: int | None) -> Iterator[None]:
    primary = app.cipher.primary
    with app.uow() as uow:
        for table in sealed_tables():
            columns = sealed_columns(table)
            for row in uow.session.scalars(select(table)):
                if any(_is_stale(getattr(row, c), primary) for c in columns):
                    yield None


def _is_stale(token: str | None, primary: int) -> bool:
    return token is not None and FieldCipher.key_version(token) != primary
