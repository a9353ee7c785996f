"""`harbour init`: the embedded store, its keyring, the first agency and its admin, who is the
installation's first operator."""

from __future__ import annotations

import stat
from dataclasses import dataclass

from harbour.admin.staffing import AgencyIn, StaffIn, create_agency, create_staff
from harbour.app import App, UnitOfWork
from harbour.crypto import Keyring
from harbour.db import migrate
from harbour.domain.vocab import Role
from harbour.errors import Conflict
from harbour.settings import Settings
from harbour.validation import parse


def ensure_keyring(app: App) -> bool:
    """Create the key file (mode 0600) for a new store unless keys exist; True if a key was made.
    A store that exists never gets new keys: its values open only with the keys they were sealed
    under, and a missing key file is restored from its backup."""
    settings = app.settings
    if settings.encryption_keys is not None or settings.resolved_key_file.exists():
        return False
    if app.run(_store_exists):
        return False  # the key check in `init` then says the key file is missing
    Keyring.generate().save(settings.resolved_key_file)
    return True


def _store_exists(uow: UnitOfWork) -> bool:
    from sqlalchemy import select

    from harbour.db.models import Agency, StoreKey

    return any(uow.session.scalar(select(t.id).limit(1)) is not None for t in (Agency, StoreKey))


@dataclass(frozen=True)
class Initialised:
    keys_created: bool
    home_was: int | None  # HARBOUR_HOME's mode before it was made owner-only, if it was wider


def private_home(settings: Settings) -> int | None:
    """Make HARBOUR_HOME (owner only, 0700); if it existed with wider modes, narrow it and
    return the mode it had, so that the command can say so."""
    home = settings.home
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & 0o077 == 0:
        return None
    home.chmod(0o700)
    return mode


def init(app: App, agency: str, admin: str) -> Initialised:
    """Idempotent: a second run with the same names changes nothing; other names on a store
    that has its first agency are refused (``agency add``, ``staff add`` add more)."""
    agency_in = parse(AgencyIn, {"name": agency, "timezone": app.settings.timezone}, "--agency")
    admin_fields = {"handle": admin, "agency": agency, "role": Role.ADMIN, "operator": True}
    admin_in = parse(StaffIn, admin_fields, "--admin")
    home_was = private_home(app.settings)
    migrate.upgrade(app.engine)
    made_keys = ensure_keyring(app)

    def work(uow: UnitOfWork) -> None:
        from sqlalchemy import select

        from harbour.access import audit_store
        from harbour.db.models import Agency, Staff

        uow.check_keys("write")  # a new store records its key; an existing one refuses others

        if uow.session.scalar(select(Agency.id).limit(1)) is not None:
            existing = uow.session.scalar(
                select(Staff)
                .join(Agency, Agency.id == Staff.agency_id)
                .where(Staff.handle == admin_in.handle, Agency.name == agency_in.name)
            )
            if existing is None or not existing.operator:
                raise Conflict(
                    "already_initialised",
                    "this store has its first agency and admin already: add an agency with "
                    "`harbour agency add NAME --admin HANDLE` and staff with `harbour staff add`",
                )
            return
        create_agency(uow, agency_in)
        create_staff(uow, admin_in)
        audit_store(uow, None, "store.init", agency_name=agency_in.name, admin=admin_in.handle)

    app.run(work)
    return Initialised(made_keys, home_was)
