"""A fixed plan for golden files and leak tests, built by hand (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from harbour.domain.plan_view import (
    ContactView,
    PlanItemView,
    PlanSnapshot,
    ResourceView,
    ThreatView,
)
from harbour.domain.vocab import ItemState, Phase, PlanSection, StepOwner, ThreatKind

CREATED = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
HOSTILE = "{{ 7*7 }} <script>alert(1)</script> </style> a\u202etxt.exe"


def item(key: str, section: PlanSection, text: str, **kw: object) -> PlanItemView:
    youth = kw.pop("youth_text", text)
    state = kw.pop("state", ItemState.ACCEPTED)
    return PlanItemView(key, section, text, str(youth), state, **kw)  # type: ignore[arg-type]


RESOURCES = (
    ResourceView("emergency", "Emergency", "911", None, True),
    ResourceView(
        "nhth",
        "National Human Trafficking Hotline",
        "1-888-373-7888",
        "233733",
        False,
        youth_name="Help line (any time)",
    ),
    ResourceView("lifeline_988", "988 Suicide and Crisis Lifeline", "988", "988", False),
)

ITEMS = (
    item(
        "emergency.shelter",
        PlanSection.EMERGENCY,
        "Arrange emergency shelter",
        owner=StepOwner.CASEWORKER,
        done_at=datetime(2026, 3, 2, 15, 30, tzinfo=UTC),
    ),
    item(
        "emergency.police", PlanSection.EMERGENCY, "Contact law enforcement", owner=StepOwner.AGENCY
    ),
    item(
        "emergency.call",
        PlanSection.EMERGENCY,
        "Youth calls 911 when in immediate danger",
        youth_text="Call 911 if I am in danger right now",
        owner=StepOwner.YOUTH,
    ),
    item(
        "risk:threat_contact",
        PlanSection.RISKS,
        "Recent contact by the trafficker",
        code="threat_contact",
    ),
    item(
        "added:r1",
        PlanSection.RISKS,
        "Trafficker has attempted contact in the last 30 days",
        state=ItemState.ADDED,
    ),
    item(
        "cl.route",
        PlanSection.STRATEGIES,
        "Plan an escape route and rehearse it",
        youth_text="Know my way out and practise it",
        phase=Phase.CONTEMPLATING_LEAVING,
        code="cl.route",
    ),
    item(
        "cl.bag",
        PlanSection.STRATEGIES,
        "Prepare a bag with documents and a change of clothes",
        youth_text="Keep a bag ready with my papers and clothes",
        phase=Phase.CONTEMPLATING_LEAVING,
        state=ItemState.SUGGESTED,
    ),
    item(
        "al.routine",
        PlanSection.STRATEGIES,
        "Vary travel habits and daily routine",
        youth_text="Change the way I go to places",
        phase=Phase.AFTER_LEAVING,
    ),
    item(
        "as.rental",
        PlanSection.STRATEGIES,
        "Use rental cars for client travel",
        phase=Phase.AGENCY_STAFF,
    ),
    item(
        "er.54321",
        PlanSection.STRATEGIES,
        "Grounding: 5-4-3-2-1 senses exercise",
        youth_text="Name 5 things I see, 4 I hear, 3 I touch, 2 I smell, 1 I taste",
        phase=Phase.EMOTIONAL_REGULATION,
    ),
    item(
        "er.rejected",
        PlanSection.STRATEGIES,
        "Rejected idea",
        phase=Phase.EMOTIONAL_REGULATION,
        state=ItemState.REJECTED,
    ),
    item(
        "step.phone",
        PlanSection.STEPS,
        "Youth keeps an emergency phone charged",
        youth_text="Keep my spare phone charged",
        owner=StepOwner.YOUTH,
        due_on=date(2026, 3, 9),
    ),
    item(
        "step.school",
        PlanSection.STEPS,
        "Caseworker arranges school transfer",
        owner=StepOwner.CASEWORKER,
        due_on=date(2026, 3, 16),
    ),
    item(
        "step.family",
        PlanSection.STEPS,
        "Aunt keeps the door locked and does not answer unknown callers",
        youth_text="Keep the door locked and do not answer calls from unknown numbers",
        owner=StepOwner.FAMILY,
        state=ItemState.ADDED,
    ),
    item(
        "family.share_nothing",
        PlanSection.STRATEGIES,
        "Non-offending family members share nothing about the youth's whereabouts",
        youth_text="Your family will not share where you are",
        phase=Phase.AFTER_LEAVING,
        owner=StepOwner.FAMILY,
    ),
    item("contact:p1", PlanSection.CONTACTS, "Aunt Rosa"),
    item("contact:p2", PlanSection.CONTACTS, "Coach Lee"),
    *(item(f"resource:{r.code}", PlanSection.RESOURCES, r.name, code=r.code) for r in RESOURCES),
)


def fixed_plan(**changes: object) -> PlanSnapshot:
    plan = PlanSnapshot(
        case_reference="HB-7Q4K-M2XD",
        version_number=3,
        status="final",
        point="planning_meeting",
        risk_level="high",
        computed_level="moderate",
        created_at=CREATED,
        finalized_at=datetime(2026, 3, 2, 16, 0, tzinfo=UTC),
        next_due_at=datetime(2026, 3, 9, 14, 0, tzinfo=UTC),
        items=ITEMS,
        reasons=(("threat_contact", "Recent contact by the trafficker"),),
        threats=(
            ThreatView(ThreatKind.TRAFFICKER, "Threat Person One", True, date(2026, 3, 20)),
            ThreatView(ThreatKind.NETWORK, None, False, None),
        ),
        contacts=(
            ContactView("Aunt Rosa", "aunt", "555-0101", "family_member"),
            ContactView("Coach Lee", None, "555-0102", "trusted_contact"),
        ),
        resources=RESOURCES,
        extra={"agency_name": "north"},
    )
    return replace(plan, **changes)  # type: ignore[arg-type]


def crowded_plan() -> PlanSnapshot:
    """More of everything than a wallet card or a phone note can hold."""
    long = "Do this particular thing every single day, even when it is hard, and tell someone. " * 3
    extra = tuple(
        item(f"x{i}", section, f"{long} {i}", owner=StepOwner.YOUTH, phase=phase)
        for i in range(12)
        for section, phase in (
            (PlanSection.STEPS, None),
            (PlanSection.STRATEGIES, Phase.AFTER_LEAVING),
            (PlanSection.STRATEGIES, Phase.EMOTIONAL_REGULATION),
        )
    )
    contacts = tuple(
        ContactView(f"Person {i} with a long name", "friend", "555-0100", "trusted_contact")
        for i in range(10)
    )
    return replace(fixed_plan(), items=ITEMS + extra, contacts=contacts, youth_title=long[:60])
