"""Key rotation: add a key, then re-encrypt every sealed value to it in small committed batches.

Old keys stay in the keyring, so every row is readable at every moment; the new key's check value
is recorded in the store as its primary once the key file holds it (``harbour.db.storekeys``). A rotation killed midway
is finished by running it again: while any value is sealed under an older key, ``rotate`` resumes
instead of adding another key. Each value is swapped only if it is still the token that was read,
so a rotation never overwrites a concurrent edit nor bumps a row's version. Then each case's
blind index (``harbour.cases.duplicates``) is recomputed under the new key, batch by batch too.
Processes already running go on sealing under the old key until they next ask the store for
its primary (every ``key_recheck_seconds``): the rotation waits that out and moves what they
wrote meanwhile, so when it returns no value is left under an old key.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from sqlalchemy import ColumnElement, Table, and_, func, or_, select, text, update

from harbour.app import App, UnitOfWork, load_keyring
from harbour.cases import duplicates
from harbour.crypto import TOKEN_PREFIX, FieldCipher
from harbour.db import storekeys
from harbour.db.base import Base, sealed_columns
from harbour.db.models import YouthIndex
from harbour.errors import ConfigError, Conflict

Progress = Callable[[int, int], None]


def sealed_tables() -> list[type[Base]]:
    from harbour.db import models  # noqa: F401  (registers every table)

    mappers = sorted(Base.registry.mappers, key=lambda m: m.class_.__name__)
    return [m.class_ for m in mappers if sealed_columns(m.class_)]


def stale_count(app: App) -> int:
    """How many sealed values and blind indexes are not under the primary key."""
    return app.run(_stale_total)


def _stale_total(uow: UnitOfWork) -> int:
    primary = uow.app.cipher.primary
    stale_index = select(func.count()).where(YouthIndex.key_id != primary)
    total = uow.session.scalar(stale_index) or 0
    for table in sealed_tables():
        for column in _columns(table):
            query = select(func.count()).where(_stale(column, primary))
            total += uow.session.scalar(query.select_from(column.table)) or 0
    return total


@dataclass(frozen=True)
class KeyStatus:
    """Where a key rotation stands, as ``keys status`` and the console's keys page show it:
    key versions and counts only, never a key."""

    primary: int  # the version new values are sealed under
    versions: tuple[int, ...]  # every key of the keyring (old ones read older values)
    stale: int  # values and blind indexes still under an older key: a rotation to finish

    @property
    def finished(self) -> bool:
        return self.stale == 0

    def as_json(self) -> dict[str, object]:
        shown = {"primary": self.primary, "versions": list(self.versions), "stale": self.stale}
        return shown | {"finished": self.finished}


def key_status(app: App, actor_handle: str | None) -> KeyStatus:
    """The keyring's versions and how many values a rotation has still to move (operators
    only, audited in the store's trail). Read-only: rotating stays ``harbour keys rotate``."""
    from harbour.access import store_operation

    app.reload_keys()  # a rotation running elsewhere may have added a key since we started

    def work(uow: UnitOfWork) -> KeyStatus:
        store_operation(uow, actor_handle, "keys.status")
        keyring = uow.app.cipher.keyring
        # Status read with another store's keyring, or one from before the last rotation,
        # named that keyring's primary as the store's and counted every value as one for
        # `keys rotate` to move (which then refused). Read-only: a store with no key recorded
        # yet is left to its first write.
        if keys := storekeys.recorded(uow.session):
            storekeys.check_held(keys, keyring, primary=True)
        return KeyStatus(uow.app.cipher.primary, tuple(sorted(keyring.keys)), _stale_total(uow))

    return app.run(work)


def rotate(app: App, progress: Progress = lambda done, total: None) -> tuple[int, int]:
    """Rotate (or resume a rotation); returns (primary key version, values re-encrypted).

    With keys from ``HARBOUR_ENCRYPTION_KEYS`` Harbour cannot add a key itself: the operator adds
    one there and makes it primary, and ``rotate`` then re-encrypts to it.
    """
    with _rotation_lock(app):
        app.cipher = FieldCipher(load_keyring(app.settings))
        app.run(lambda uow: uow.check_keys("write"))  # only this store's keyring moves on
        total = stale_count(app)
        if total == 0:
            _add_key(app)
            total = stale_count(app)
        app.run(_record_primary)  # after the key file holds it: writers must have it from now
        recorded = time.monotonic()
        done = 0
        while True:
            for moved in _moves(app):
                done += moved
                progress(done, total)
            # A process that last asked the store before the record may seal under the old key
            # until it asks again: wait that out, then move what it wrote, if anything.
            time.sleep(max(0.0, recorded + app.settings.key_recheck_seconds - time.monotonic()))
            _wait_for_older_transactions(app)
            left = stale_count(app)
            if not left:
                return app.cipher.primary, done
            total = done + left


OLDER_TRANSACTIONS_WAIT = 60.0  # seconds a rotation waits for transactions older than its end


