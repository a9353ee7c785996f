"""Files shipped inside the installed packages, found through ``importlib.resources``.

The repository keeps ``templates/`` and ``deployments/prefect.yaml`` at its top level;
``harbour/templates`` and ``flows/prefect.yaml`` are links to them. A source checkout, an editable
install and a wheel (which holds copies of what the links point at) therefore all find them inside
the package, never through a path computed from the source tree.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from harbour.errors import ConfigError


def shipped(package: str, name: str) -> Path:
    """The file or folder ``name`` inside the installed ``package``, as a real path."""
    found = resources.files(package).joinpath(name)
    if not isinstance(found, Path):
        raise ConfigError("zipped_install", f"{package} must be installed as files, not zipped")
    return found


def shipped_templates() -> Path:
    """The Jinja2 templates that ship with Harbour (``templates/`` of the repository)."""
    return shipped("harbour", "templates")
