"""Run by test_crash in a subprocess: the relay, killed (SIGKILL) at the step named by CRASH_AT."""

from __future__ import annotations

import os
import signal
import sys
from datetime import timedelta
from typing import Any

from harbour.app import App
from harbour.clock import FixedClock
from harbour.notify import relay
from harbour.settings import load_settings


def die(*_: Any, **__: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def marked_then_die(*args: Any, **kwargs: Any) -> None:
    real_record(*args, **kwargs)
    die()


real_record = relay.record
point = os.environ["CRASH_AT"]
if point == "before_send":
    relay.send = die  # type: ignore[assignment]
elif point == "after_send":
    relay.record = die  # type: ignore[assignment]
elif point == "after_mark":
    relay.record = marked_then_die  # type: ignore[assignment]

settings = load_settings()
assert settings.frozen_time is not None
app = App(settings, FixedClock(settings.frozen_time))
config = relay.RelayConfig(workers=1, prefetch=1, timeout=5.0, lease=timedelta(minutes=2))
relay.deliver(app, config=config)
sys.exit(3)  # the crash did not happen
