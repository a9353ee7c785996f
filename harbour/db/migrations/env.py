"""Alembic environment: runs on the connection Harbour hands it (see harbour.db.migrate)."""

from __future__ import annotations

from alembic import context

from harbour.db import models  # noqa: F401  (registers every table)
from harbour.db.base import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copy
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
