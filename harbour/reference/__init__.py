"""Reference data: the policy, the instrument and the catalogue with its resources, read from their
files and checked once at the edge (a command, a flow run's process, a web process) and handed in
as values. A built-in file ships in ``harbour/data``; an agency may point a setting at its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harbour.domain.catalogue import Catalogue, ResourceFile, StrategyFile, build_catalogue
from harbour.domain.instrument import Instrument
from harbour.domain.policy import Policy
from harbour.errors import ConfigError, HarbourError
from harbour.reference.files import builtin, load_model
from harbour.settings import Settings


@dataclass(frozen=True)
class Reference:
    """Everything the rules need besides the case itself."""

    policy: Policy
    instrument: Instrument
    catalogue: Catalogue


def load_policy(settings: Settings) -> Policy:
    """The agency's policy file (``HARBOUR_POLICY_FILE``) or the built-in one."""
    return load_model(Policy, settings.policy_file or builtin("policy.yaml"))


def load_instrument(settings: Settings) -> Instrument:
    """The agency's instrument file (``HARBOUR_INSTRUMENT_FILE``) or the built-in one."""
    return load_model(Instrument, settings.instrument_file or builtin("instrument.yaml"))


def load_catalogue(settings: Settings) -> Catalogue:
    """The agency's catalogue and resources files, or the built-in ones. The strategies are
    checked against the resources' emergency number: the one number a youth copy without
    hotlines may name."""
    resources = load_model(ResourceFile, settings.resources_file or builtin("resources.yaml"))
    strategies = load_model(
        StrategyFile,
        settings.catalogue_file or builtin("strategies.yaml"),
        emergency_numbers=resources.emergency_numbers,
    )
    return build_catalogue(strategies, resources)


def load_reference(settings: Settings) -> Reference:
    """Every reference file, checked; a ConfigError names the setting whose file cannot be used."""
    reference = Reference(
        policy=_checked("HARBOUR_POLICY_FILE", load_policy, settings),
        instrument=_checked("HARBOUR_INSTRUMENT_FILE", load_instrument, settings),
        catalogue=_checked(
            "HARBOUR_CATALOGUE_FILE or HARBOUR_RESOURCES_FILE", load_catalogue, settings
        ),
    )
    _protocol_worded(reference)
    return reference


def _protocol_worded(reference: Reference) -> None:
    """Each emergency step the instrument puts on an imminent plan is one the catalogue words:
    composition leaves off a step it cannot word, so a misnamed one (shelter, say) would be
    missing from every imminent plan."""
    worded = reference.catalogue.emergency_protocol
    unknown = [code for code in reference.instrument.emergency_protocol if code not in worded]
    if unknown:
        raise ConfigError(
            "bad_setting",
            "HARBOUR_INSTRUMENT_FILE or HARBOUR_CATALOGUE_FILE: the instrument's "
            f"emergency_protocol names steps the catalogue lacks: {', '.join(unknown)}",
        )


def _checked(name: str, load: Callable[[Settings], Any], settings: Settings) -> Any:
    try:
        return load(settings)
    except HarbourError as exc:
        raise ConfigError("bad_setting", f"{name}: {exc.detail or exc.code}") from None
