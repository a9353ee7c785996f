"""Developer tool: regenerate the initial migration from the models on an empty SQLite file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from harbour.db.engine import make_engine
from harbour.db.migrate import autogenerate

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'empty.db'}")
        autogenerate(engine, "initial schema", "0001_initial")
        engine.dispose()
