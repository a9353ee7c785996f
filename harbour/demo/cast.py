"""Who is in the demo: an agency, its staff, and five youth whose every detail is fictional.

Each youth has a referral (as a coordinator would record it), the moments the story acts on them,
and the answers their caseworker gives from a given day on: the story reads them to assess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from harbour.domain.vocab import Role

AGENCY = "demo-agency"
ZONE = "America/New_York"
ADMIN = "demo-admin"
COORDINATOR = "casey-coord"
SUPERVISOR = "sam-sup"
CASEWORKERS = ("rowan-cw", "wren-cw")
STAFF: tuple[tuple[str, Role], ...] = (
    (COORDINATOR, Role.COORDINATOR),
    (CASEWORKERS[0], Role.CASEWORKER),
    (CASEWORKERS[1], Role.CASEWORKER),
    (SUPERVISOR, Role.SUPERVISOR),
)
ON_CALL = "oncall"  # the agency's shared on-call chat route: tags oncall and the agency's name

# The safest answer to every question; each profile below changes a few.
SAFE: dict[str, Any] = {
    "immediate_danger": "no",
    "trafficker_threat": "no",
    "trafficker_contact": "none",
    "network_threat": "no",
    "network_reach": 0,
    "family_friend_threat": "no",
    "violence": "no",
    "family_at_risk": "no",
    "staff_at_risk": "no",
    "self_harm": "no",
    "situation": "stabilizing",
    "location_known": "no",
    "ran_away": "no",
    "safe_place": "yes",
    "trusted_adult": "yes",
    "safe_phone": "yes",
    "connected": "yes",
}


def answers(worry: str, **changed: Any) -> dict[str, Any]:
    return SAFE | changed | {"youth_worries": worry}


@dataclass(frozen=True)
class Addition:
    """An item the caseworker writes with the youth into a plan version (sealed, like any)."""

    day: int  # added to the first version reviewed on or after this day
    section: str
    text: str
    owner: str | None = None


@dataclass(frozen=True)
class Youth:
    label: str  # the story's name for the case, shown in the demo's own output only
    situation: str  # as referred
    referral: dict[str, Any]
    referred: tuple[int, str]  # (day, local time)
    profiles: tuple[tuple[int, dict[str, Any]], ...]  # (from day, answers), in day order
    declines: frozenset[str] = frozenset()  # catalogue codes the youth does not want
    additions: tuple[Addition, ...] = ()
    forgets_first_meeting: bool = False  # the caseworker misses it until the supervisor calls
    story: str = ""

    def answers_on(self, day: int) -> dict[str, Any]:
        chosen = self.profiles[0][1]
        for start, profile in self.profiles:
            if start <= day:
                chosen = profile
        return chosen


def _referral(
    name: str,
    born: date,
    situation: str,
    threats: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    youth = {"name": name, "date_of_birth": born.isoformat()} | extra.pop("youth", {})
    return {"youth": youth, "situation": situation, "threats": threats} | extra


ALPHA = Youth(
    label="alpha",
    situation="considering_leaving",
    story="considering leaving; leaves on day 9 (risk raised to high), then settles",
    referral=_referral(
        "Demo Youth Alpha",
        date(2009, 6, 15),
        "considering_leaving",
        [{"kind": "trafficker", "name": "Fictional Trafficker Xandrel"}],
        youth={"preferred_name": "Alfie Demo", "address": "12 Imaginary Lane, Nowhereville"},
        referral_source="Fictional Youth Drop-in Centre",
    ),
    referred=(0, "09:30"),
    profiles=(
        (
            0,
            answers(
                "Being seen at the Pretend Street bus stop",
                trafficker_threat="yes",
                trafficker_contact="indirect",
                situation="considering_leaving",
                safe_phone="no",
            ),
        ),
        (
            9,
            answers(
                "Messages from old friends on the Pretend Street corner",
                trafficker_threat="yes",
                trafficker_contact="indirect",
                situation="just_left",
                location_known="unsure",
            ),
        ),
        (
            10,
            answers(
                "Running into someone from before",
                trafficker_threat="yes",
                situation="just_left",
                location_known="unsure",
            ),
        ),
        (60, answers("Nothing much these days", trafficker_threat="yes")),
        (120, answers("Nothing much these days")),
    ),
    declines=frozenset({"after.change_number"}),
    additions=(
        Addition(9, "steps", "Walk to Makebelieve High with the after-school mentor", "youth"),
    ),
)

BRAVO = Youth(
    label="bravo",
    situation="just_left",
    story="has just left; imminent threat at initial contact (alert escalated, then "
    "acknowledged; emergency steps recorded), thorough assessment the next day",
    referral=_referral(
        "Demo Youth Bravo",
        date(2008, 11, 2),
        "just_left",
        [
            {
                "kind": "trafficker",
                "name": "Fictional Trafficker Yorvane",
                "description": "Drives a made-up purple van around Invented Park",
            },
            {"kind": "network", "name": "The Fictional Crew of Vexmoor"},
        ],
        youth={"phone": "555-0142", "address": "7 Pretend Avenue, Imaginary City"},
    ),
    referred=(0, "13:00"),
    profiles=(
        (
            0,
            answers(
                "He said he would find me at Invented Park tonight",
                immediate_danger="yes",
                trafficker_threat="yes",
                trafficker_contact="threats",
                network_threat="yes",
                network_reach=1,
                violence="yes",
                situation="just_left",
                location_known="yes",
                safe_place="no",
            ),
        ),
        (
            1,
            answers(
                "Whether the shelter on Fable Road is really safe",
                trafficker_threat="yes",
                trafficker_contact="threats",
                violence="yes",
                situation="just_left",
                location_known="unsure",
            ),
        ),
        (
            10,
            answers(
                "Seeing the purple van again",
                trafficker_threat="yes",
                trafficker_contact="indirect",
                situation="stabilizing",
            ),
        ),
        (50, answers("School starting again", trafficker_threat="yes")),
        (100, answers("School starting again")),
    ),
    declines=frozenset({"agency.rental_cars"}),
    additions=(
        Addition(1, "steps", "Stay at the Fable Road shelter until the court date", "agency"),
    ),
)

CHARLIE = Youth(
    label="charlie",
    situation="stabilizing",
    story="stabilizing; discharged on day 9, three follow-ups (30, 90, 180 days), then closed",
    referral=_referral(
        "Demo Youth Charlie",
        date(2007, 2, 28),
        "stabilizing",
        [{"kind": "complicit_family_friend", "name": "Fictional Cousin Zedrin"}],
        youth={"notes": "Likes the made-up Riverbend library"},
    ),
    referred=(1, "11:00"),
    profiles=((0, answers("Cousin Zedrin turning up at the Riverbend library")),),
)

DELTA = Youth(
    label="delta",
    situation="in_situation",
    story="in the situation, high risk; the caseworker forgets the first planning meeting: "
    "reminders, then the overdue escalation to the supervisor",
    referral=_referral(
        "Demo Youth Delta",
        date(2009, 9, 9),
        "in_situation",
        [
            {"kind": "trafficker", "name": "Fictional Trafficker Quillon"},
            {"kind": "network", "name": "Grimsby-Vale Network"},
        ],
        youth={"address": "Room 3, 99 Nonexistent Street, Fabletown"},
    ),
    referred=(3, "10:00"),
    profiles=(
        (
            0,
            answers(
                "Quillon checks my phone every night",
                trafficker_threat="yes",
                trafficker_contact="direct",
                network_threat="yes",
                network_reach=2,
                staff_at_risk="yes",
                situation="in_situation",
                safe_phone="no",
            ),
        ),
        (
            10,
            answers(
                "What happens if I stop answering Quillon",
                trafficker_threat="yes",
                trafficker_contact="indirect",
                network_threat="yes",
                network_reach=1,
                staff_at_risk="yes",
                situation="considering_leaving",
            ),
        ),
        (
            60,
            answers("Starting over somewhere new", trafficker_threat="yes", situation="just_left"),
        ),
        (120, answers("Starting over somewhere new", trafficker_threat="yes")),
    ),
    forgets_first_meeting=True,
)

ECHO = Youth(
    label="echo",
    situation="considering_leaving",
    story="considering leaving, family at risk (a safe caretaker and a trusted contact); "
    "discharged on day 70, follow-ups after",
    referral=_referral(
        "Demo Youth Echo",
        date(2008, 4, 1),
        "considering_leaving",
        [{"kind": "trafficker", "name": "Fictional Trafficker Umbrik"}],
        persons_at_risk=["youth", "family"],
        family=[
            {
                "name": "Demo Caretaker Echo-Senior",
                "relationship": "grandmother",
                "phone": "555-0177",
                "address": "4 Storybook Court, Fabletown",
                "caretaker": True,
                "non_offending": True,
            }
        ],
        trusted_contacts=[{"name": "Demo Contact Pemberlyn", "relationship": "coach"}],
    ),
    referred=(14, "10:00"),
    profiles=(
        (
            0,
            answers(
                "Umbrik knows where grandmother lives",
                trafficker_threat="yes",
                family_at_risk="yes",
                situation="considering_leaving",
            ),
        ),
        (
            40,
            answers(
                "Umbrik asking about me at Storybook Court",
                trafficker_threat="yes",
                family_at_risk="yes",
                situation="just_left",
            ),
        ),
        (65, answers("Keeping up at school", trafficker_threat="yes")),
    ),
    additions=(
        Addition(15, "strategies", "Use the code word 'blue umbrella' when calling grandmother"),
    ),
)

YOUTH: tuple[Youth, ...] = (ALPHA, BRAVO, CHARLIE, DELTA, ECHO)
