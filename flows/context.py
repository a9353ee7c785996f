"""The Harbour App a flow's tasks work with: built once per process from ``HARBOUR_*`` settings,
with the notification routes from a Prefect Secret block when one is named."""

from __future__ import annotations

from pydantic import SecretStr

from harbour.app import App
from harbour.clock import FixedClock
from harbour.errors import ConfigError
from harbour.settings import Settings, load_settings

_app: App | None = None


def harbour_app() -> App:
    """This process's App; each task still opens its own unit of work on it."""
    global _app
    if _app is None:
        settings = flow_settings(load_settings())
        frozen = settings.frozen_time
        app = App(settings, FixedClock(frozen)) if frozen else App(settings)
        app.check_store("write")  # another store's key file: every task refuses, none runs
        _app = app
    return _app


def flow_settings(settings: Settings) -> Settings:
    """The settings a flow runs with: Prefect's mode whatever the process's environment says (a
    worker started without HARBOUR_ORCHESTRATION ran the sweep with no grace for the events a
    flow of their own was taking), and the routes from a Secret block when one is named."""
    return with_secret_routes(settings).model_copy(update={"orchestration": "prefect"})


def with_secret_routes(settings: Settings) -> Settings:
    """``HARBOUR_APPRISE_SECRET_BLOCK`` names a Secret block holding the routes YAML: read it
    here (harbour itself never imports Prefect) and hand the text to the App. A routes file,
    when one is set too, wins."""
    name = settings.apprise_secret_block
    if name is None or settings.apprise_config is not None:
        return settings
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name).get()  # type: ignore[union-attr]  # sync: tasks are sync
    except Exception:  # Prefect's message would name the block and the server: codes only
        raise ConfigError(
            "bad_setting", "HARBOUR_APPRISE_SECRET_BLOCK: no such Secret block"
        ) from None
    if not isinstance(value, str):
        raise ConfigError("bad_setting", "HARBOUR_APPRISE_SECRET_BLOCK: not YAML text")
    return settings.model_copy(update={"apprise_yaml": SecretStr(value)})


def use_app(app: App | None) -> None:
    """Tests and benchmarks hand the flows their own App (a temporary store, a fixed clock)."""
    global _app
    _app = app
