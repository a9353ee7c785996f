"""Harbour's Prefect flows: thin tasks over ``harbour`` that take and return opaque ids only.

Importing any ``flows.*`` module runs this first, so Prefect's settings are in place before
``prefect`` is imported.
"""

from flows import settings as _settings

_settings.apply()
