"""HARBOUR_APPRISE_SECRET_BLOCK: the flows read the routes YAML from a Prefect Secret block."""

from __future__ import annotations

import pytest

from flows.context import flow_settings, with_secret_routes
from harbour.app import App
from harbour.demo.receivers import RouteBook
from harbour.errors import ConfigError
from harbour.notify.routes import load_routes
from tests.flows.conftest import PrefectServer


def test_the_routes_come_from_the_secret_block(
    prefect_server: PrefectServer, seeded: App, routes: RouteBook
) -> None:
    from prefect.blocks.system import Secret

    routes.chat("sup").email("cw1")
    Secret(value=routes.path.read_text()).save("harbour-routes-test", overwrite=True)
    named = seeded.settings.model_copy(update={"apprise_secret_block": "harbour-routes-test"})
    settings = with_secret_routes(named)
    assert settings.apprise_config is None and settings.apprise_yaml is not None
    found = load_routes(settings)
    assert not found.problems
    assert [r.channel for r in found.matching("sup")] == ["chat"]
    assert [r.channel for r in found.matching("cw1")] == ["email"]

    with_file = named.model_copy(update={"apprise_config": routes.path})
    assert with_secret_routes(with_file) is with_file  # a routes file wins

    missing = named.model_copy(update={"apprise_secret_block": "no-such-block-here"})
    with pytest.raises(ConfigError) as error:
        with_secret_routes(missing)
    assert "no-such-block-here" not in str(error.value)


def test_a_flow_runs_in_prefect_mode_whatever_its_worker_environment_says(seeded: App) -> None:
    inline = seeded.settings.model_copy(update={"orchestration": "inline"})
    assert flow_settings(inline).orchestration == "prefect"
