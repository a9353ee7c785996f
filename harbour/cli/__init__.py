"""The ``harbour`` command line. Exit codes: 0 ok, 1 error, 2 bad usage or bad input."""

from __future__ import annotations

import os
import sys

# Pydantic plugins off, before any model is defined: a plugin (an observability one, say) would
# be handed every value Harbour validates, youth data included (guide/confidentiality.md), and
# looking for one scans the metadata of every installed distribution on each command's start.
os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"

# Each module registers its commands; this order is the order of `harbour --help`.
# isort: off
from harbour.cli import admin, case, case_people, demo  # noqa: F401
from harbour.cli import assess, plan, notify, orchestration, web  # noqa: F401
from harbour.cli import missing, visit, report  # noqa: F401

# isort: on
from harbour.cli.base import cli


def main() -> None:
    from harbour.cli.base import run

    os.umask(0o077)  # the store, its WAL and everything written are the owner's alone
    sys.exit(run(cli))


__all__ = ["cli", "main"]
