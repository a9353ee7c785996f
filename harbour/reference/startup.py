"""What a command checks before doing any work: every file Harbour will need later, read now.

A broken policy, catalogue, instrument or resources file, or a routes file that is not there,
would otherwise surface only when a step needs it: after the referral was committed, or as
deliveries failing one by one until they are dead-lettered. A routes file open to group or others
is refused here too, before anything is sent (the relay, and a flow, refuse it as they read it).
"""

from __future__ import annotations

from pathlib import Path

from harbour.errors import ConfigError
from harbour.reference import Reference, load_reference
from harbour.settings import Settings, routes_file_exposed
from harbour.shipped import shipped_templates


def check_files(settings: Settings) -> Reference:
    """The reference data, loaded; a ConfigError names the setting whose file cannot be used."""
    reference = load_reference(settings)
    routes = settings.apprise_config
    if routes is not None:
        if not routes.is_file():
            raise ConfigError("bad_setting", "HARBOUR_APPRISE_CONFIG: no such file")
        if exposed := routes_file_exposed(routes, routes.stat().st_mode):
            raise ConfigError("routes_file_exposed", f"HARBOUR_APPRISE_CONFIG: {exposed}")
    if not settings.templates_dir.is_dir():
        raise ConfigError("bad_setting", "HARBOUR_TEMPLATES_DIR: no such folder")
    _check_templates(settings.templates_dir)
    return reference


def _check_templates(folder: Path) -> None:
    """An agency's own templates folder (a copy of the shipped one, with its changes) holds
    every template Harbour renders: one missing was found only when a message failed to render
    (an imminent page too, reported as a failed send) or a console page answered an error."""
    shipped = shipped_templates()
    if folder.resolve() == shipped.resolve():
        return
    missing = sorted(
        name
        for path in shipped.rglob("*")
        if path.is_file()
        and not (name := path.relative_to(shipped).as_posix()).startswith(_NOT_RENDERED)
        and not (folder / name).is_file()
    )
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise ConfigError(
            "bad_setting",
            f"HARBOUR_TEMPLATES_DIR: lacks templates Harbour renders: {', '.join(missing[:3])}"
            f"{more} (start from a copy of the shipped templates)",
        )


_NOT_RENDERED = ("bench/",)  # the benchmarks' own
