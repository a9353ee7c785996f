"""What runs the lifecycle's background work in the demo: Harbour's own inline pipeline, or
Prefect flow runs (``harbour/demo/prefect_runs.py``). Both run the same steps; only who calls them differs.

The urgent lane is never the orchestrator's business: the demo sends it as every CLI command does,
right after the change that enqueued it (``harbour.orchestration.pipeline.after_commit``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from harbour.app import App
from harbour.orchestration import pipeline, sweep


class Orchestrator(Protocol):
    name: str

    def process(self, app: App) -> list[str]:
        """Do the work of the lifecycle events just recorded; the names of what ran."""
        ...

    def sweep(self, app: App, at: datetime) -> dict[str, int]:
        """One reassessment sweep as of ``at``, then deliver; the sweep's counts."""
        ...

    def deliver(self, app: App) -> int:
        """Send what the outbox holds; how many were sent."""
        ...


def triggered(app: App) -> list[tuple[str, pipeline.Pending]]:
    """The recorded, unprocessed events that start a flow, oldest first, with its name."""
    found = pipeline.pending(app, before=None, limit=1000)
    return [(name, event) for event in found if (name := pipeline.flow_for(app, event)) is not None]


class Inline:
    """Harbour's embedded mode (docs/orchestration.md, mode 1): the steps run in this process."""

    name = "inline"

    def process(self, app: App) -> list[str]:
        names = [name for name, _ in triggered(app)]
        pipeline.process_pending(app, before=app.clock.now(), limit=pipeline.INLINE_BATCH)
        pipeline.deliver(app)
        return names

    def sweep(self, app: App, at: datetime) -> dict[str, int]:
        report = sweep.sweep(app, at).as_json()
        report["delivered"] = pipeline.deliver(app)
        return report

    def deliver(self, app: App) -> int:
        return pipeline.deliver(app)
