"""What a command checks before doing any work: every file Harbour will need later, read now.

A broken policy, catalogue, instrument or resources file, or a routes file that is not there,
would otherwise surface only when a step needs it: after the referral was committed, or as
deliveries failing one by one until they are dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harbour.catalogue import load_catalogue
from harbour.errors import ConfigError, HarbourError
from harbour.instrument import load_instrument
from harbour.policy import load_policy
from harbour.settings import Settings


def check_files(settings: Settings) -> None:
    """Raise a ConfigError naming the setting whose file cannot be used."""
    loaders: list[tuple[str, Callable[[Settings], Any]]] = [
        ("HARBOUR_POLICY_FILE", load_policy),
        ("HARBOUR_INSTRUMENT_FILE", load_instrument),
        ("HARBOUR_CATALOGUE_FILE or HARBOUR_RESOURCES_FILE", load_catalogue),
    ]
    for name, load in loaders:
        try:
            load(settings)
        except HarbourError as exc:
            raise ConfigError("bad_setting", f"{name}: {exc.detail or exc.code}") from None
    routes = settings.apprise_config
    if routes is not None and not routes.is_file():
        raise ConfigError("bad_setting", "HARBOUR_APPRISE_CONFIG: no such file")
    if not settings.templates_dir.is_dir():
        raise ConfigError("bad_setting", "HARBOUR_TEMPLATES_DIR: no such folder")
