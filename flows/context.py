"""The Harbour App a flow's tasks work with: built once per process from ``HARBOUR_*`` settings."""

from __future__ import annotations

from harbour.app import App
from harbour.clock import FixedClock
from harbour.settings import load_settings

_app: App | None = None


def harbour_app() -> App:
    """This process's App; each task still opens its own unit of work on it."""
    global _app
    if _app is None:
        settings = load_settings()
        frozen = settings.frozen_time
        _app = App(settings, FixedClock(frozen)) if frozen else App(settings)
    return _app


def use_app(app: App | None) -> None:
    """Tests and benchmarks hand the flows their own App (a temporary store, a fixed clock)."""
    global _app
    _app = app
