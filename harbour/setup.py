"""`harbour init`: the embedded store, its keyring, the first agency and its admin."""

from __future__ import annotations

from harbour.app import App, UnitOfWork
from harbour.crypto import Keyring
from harbour.db import migrate
from harbour.domain.vocab import Role
from harbour.staffing import AgencyIn, StaffIn, create_agency, create_staff
from harbour.validation import parse


def ensure_keyring(app: App) -> bool:
    """Create the key file (mode 0600) unless keys exist; True if a key was made."""
    settings = app.settings
    if settings.encryption_keys is not None or settings.resolved_key_file.exists():
        return False
    Keyring.generate().save(settings.resolved_key_file)
    return True


def init(app: App, agency: str, admin: str) -> bool:
    """Idempotent: a second run with the same names changes nothing. True if keys were made."""
    agency_in = parse(AgencyIn, {"name": agency, "timezone": app.settings.timezone}, "--agency")
    admin_in = parse(StaffIn, {"handle": admin, "agency": agency, "role": Role.ADMIN}, "--admin")
    app.settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    made_keys = ensure_keyring(app)
    migrate.upgrade(app.engine)

    def work(uow: UnitOfWork) -> None:
        from sqlalchemy import select

        from harbour.access import audit
        from harbour.db.models import Agency, Staff

        if uow.session.scalar(select(Agency).where(Agency.name == agency_in.name)) is None:
            create_agency(uow, agency_in)
        if uow.session.scalar(select(Staff).where(Staff.handle == admin_in.handle)) is None:
            create_staff(uow, admin_in)
            audit(uow, None, "store.init", agency_name=agency_in.name, admin=admin_in.handle)

    app.run(work)
    return made_keys
