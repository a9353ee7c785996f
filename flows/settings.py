"""Prefect's settings as Harbour needs them, applied before ``prefect`` is first imported.

Every process that runs Harbour's flows (the CLI's ``serve``, workers' child processes, tests)
imports ``flows``, whose ``__init__`` calls :func:`apply` first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from harbour.notify.routes import pin_apprise_logger

# Telemetry off (guide/confidentiality.md rule 10); prints never become Prefect logs.
FORCED = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
}
# Defaults an operator may change: a served deployment notices a triggered run within a second.
DEFAULTS = {
    "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    "PREFECT_LOGGING_LEVEL": "INFO",
}
_LEVEL_VARIABLES = ("PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_ROOT_LEVEL")


def apply() -> None:
    """Set Prefect's environment: analytics off, logging no more verbose than INFO."""
    os.environ.update(FORCED)
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    for name in _LEVEL_VARIABLES:
        if os.environ.get(name, "").upper() == "DEBUG":
            os.environ[name] = "INFO"  # DEBUG logs would carry request bodies and parameters
    pin_apprise_logger()


@contextmanager
def without_heartbeat() -> Iterator[None]:
    """Runs in this context skip the flow-run heartbeat thread.

    Each synchronous flow run otherwise waits up to a second at its end for that thread; Harbour
    finds unfinished work from its own database (``processed_at``), not from Prefect's heartbeats.
    Prefect reads this setting only from Python, not from the environment.
    """
    from prefect.settings import temporary_settings

    with temporary_settings(updates={"flows.heartbeat_frequency": None}):  # type: ignore[dict-item]
        yield


def disable_heartbeat_for_process() -> None:
    """The process-wide form of :func:`without_heartbeat`, for a worker's or runner's child process
    where the engine runs the flow after importing its module."""
    import prefect.context

    current = prefect.context.get_settings_context()
    settings = current.settings.copy_with_update(updates={"flows.heartbeat_frequency": None})  # type: ignore[dict-item]
    prefect.context.GLOBAL_SETTINGS_CONTEXT = prefect.context.SettingsContext(
        profile=current.profile, settings=settings
    )
