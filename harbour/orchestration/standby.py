"""While the Prefect server is out of reach, what its deployments would do, done in-process.

``harbour serve`` (and ``--publish-only``) notices through its event publisher that the server
cannot be reached. Meanwhile no relay or sweep deployment runs anywhere: an imminent alert
nobody acknowledged would stay at its first tier, a failed page unretried, a referral's
caseworker untold, until the server came back. Every step is idempotent and Harbour's database
is the record, so nothing is done twice once it is back (the sweep keeps ``PREFECT_GRACE`` for
events a flow may still take).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from harbour.app import App
from harbour.orchestration import pipeline, sweep

log = logging.getLogger(__name__)

SWEEP_EVERY = 15 * 60.0  # seconds: the sweep deployment's schedule


@dataclass
class Standby:
    """Called on every pass of the publisher that found the server away."""

    app: App
    monotonic: Callable[[], float] = time.monotonic
    swept_at: float | None = None

    def __call__(self) -> None:
        """The sweep, if a quarter of an hour has passed since this one last swept; the relay."""
        now = self.monotonic()
        if self.swept_at is None or now - self.swept_at >= SWEEP_EVERY:
            self.swept_at = now
            _logged("sweep", lambda: sweep.sweep(self.app))
        _logged("relay", lambda: pipeline.deliver(self.app))


def _logged(what: str, work: Callable[[], object]) -> None:
    try:
        work()
    except Exception as exc:  # codes only; the next pass tries again
        log.warning("%s while the Prefect server is away: %s", what, sweep.error_code(exc))
