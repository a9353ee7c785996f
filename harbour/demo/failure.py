"""The demo's own failure: Harbour did something other than the story expects (exit code 1)."""

from __future__ import annotations

from harbour.errors import HarbourError


class DemoFailure(HarbourError):
    default_code = "demo_failed"
