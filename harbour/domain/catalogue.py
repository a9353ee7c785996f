"""The strategy catalogue and the standard resources, loaded from versioned YAML files.

``harbour/data/strategies.yaml`` holds the seed's lists (strategies by phase, plus emotional
regulation, the emergency protocol, and the seed's other lists with their codes);
``harbour/data/resources.yaml`` the hotlines. Agencies may supply their own files
(``HARBOUR_CATALOGUE_FILE``, ``HARBOUR_RESOURCES_FILE``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from harbour.domain.datacheck import DataProblem, no_repeats
from harbour.domain.vocab import (
    AssessmentPoint,
    PersonAtRisk,
    Phase,
    PlanSection,
    Situation,
    StepOwner,
    ThreatKind,
)
from harbour.errors import NotFound

Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")]
Wording = Annotated[str, Field(min_length=1, max_length=600)]

# The seed's lists that are not strategies, and the vocabulary their codes must come from.
SEED_LISTS: dict[str, type[StrEnum]] = {
    "assessment_points": AssessmentPoint,
    "plan_parts": PlanSection,
    "threat_sources": ThreatKind,
    "persons_at_risk": PersonAtRisk,
}


# A number someone could call or text: three digits or more in a row (988, 211, a short code,
# any part of 1-800-...). Single digits ("name 5 things you see") are no number to dial.
_DIALLED = re.compile(r"\d{3,}")


def hotlines_named(text: str, emergency_numbers: Iterable[str]) -> list[str]:
    """The numbers ``text`` names that a youth copy without hotlines must not show: every one
    but the emergency number's own, which stays on every copy."""
    allowed = {run for number in emergency_numbers for run in _DIALLED.findall(number)}
    return [number for number in _DIALLED.findall(text) if number not in allowed]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Data):
    """What someone does to carry out a strategy; owned by the strategy's owner."""

    staff_text: Wording
    youth_text: Wording
    due_days: int | None = Field(None, ge=0, le=365)


class Strategy(_Data):
    code: Code
    phase: Phase
    seed_item: Wording
    threats: list[ThreatKind] = Field(min_length=1)
    persons: list[PersonAtRisk] = Field(min_length=1)
    situations: list[Situation] = Field(min_length=1)
    owner: StepOwner
    staff_text: Wording
    youth_text: Wording
    # The youth's wording on a copy that leaves the hotlines out (a phone that may be
    # monitored), for a youth_text that names one.
    youth_text_without_hotlines: Wording | None = None
    step: Step | None = None
    # A strategy offered by a rule instead of the situation (``harbour.domain.orders``): only
    # ``protective_order_expiring``, an order of a threat source running out within 30 days.
    when: Literal["protective_order_expiring"] | None = None

    def youth_wording(self, *, hide_hotlines: bool) -> str:
        """The youth's wording; on a copy without hotlines, one that names none."""
        return (hide_hotlines and self.youth_text_without_hotlines) or self.youth_text


class EmergencyStep(_Data):
    code: Code
    seed_item: Wording
    owner: StepOwner
    staff_text: Wording
    youth_text: Wording


class SeedEntry(_Data):
    code: Code
    seed_item: Wording


class StrategyFile(_Data):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    seed_lists: dict[str, list[SeedEntry]]
    emergency_protocol: list[EmergencyStep] = Field(min_length=1)
    strategies: list[Strategy] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> StrategyFile:
        codes = [
            (("emergency_protocol", i, "code"), step.code)
            for i, step in enumerate(self.emergency_protocol)
        ]
        codes += [(("strategies", i, "code"), s.code) for i, s in enumerate(self.strategies)]
        no_repeats(codes)
        if missing := sorted(set(Phase) - {s.phase for s in self.strategies}):
            raise DataProblem(("strategies",), f"no strategies for phase: {', '.join(missing)}")
        for name, entries in self.seed_lists.items():
            _check_seed_list(name, entries)
        # From the resources file (``harbour.reference.load_catalogue``); none given, even 911
        # counts as a hotline: a load that forgot them refuses rather than lets one through.
        emergency = (info.context or {}).get("emergency_numbers", ())
        _check_youth_wording(self, emergency)
        return self


def _check_youth_wording(data: StrategyFile, emergency: Iterable[str]) -> None:
    """A youth copy without hotlines (a phone that may be monitored) names none."""
    for loc, code, text, problem in _hidden_copy_wording(data):
        if hotlines_named(text, emergency):
            raise DataProblem(loc, f"{code}: {problem}")


