"""The application context: settings, engine, cipher and clock, and units of work over them."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from harbour.clock import Clock, SystemClock
from harbour.crypto import FieldCipher, Keyring
from harbour.db.base import Base
from harbour.db.engine import READ_ONLY, make_engine
from harbour.domain import refs
from harbour.errors import ConfigError, Conflict, CryptoError, HarbourError
from harbour.reference import Reference, load_reference
from harbour.settings import Settings

if TYPE_CHECKING:
    from datetime import datetime

T = TypeVar("T")

_TRANSIENT = ("database is locked", "could not serialize", "deadlock detected", "too many clients")
# A statement binding more values than the database takes (SQLite's 32,766; PostgreSQL's
# 65,535): a fault in Harbour, not a database out of reach, which is how it used to be told.
_TOO_MANY_VALUES = ("too many sql variables", "number of parameters must be between")
RETRIES = 8
# Work that commutes is run again after a stale conflict: this many attempts in all, each after
# a random wait of up to STALE_WAIT * 2**n seconds (so rivals that met once spread apart).
STALE_ATTEMPTS = 8
STALE_WAIT = 0.01


@dataclass
class App:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    keyring: Keyring | None = None
    # New case references; the demo hands in a seeded generator so its runs repeat exactly.
    references: Callable[[], str] = refs.new_reference
    # The urgent outbox rows written since a command started (None outside commands): a
    # command warns about its own pages only, never about another person's delivery problems.
    urgent_written: set[str] | None = None
    # False for the commands that only use a store (all but `init` and `db upgrade`): a SQLite
    # file that is not there is refused as no store, not created empty where it was looked for.
    may_create_store: bool = True

    @cached_property
    def engine(self) -> Engine:
        url = self.settings.resolved_database_url
        if not self.may_create_store:
            _refuse_a_missing_sqlite_file(url)
        return make_engine(url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return sessionmaker(self.engine, expire_on_commit=False)

    @cached_property
    def reference(self) -> Reference:
        """The policy, instrument and catalogue, loaded once for this App and handed to rules."""
        return load_reference(self.settings)

    @cached_property
    def cipher(self) -> FieldCipher:
        return FieldCipher(self.keyring or load_keyring(self.settings))

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self)

    def run(self, work: Callable[[UnitOfWork], T], *, commutes: bool = False) -> T:
        """Run ``work`` in one transaction and commit; retry it whole on a transient lock.

        ``commutes``: the work's change lands the same whatever concurrent changes it meets
        (adding an item to a draft, processing a lifecycle event); when a row it read changed
        before it wrote, it is run again, whole, from a fresh read (a few times, after a short
        random wait) instead of refused as stale. Work whose meaning depends on what was read
        (a decision on an item, a finalize) keeps the refusal.

        Raises:
            Conflict: code ``stale``, when a row changed since it was read (optimistic locking).
            HarbourError: the database is unreachable or unmigrated (codes only, never values).
        """
        transient = stale = 0
        while True:
            try:
                with self.uow() as uow:
                    result = work(uow)
                    uow.commit()
                    return result
            except StaleDataError:
                stale += 1
                if not commutes or stale == STALE_ATTEMPTS:
                    raise Conflict(
                        "stale", "the record changed since it was read; try again"
                    ) from None
                time.sleep(random.uniform(0, STALE_WAIT * 2**stale))  # apart from its rivals
            except PoolTimeout:
                raise HarbourError("database_busy", "no database connection came free") from None
            except DBAPIError as exc:
                transient += 1
                if transient == RETRIES or not _is_transient(exc):
                    raise _safe_database_error(exc, self.store_location) from None
                time.sleep(0.05 * 2 ** (transient - 1))

    def read(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work``, which only reads, in one transaction rolled back at the end: on SQLite
        it takes no lock (WAL), so a long scan (the sweep's) keeps no writer waiting. Its
        database errors are told by code as ``run``'s are (not retried: a read waits on no
        lock)."""
        try:
            with self.uow() as uow:
                uow.session.connection(execution_options={READ_ONLY: True})
                return work(uow)
        except PoolTimeout:
            raise HarbourError("database_busy", "no database connection came free") from None
        except DBAPIError as exc:
            raise _safe_database_error(exc, self.store_location) from None

    @property
    def store_location(self) -> str:
        """Where the store is looked for, as it may be shown: a SQLite file's path, or the
        database URL without its password and without its query (libpq takes a password
        there too, ``?password=``, and ``sslpassword``)."""
        url = make_url(self.settings.resolved_database_url)
        if url.get_backend_name() == "sqlite":
            return url.database or "(in memory)"
        return url.set(query={}).render_as_string(hide_password=True)

    def check_store(self, use: str = "read") -> None:
        """Refuse, before any work, a store that is not there, whose schema is at another
        revision than this Harbour's (``schema.check``), or a keyring that is not its own for
        ``use`` (``UnitOfWork.check_keys``): asked once where work starts (a command, the
        console, a flow's App), so that nothing runs on a store with another store's key file,
        not only what seals or unseals. Two queries; a key file that cannot be read is told only
        once a store was found there (a HARBOUR_HOME with no store has no key file either)."""
        from harbour.db import schema, storekeys  # as in _check_keys: it maps every table

        def check(uow: UnitOfWork) -> None:
            schema.check(uow.session, _known_revisions)
            try:
                uow.check_keys(use)
            except CryptoError:
                storekeys.recorded(uow.session)  # no store there: that is what is said
                raise

        if use == "write":
            self.run(check)  # a store with no key recorded records this keyring's primary
        else:
            self.read(check)

    def reload_keys(self) -> bool:
        """Pick up keys added since start (a rotation in another process); False if fixed keys."""
        if self.keyring is not None:
            return False
        self.cipher = FieldCipher(load_keyring(self.settings))
        return True

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


