"""Harbour's Prefect settings: no telemetry, nothing more verbose than INFO, no heartbeat."""

from __future__ import annotations

import logging
import os

import pytest

from flows import settings


def test_every_flow_process_has_telemetry_off_and_no_heartbeat() -> None:
    from prefect.context import GLOBAL_SETTINGS_CONTEXT

    assert os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert os.environ["DO_NOT_TRACK"] == "1"
    assert os.environ["PREFECT_LOGGING_LOG_PRINTS"] == "false"
    assert GLOBAL_SETTINGS_CONTEXT.settings.flows.heartbeat_frequency is None
    assert logging.getLogger("apprise").level == logging.WARNING


def test_debug_logging_is_lowered_to_info(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "DEBUG")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "true")
    settings.apply()
    assert os.environ["PREFECT_LOGGING_LEVEL"] == "INFO"
    assert os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