def _hidden_copy_wording(
    data: StrategyFile,
) -> Iterator[tuple[tuple[str | int, ...], str, str, str]]:
    """Each youth wording a copy without hotlines shows (where it is, its entry's code, the
    wording), and what to do should it name a hotline: a strategy's own wording for such a
    copy, else its youth wording; a step's and an emergency step's, on every copy."""
    for index, strategy in enumerate(data.strategies):
        if strategy.youth_text_without_hotlines is None:
            loc: tuple[str | int, ...] = ("strategies", index, "youth_text")
            yield loc, strategy.code, strategy.youth_text, NEEDS_A_VARIANT
        else:
            loc = ("strategies", index, "youth_text_without_hotlines")
            yield loc, strategy.code, strategy.youth_text_without_hotlines, NAMES_ONE
        if strategy.step is not None:
            loc = ("strategies", index, "step", "youth_text")
            yield loc, strategy.code, strategy.step.youth_text, ON_EVERY_COPY
    for index, step in enumerate(data.emergency_protocol):
        yield ("emergency_protocol", index, "youth_text"), step.code, step.youth_text, ON_EVERY_COPY


NAMES_ONE = "names a number to call or text"
NEEDS_A_VARIANT = (
    f"{NAMES_ONE}, which a youth copy without hotlines would show: "
    "give youth_text_without_hotlines too, naming none"
)
ON_EVERY_COPY = (
    f"{NAMES_ONE}, and this wording is on every youth copy, hotlines hidden or not: name none "
    "here (a strategy's youth_text may, with youth_text_without_hotlines)"
)


def _check_seed_list(name: str, entries: list[SeedEntry]) -> None:
    vocabulary = SEED_LISTS.get(name)
    if vocabulary is None:
        known = ", ".join(SEED_LISTS)
        raise DataProblem(("seed_lists", name), f"unknown seed list (known: {known})")
    for index, entry in enumerate(entries):
        if entry.code not in set(vocabulary):
            loc = ("seed_lists", name, index, "code")
            raise DataProblem(loc, f"{entry.code} is not a code Harbour knows")


NO_DISCREET_LABEL = (
    "give the youth_name the youth's and family's copies list it by, saying nothing of what it "
    "is for: either copy may be found by the people posing the threat"
)


class Resource(_Data):
    code: Code
    name: Wording
    youth_name: Wording | None = None  # the youth's and family's label: a hotline needs one
    call: Annotated[str, Field(max_length=40)] | None = None
    text: Annotated[str, Field(max_length=40)] | None = None
    source: Wording
    verified_on: date
    emergency: bool = False


class ResourceFile(_Data):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    resources: list[Resource] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ResourceFile:
        no_repeats([(("resources", i, "code"), r.code) for i, r in enumerate(self.resources)])
        if not any(r.emergency for r in self.resources):
            raise DataProblem(("resources",), "one resource must be the emergency number")
        for index, resource in enumerate(self.resources):
            if not resource.emergency and resource.youth_name is None:
                loc = ("resources", index, "youth_name")
                raise DataProblem(loc, f"{resource.code}: {NO_DISCREET_LABEL}")
        return self

    @property
    def emergency_numbers(self) -> frozenset[str]:
        """What the emergency resource is called or texted at: on every copy, even one that
        leaves the hotlines out."""
        return frozenset(n for r in self.resources if r.emergency for n in (r.call, r.text) if n)


@dataclass(frozen=True)
class Catalogue:
    version: str
    resources_version: str
    strategies: dict[str, Strategy]
    emergency_protocol: dict[str, EmergencyStep]
    resources: list[Resource]
    seed_lists: dict[str, list[SeedEntry]]

    def strategy(self, code: str) -> Strategy:
        try:
            return self.strategies[code]
        except KeyError:
            raise NotFound("unknown_strategy", f"no strategy {code} in the catalogue") from None

    def by_phase(self, phase: Phase) -> list[Strategy]:
        return [s for s in self.strategies.values() if s.phase == phase]

    def resource(self, code: str) -> Resource | None:
        return next((r for r in self.resources if r.code == code), None)


def build_catalogue(strategies: StrategyFile, resources: ResourceFile) -> Catalogue:
    """One catalogue from the strategies file and the resources file."""
    return Catalogue(
        version=strategies.version,
        resources_version=resources.version,
        strategies={s.code: s for s in strategies.strategies},
        emergency_protocol={e.code: e for e in strategies.emergency_protocol},
        resources=list(resources.resources),
        seed_lists=dict(strategies.seed_lists),
    )
