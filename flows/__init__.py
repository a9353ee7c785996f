"""Harbour's Prefect flows: thin tasks over ``harbour`` that take and return opaque ids only.

Importing any ``flows.*`` module runs this first, so Prefect's settings are in place before
``prefect`` is imported where Harbour's code starts the process (``harbour serve``, the tests),
and every flow run in this process (a worker's or ``serve``'s child process included: it imports
the flow's module before running it) skips the heartbeat thread. A process that imported
``prefect`` first (``prefect worker start``) keeps the settings it was started with:
docs/orchestration.md says which to set there.
"""

from flows import settings as _settings

_settings.apply()
_settings.disable_heartbeat_for_process()
