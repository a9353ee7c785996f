"""What a command checks before doing any work: every file Harbour will need later, read now.

A broken policy, catalogue, instrument or resources file, or a routes file that is not there,
would otherwise surface only when a step needs it: after the referral was committed, or as
deliveries failing one by one until they are dead-lettered.
"""

from __future__ import annotations

from harbour.errors import ConfigError
from harbour.reference import Reference, load_reference
from harbour.settings import Settings


def check_files(settings: Settings) -> Reference:
    """The reference data, loaded; a ConfigError names the setting whose file cannot be used."""
    reference = load_reference(settings)
    routes = settings.apprise_config
    if routes is not None and not routes.is_file():
        raise ConfigError("bad_setting", "HARBOUR_APPRISE_CONFIG: no such file")
    if not settings.templates_dir.is_dir():
        raise ConfigError("bad_setting", "HARBOUR_TEMPLATES_DIR: no such folder")
    return reference