class UnitOfWork:
    """One transaction; seals and unseals identifying fields bound to their row."""

    session: Session

    def __init__(self, app: App) -> None:
        self.app = app
        self._inserting: list[Base] | None = None  # the rows of an ``inserting`` block

    def __enter__(self) -> UnitOfWork:
        self.session = self.app.sessions()
        self._after_rollback: list[Base] = []
        # Values worked out once per transaction (the notification routes, say); whoever
        # changes what one was worked out from forgets it.
        self.memo: dict[str, Any] = {}
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.rollback()
        self.session.close()
        if self._after_rollback:
            # Written once the work's own transaction is gone: on SQLite it holds the write lock.
            with self.app.sessions() as session, session.begin():
                session.add_all(self._after_rollback)
            self._after_rollback = []

    def commit(self) -> None:
        self.session.add_all(self._after_rollback)
        self._after_rollback = []
        self.session.commit()

    def add(self, row: Base) -> None:
        """Add a new row: to the session, written by its next flush; within ``inserting``, to
        the rows written at the end of its block."""
        if self._inserting is None:
            self.session.add(row)
        else:
            self._inserting.append(row)

    @contextmanager
    def inserting(self) -> Iterator[None]:
        """The rows ``add``ed within the block, every one of them new, are written at its end
        (none if it raises): one INSERT per table (rows of a table setting the same columns), in
        foreign-key order, by Core on the transaction's connection. They never enter the
        session: its add, flush and expunge, and the ORM's bulk path, cost a small transaction
        more than its statements do (issue 16). So no query sees them before the block ends;
        read them afterwards, don't change them. A value set to None is written as NULL; a
        column's default fills one never set."""
        assert self._inserting is None, "an inserting block is not nested"
        rows: list[Base] = []
        self._inserting = rows
        try:
            yield
        finally:
            self._inserting = None
        self._insert(rows)

    def _insert(self, rows: list[Base]) -> None:
        order = _table_order()
        rows.sort(key=lambda row: order[row.__table__])  # stable: a table's rows keep their order
        connection = self.session.connection()
        with _pipelined(connection):
            for table, of_table in groupby(rows, lambda row: row.__table__):
                keys = _column_keys(table)
                values = [{k: v for k, v in vars(row).items() if k in keys} for row in of_table]
                for _, same in groupby(values, dict.keys):  # an executemany binds the same columns
                    connection.execute(_insert(table), list(same))

    def record_after_rollback(self, row: Base) -> None:
        """Keep ``row`` (a denied attempt's audit event) even though the work is rolled back."""
        self._after_rollback.append(row)

    def now(self) -> datetime:
        return self.app.clock.now()

    @property
    def reference(self) -> Reference:
        return self.app.reference

    def check_keys(self, use: str) -> None:
        """Refuse to ``use`` ("read" or "write") a keyring that is not this store's: checked
        once per keyring, and again with the keys on disk when another process rotated them.
        A writer asks again every ``key_recheck_seconds``: a rotation elsewhere makes a new key
        primary, and values sealed under the old one after it would stay behind it."""
        cipher = self.app.cipher
        if use in cipher.checked_for and (use == "read" or not self._write_check_due(cipher)):
            return
        with self.session.no_autoflush:  # a row being built is not flushed by the check's reads
            try:
                self._check_keys(use)
            except CryptoError as exc:
                if exc.code != "wrong_keyring" or not self.app.reload_keys():
                    raise
                self._check_keys(use)

    def _write_check_due(self, cipher: FieldCipher) -> bool:
        return time.monotonic() - cipher.write_checked_at >= self.app.settings.key_recheck_seconds

    def _check_keys(self, use: str) -> None:
        # Imported here: it maps every table, which a command that never opens the store
        # (`harbour catalogue`, `instrument show`) need not pay for at start.
        from harbour.db import storekeys

        cipher = self.app.cipher
        if storekeys.check(self.session, cipher.keyring, writing=use == "write", now=self.now()):
            cipher.checked_for.add(use)
            if use == "write":
                cipher.checked_for.add("read")
                cipher.write_checked_at = time.monotonic()

    def seal(self, row: Base, field: str, value: str | None) -> None:
        token = None
        if value is not None:
            self.check_keys("write")
            token = self.app.cipher.encrypt(
                value, table=row.__tablename__, row_id=_row_id(row), field=field
            )
        setattr(row, f"{field}_sealed", token)

    def unseal(self, row: Base, field: str) -> str | None:
        return self.unseal_token(getattr(row, f"{field}_sealed"), row.__tablename__, row, field)

    def unseal_token(self, token: str | None, table: str, row: Any, field: str) -> str | None:
        """``unseal`` of a token read as a column (not on a loaded row): ``row`` has its id."""
        if token is None:
            return None
        self.check_keys("read")
        where = {"table": table, "row_id": _row_id(row), "field": field}
        try:
            return self.app.cipher.decrypt(token, **where)
        except CryptoError as exc:
            # A rotation elsewhere may have re-sealed this value under a key added since we started.
            if exc.code != "key_missing" or not self.app.reload_keys():
                raise
            return self.app.cipher.decrypt(token, **where)


