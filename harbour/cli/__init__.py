"""The ``harbour`` command line. Exit codes: 0 ok, 1 error, 2 bad usage or bad input."""

from __future__ import annotations

import os
import sys

from harbour.cli import admin, case_details, core, demo, documents, domain, notify, orchestration  # noqa: F401  (register commands)
from harbour.cli.app import cli


def main() -> None:
    from harbour.cli.app import run

    os.umask(0o077)  # the store, its WAL and everything written are the owner's alone
    sys.exit(run(cli))


__all__ = ["cli", "main"]
