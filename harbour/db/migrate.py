"""Schema migrations (Alembic, kept inside the package) run on Harbour's own engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(rev)s")
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config(None)).get_current_head()


def known_revisions() -> set[str]:
    """Every revision this Harbour's migrations hold."""
    script = ScriptDirectory.from_config(_config(None))
    return {revision.revision for revision in script.walk_revisions()}


def autogenerate(engine: Engine, message: str, rev_id: str) -> None:
    """Developer tool: write a new migration from the difference between models and ``engine``."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True, rev_id=rev_id)