@cache
def _table_order() -> dict[Any, int]:
    """Each table's place in foreign-key order (a table after those it refers to)."""
    return {table: i for i, table in enumerate(Base.metadata.sorted_tables)}


@contextmanager
def _pipelined(connection: Connection) -> Iterator[None]:
    """On PostgreSQL, the statements run in the block are sent together (psycopg's pipeline
    mode) and their results awaited once at its end: a round trip for them all instead of one
    each. Only for statements whose results are not read (INSERTs without RETURNING). An error
    is raised as SQLAlchemy's (an IntegrityError stays one), with no bound values."""
    dbapi_connection = connection.connection.dbapi_connection
    if connection.dialect.driver != "psycopg" or dbapi_connection is None:
        yield
        return
    error = connection.dialect.loaded_dbapi.Error
    try:
        with dbapi_connection.pipeline():
            yield
    except error as exc:
        raise DBAPIError.instance(
            None, None, exc, error, hide_parameters=True, dialect=connection.dialect
        ) from None


@cache
def _column_keys(table: Any) -> frozenset[str]:
    """The attribute names of ``table``'s columns (the mapping names each as its column)."""
    return frozenset(table.columns.keys())


@cache
def _insert(table: Any) -> Any:
    """``table``'s INSERT, built once (its compiled form is cached for each set of columns);
    inline: the database's generated values (the audit log's ``seq``) are not read back, so no
    RETURNING and nothing to wait for."""
    return table.insert().inline()


def _known_revisions() -> set[str]:
    from harbour.db import migrate  # Alembic: only for a store at another revision

    return migrate.known_revisions()


def _row_id(row: Any) -> str:
    if not row.id:
        raise ValueError("a row needs its id before a value can be sealed to it")
    return str(row.id)


def _is_transient(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return any(marker in text for marker in _TRANSIENT)


def _refuse_a_missing_sqlite_file(url: str) -> None:
    """SQLite makes a database file wherever it is asked to open one: a store looked for in the
    wrong folder would leave an empty file there."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return
    if not Path(parsed.database).exists():
        raise ConfigError(
            "store_not_initialised",
            f"no store there (looked for {parsed.database}): run `harbour init` "
            "(or check HARBOUR_HOME)",
        )


def _safe_database_error(exc: DBAPIError, where: str) -> Exception:
    """Errors users see name no value (``where`` is the store's location, password hidden);
    integrity errors stay as they are for callers to handle."""
    if type(exc.orig).__name__ == "UndefinedTable" or "no such table" in str(exc.orig):
        return ConfigError(
            "store_not_initialised",
            f"no store in {where}: run `harbour init` or `harbour db upgrade`",
        )
    if "unable to open database file" in str(exc.orig):  # SQLite: no store in that folder
        return ConfigError(
            "store_not_initialised",
            f"no store there (looked for {where}): run `harbour init` (or check HARBOUR_HOME)",
        )
    if _is_transient(exc):
        return HarbourError("database_busy", "the database stayed busy; try again")
    if any(marker in str(exc.orig).lower() for marker in _TOO_MANY_VALUES):
        return HarbourError("statement_too_large", "a statement bound more values than allowed")
    if isinstance(exc, OperationalError):
        reason = f"{type(exc.orig).__name__}: the database cannot be reached or opened"
        return HarbourError("database_unavailable", reason)
    return exc


def load_keyring(settings: Settings) -> Keyring:
    if settings.encryption_keys is not None:
        return Keyring.from_json(
            settings.encryption_keys.get_secret_value(), "HARBOUR_ENCRYPTION_KEYS"
        )
    return Keyring.load(settings.resolved_key_file)
