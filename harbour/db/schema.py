"""The schema revision this Harbour works with, and the refusal of a store at another one.

Checked where work starts (``App.check_store``): a store that a newer Harbour upgraded, or one
not yet upgraded for this Harbour, is refused before any work, with what to do, instead of
failing at its first missing table or column, halfway through a command.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from harbour.errors import ConfigError

# The migrations' head (``migrate.head_revision``; a test holds the two together): read here
# without Alembic, which every command would otherwise import to start.
SCHEMA_REVISION = "0001_initial"
REVISION_TABLE = "alembic_version"  # Alembic's record of the revision a schema is at


def check(session: Session, known: Callable[[], set[str]]) -> None:
    """Refuse a store whose schema is not at ``SCHEMA_REVISION``; ``known``: the revisions
    this Harbour's migrations hold (asked only when the store's differs)."""
    found = session.scalars(text(f"SELECT version_num FROM {REVISION_TABLE}")).all()
    if found != [SCHEMA_REVISION]:
        raise refusal(found[0] if len(found) == 1 else None, known())


def refusal(found: str | None, known: set[str]) -> ConfigError:
    """What a store at revision ``found`` is told (None: none, or several, recorded)."""
    if found is not None and found in known:
        return ConfigError(
            "store_needs_upgrade",
            f"the store's schema is at revision {found}, this Harbour needs {SCHEMA_REVISION}: "
            "run `harbour db upgrade` (back the store up first)",
        )
    if found is None:
        return ConfigError(
            "store_schema_unknown",
            f"the store records no one schema revision (this Harbour needs {SCHEMA_REVISION}): "
            "not a store Harbour made or upgraded",
        )
    return ConfigError(
        "store_schema_unknown",
        f"the store's schema is at revision {found}, which this Harbour does not know (it "
        f"needs {SCHEMA_REVISION}): a newer Harbour upgraded it; run that one",
    )
