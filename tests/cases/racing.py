"""Jobs released at once, each on an App of its own (a process of its own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harbour.app import App
from tests.cases.test_concurrency import _at_once, _processes


def race(app: App, *jobs: Callable[[App], Any]) -> list[Any]:
    """The jobs' results, in order (a raised error as its text), run together, each on an App
    of its own on ``app``'s store."""
    apps = _processes(app, len(jobs))
    try:
        return _at_once([lambda j=job, a=own: j(a) for job, own in zip(jobs, apps, strict=True)])
    finally:
        for own in apps:
            own.dispose()