def _wait_for_older_transactions(app: App) -> None:
    """Let every transaction begun before now end, so that the count after sees what they
    wrote: one that sealed under the old key before its process moved on may not have
    committed yet, and PostgreSQL's count would not see it (READ COMMITTED). SQLite's count
    takes the write lock, after any writer, already.

    Raises:
        Conflict: code ``transaction_open``, when one is still open after a minute.
    """
    if app.engine.dialect.name != "postgresql":
        return
    older = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND xact_start < :since"
        # Clients only: autovacuum's workers seal nothing, and would hold the rotation up.
        " AND backend_type = 'client backend'"
    )
    deadline = time.monotonic() + OLDER_TRANSACTIONS_WAIT
    with app.engine.connect() as connection:
        since = connection.scalar(text("SELECT clock_timestamp()"))
        while connection.scalar(older, {"since": since}):
            connection.rollback()  # the activity view is read once per transaction
            if time.monotonic() > deadline:
                raise Conflict(
                    "transaction_open",
                    "a database transaction open since before the rotation's end has not "
                    "ended: run `harbour keys rotate` again once it has (every value stays "
                    "readable meanwhile)",
                )
            time.sleep(0.05)


def _moves(app: App) -> Iterator[int]:
    """Re-encrypt every stale value, then recompute every stale blind index; yields how many
    each committed batch moved."""
    for table in sealed_tables():
        yield from _reseal_table(app, table)
    yield from _reindex(app)


def _add_key(app: App) -> None:
    if app.settings.encryption_keys is not None:
        raise ConfigError(
            "keys_from_environment",
            "keys come from HARBOUR_ENCRYPTION_KEYS, so Harbour cannot add one: add a key there, "
            "make it primary, then run `harbour keys rotate` to re-encrypt",
        )
    keyring = app.cipher.keyring.with_new_key()
    keyring.save(app.settings.resolved_key_file)  # on disk before any value uses it
    app.cipher = FieldCipher(keyring)


def _record_primary(uow: UnitOfWork) -> None:
    storekeys.record_primary(uow.session, uow.app.cipher.keyring, uow.now())


def _reseal_table(app: App, table: type[Base]) -> Iterator[int]:
    """Re-encrypt one table's stale values batch by batch; yields how many each batch moved."""
    after = ""
    while True:
        last, moved = app.run(partial(_reseal_batch, table=table, after=after))
        if last is None:
            return
        after = last
        if moved:
            yield moved


def _reindex(app: App) -> Iterator[int]:
    """Recompute the blind indexes not under the primary key, a committed batch at a time."""
    while True:
        moved = app.run(_reindex_batch)
        if not moved:
            return
        yield moved


def _reindex_batch(uow: UnitOfWork) -> int:
    primary = uow.app.cipher.primary
    stale = select(YouthIndex.case_id).where(YouthIndex.key_id != primary).order_by(YouthIndex.id)
    case_ids = list(uow.session.scalars(stale.limit(uow.app.settings.key_rotation_batch)))
    for case_id in case_ids:
        duplicates.reindex(uow, case_id)
    return len(case_ids)


def _reseal_batch(uow: UnitOfWork, *, table: type[Base], after: str) -> tuple[str | None, int]:
    """Re-encrypt the stale values of the next batch of rows; returns (last id or None, count)."""
    cipher = uow.app.cipher
    columns = _columns(table)
    core: Table = table.__table__  # type: ignore[assignment]
    stale = or_(*(_stale(c, cipher.primary) for c in columns))
    rows = uow.session.execute(
        select(core.c.id, *columns)
        .where(stale, core.c.id > after)
        .order_by(core.c.id)
        .limit(uow.app.settings.key_rotation_batch)
    ).all()
    moved = 0
    for row in rows:
        for column in columns:
            token = row._mapping[column]
            if token is None or cipher.key_version(token) == cipher.primary:
                continue
            where = {"table": core.name, "row_id": row.id, "field": _field(column)}
            fresh = cipher.encrypt(cipher.decrypt(token, **where), **where)
            swap = update(core).where(core.c.id == row.id, column == token).values({column: fresh})
            uow.session.execute(swap)
            moved += 1
    return (rows[-1].id if rows else None), moved


def _columns(table: type[Base]) -> list[ColumnElement[str | None]]:
    core: Table = table.__table__  # type: ignore[assignment]
    return [core.c[name] for name in sealed_columns(table)]


def _field(column: ColumnElement[str | None]) -> str:
    return str(column.key).removesuffix("_sealed")


def _stale(column: ColumnElement[str | None], primary: int) -> ColumnElement[bool]:
    return and_(column.is_not(None), ~column.startswith(f"{TOKEN_PREFIX}:{primary}:"))


@contextmanager
def _rotation_lock(app: App) -> Iterator[None]:
    """One rotation at a time: two adding a key at once would each write a different key 2."""
    if app.settings.encryption_keys is not None:
        yield
        return
    path = app.settings.resolved_key_file
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict("rotation_running", "another key rotation is running") from None
        yield
