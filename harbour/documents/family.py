"""The family copy's view model: the steps a non-offending family member or caretaker owns.

No disclosures, reasons, threat sources, risk level, the youth's own steps or contacts: a family
copy sits in a family home, and the seed warns that family can be complicit. For the same reason
its hotlines go by the youth copy's discreet labels (a "trafficking hotline" on a copy found at
home says what happened). Items use the staff wording: the catalogue's youth wording speaks to the
youth ("your family will ...").
"""

from __future__ import annotations

from dataclasses import dataclass

from harbour.documents.common import (
    Edition,
    Resource,
    agreed,
    edition,
    emergency_resource,
    resource_line,
)
from harbour.documents.youth import Step, entries
from harbour.domain.plan_view import PlanSnapshot
from harbour.domain.vocab import StepOwner


@dataclass(frozen=True)
class FamilyView:
    edition: Edition
    emergency_number: str
    steps: tuple[Step, ...]
    resources: tuple[Resource, ...]


def family_view(plan: PlanSnapshot) -> FamilyView:
    owned = [item for item in agreed(plan.items) if item.owner == StepOwner.FAMILY]
    return FamilyView(
        edition=edition(plan),
        emergency_number=emergency_resource(plan).call or "911",
        steps=entries(owned, staff_wording=True),
        resources=tuple(resource_line(r, discreet=True) for r in plan.resources if not r.emergency),
    )
