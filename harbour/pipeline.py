"""What happens after a change is committed: in the embedded mode the CLI runs the lifecycle steps
itself; with Prefect (HARBOUR_ORCHESTRATION=prefect) the deployments do, and the CLI returns."""

from __future__ import annotations

from harbour.app import App


def after_commit(app: App) -> None:
    """Process recorded lifecycle events in-process (embedded mode only)."""
    if app.settings.orchestration != "inline":
        return
