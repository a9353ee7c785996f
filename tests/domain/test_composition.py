"""Plan composition per situation, threat source and person at risk; carrying staff decisions over."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from harbour.domain import orders
from harbour.domain.catalogue import Catalogue
from harbour.domain.composition import ProposedItem, compose, select_strategies
from harbour.domain.risk import Reason, RiskResult
from harbour.domain.vocab import (
    ContactFlag,
    ItemState,
    PersonAtRisk,
    Phase,
    PlanSection,
    RiskLevel,
    Situation,
    StepOwner,
    ThreatKind,
)
from harbour.reference import load_catalogue
from harbour.settings import Settings

TODAY = date(2026, 3, 2)
ALL_THREATS = list(ThreatKind)
YOUTH = [PersonAtRisk.YOUTH]
MODERATE = RiskResult(
    RiskLevel.MODERATE, (Reason("trafficker_threat", "A trafficker.", RiskLevel.MODERATE),), ()
)
IMMINENT = RiskResult(
    RiskLevel.IMMINENT,
    (Reason("immediate_danger", "Danger.", RiskLevel.IMMINENT),),
    ("emergency.safety_now", "emergency.shelter", "emergency.law_enforcement"),
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(Settings())


def phases(items: list[ProposedItem], catalogue: Catalogue) -> dict[Phase, set[str]]:
    found: dict[Phase, set[str]] = {}
    for item in items:
        if item.section == PlanSection.STRATEGIES:
            assert item.phase is not None
            found.setdefault(item.phase, set()).add(item.key)
    return found


def codes(catalogue: Catalogue, phase: Phase) -> set[str]:
    return {
        s.code
        for s in catalogue.by_phase(phase)
        if s.persons != [PersonAtRisk.FAMILY] and s.when is None  # rules offer the others
    }


@pytest.mark.parametrize("situation", [Situation.CONSIDERING_LEAVING, Situation.IN_SITUATION])
def test_contemplating_leaving_proposes_the_leaving_strategies(catalogue, situation) -> None:
    items = compose(MODERATE, situation, ALL_THREATS, YOUTH, [], catalogue, today=TODAY)
    found = phases(items, catalogue)
    assert found[Phase.CONTEMPLATING_LEAVING] == codes(catalogue, Phase.CONTEMPLATING_LEAVING)
    assert Phase.AFTER_LEAVING not in found and Phase.AGENCY_STAFF not in found
    assert found[Phase.EMOTIONAL_REGULATION] == codes(catalogue, Phase.EMOTIONAL_REGULATION)


@pytest.mark.parametrize("situation", [Situation.JUST_LEFT, Situation.STABILIZING])
def test_just_left_proposes_the_after_leaving_strategies(catalogue, situation) -> None:
    items = compose(MODERATE, situation, ALL_THREATS, YOUTH, [], catalogue, today=TODAY)
    found = phases(items, catalogue)
    assert found[Phase.AFTER_LEAVING] == codes(catalogue, Phase.AFTER_LEAVING)
    assert Phase.CONTEMPLATING_LEAVING not in found and Phase.AGENCY_STAFF not in found
    assert Phase.EMOTIONAL_REGULATION in found


@pytest.mark.parametrize("situation", list(Situation))
def test_staff_at_risk_proposes_the_agency_strategies(catalogue, situation) -> None:
    persons = [PersonAtRisk.YOUTH, PersonAtRisk.STAFF]
    items = compose(MODERATE, situation, ALL_THREATS, persons, [], catalogue, today=TODAY)
    assert phases(items, catalogue)[Phase.AGENCY_STAFF] == codes(catalogue, Phase.AGENCY_STAFF)


def test_family_at_risk_gets_its_own_part(catalogue) -> None:
    persons = [PersonAtRisk.YOUTH, PersonAtRisk.FAMILY]
    items = compose(MODERATE, Situation.JUST_LEFT, ALL_THREATS, persons, [], catalogue, today=TODAY)
    family = {i.key for i in items if i.owner == "family"}
    assert {"family.code_word", "family.share_nothing", "step:family.report_contact"} <= family
    alone = compose(MODERATE, Situation.JUST_LEFT, ALL_THREATS, YOUTH, [], catalogue, today=TODAY)
    assert not {i.key for i in alone if i.owner == "family"}


def test_threat_sources_narrow_the_suggestions(catalogue) -> None:
    network = select_strategies(catalogue, Situation.JUST_LEFT, [ThreatKind.NETWORK], YOUTH)
    assert "after.protective_order" not in {s.code for s in network}  # an order names a person
    assert "after.avoid_area" in {s.code for s in network}
    unknown = select_strategies(catalogue, Situation.JUST_LEFT, [], YOUTH)
    assert "after.protective_order" in {s.code for s in unknown}


def test_sections_in_plan_order_with_emergency_first_when_imminent(catalogue) -> None:
    items = compose(
        IMMINENT,
        Situation.IN_SITUATION,
        ALL_THREATS,
        YOUTH,
        [],
        catalogue,
        contacts=["p1"],
        today=TODAY,
    )
    order = [i.section for i in items]
    assert order == sorted(order, key=list(PlanSection).index)
    assert order[0] == PlanSection.EMERGENCY
    emergency = [i for i in items if i.section == PlanSection.EMERGENCY]
    assert [i.key for i in emergency] == list(IMMINENT.emergency_protocol)
    assert all(i.state == ItemState.ACCEPTED and i.due_on == TODAY for i in emergency)
    assert [i.key for i in items if i.section == PlanSection.RISKS] == ["risk:immediate_danger"]
    assert [i.person_id for i in items if i.section == PlanSection.CONTACTS] == ["p1"]
    assert {i.key for i in items if i.section == PlanSection.RESOURCES} == {
        f"resource:{r.code}" for r in catalogue.resources
    }
    calm = compose(MODERATE, Situation.IN_SITUATION, ALL_THREATS, YOUTH, [], catalogue, today=TODAY)
    assert PlanSection.EMERGENCY not in {i.section for i in calm}


def test_steps_have_owners_and_due_dates(catalogue) -> None:
    items = compose(
        MODERATE, Situation.CONSIDERING_LEAVING, ALL_THREATS, YOUTH, [], catalogue, today=TODAY
    )
    steps = {i.key: i for i in items if i.section == PlanSection.STEPS}
    bag = steps["step:leave.go_bag"]
    assert bag.owner == "youth" and bag.due_on == TODAY + timedelta(days=7)
    assert steps["step:leave.hotline"].owner == "caseworker"
    assert all(i.state == ItemState.SUGGESTED for i in steps.values())


def test_staff_decisions_and_added_items_carry_over(catalogue) -> None:
    first = compose(MODERATE, Situation.JUST_LEFT, ALL_THREATS, YOUTH, [], catalogue, today=TODAY)
    decided = {"after.change_number": ItemState.ACCEPTED, "after.avoid_area": ItemState.REJECTED}
    previous = [
        ProposedItem(i.key, i.section, decided.get(i.key, i.state), i.code, i.phase, i.owner)
        for i in first
    ]
    previous.append(ProposedItem("added:abc", PlanSection.STEPS, ItemState.ADDED, text="Call aunt"))
    previous.append(
        ProposedItem("leave.go_bag", PlanSection.STRATEGIES, ItemState.ACCEPTED, "leave.go_bag")
    )
    again = compose(
        MODERATE, Situation.STABILIZING, ALL_THREATS, YOUTH, previous, catalogue, today=TODAY
    )
    state = {i.key: i.state for i in again}
    assert state["after.change_number"] == ItemState.ACCEPTED
    assert state["after.avoid_area"] == ItemState.REJECTED
    assert state["after.vary_routine"] == ItemState.SUGGESTED
    assert state["added:abc"] == ItemState.ADDED
    assert "leave.go_bag" not in state  # no longer fits the situation


def test_contact_and_resource_decisions_carry_over(catalogue) -> None:
    previous = [
        ProposedItem("contact:p1", PlanSection.CONTACTS, ItemState.REJECTED, person_id="p1"),
        ProposedItem("contact:p2", PlanSection.CONTACTS, ItemState.ACCEPTED, person_id="p2"),
        ProposedItem("contact:p3", PlanSection.CONTACTS, ItemState.ACCEPTED, person_id="p3"),
        ProposedItem("resource:lifeline_988", PlanSection.RESOURCES, ItemState.REJECTED),
        # 911 cannot be rejected; should a row say so, it is not carried over.
        ProposedItem("resource:emergency", PlanSection.RESOURCES, ItemState.REJECTED),
    ]
    again = compose(
        MODERATE,
        Situation.JUST_LEFT,
        ALL_THREATS,
        YOUTH,
        previous,
        catalogue,
        contacts=["p1", "p2"],  # the youth no longer approves p3
        today=TODAY,
    )
    state = {i.key: i.state for i in again}
    assert state["contact:p1"] == ItemState.REJECTED
    assert state["contact:p2"] == ItemState.ACCEPTED
    assert "contact:p3" not in state
    assert state["resource:lifeline_988"] == ItemState.REJECTED
    assert state["resource:emergency"] == ItemState.ACCEPTED


def _next_version(
    catalogue: Catalogue,
    situation: Situation,
    previous: list[ProposedItem],
    today: date,
    done: frozenset[str] = frozenset(),
) -> dict[str, ProposedItem]:
    """The items of the version composed after ``previous`` at moderate risk, by key."""
    items = compose(
        MODERATE, situation, ALL_THREATS, YOUTH, previous, catalogue, today=today, done=done
    )
    return {i.key: i for i in items}


def test_a_carried_step_keeps_its_due_date_and_a_done_step_stays_on_the_plan(catalogue) -> None:
    first = compose(MODERATE, Situation.JUST_LEFT, ALL_THREATS, YOUTH, [], catalogue, today=TODAY)
    dated = [i for i in first if i.section == PlanSection.STEPS and i.due_on is not None]
    kept, done = dated[0], dated[1]
    previous = [replace(kept, state=ItemState.ACCEPTED), done]  # `done` left undecided
    later = TODAY + timedelta(days=12)
    second = _next_version(
        catalogue, Situation.JUST_LEFT, previous, later, done=frozenset({done.key})
    )
    assert second[kept.key].due_on == kept.due_on  # not moved to the meeting's day
    assert second[kept.key].state == ItemState.ACCEPTED
    assert second[done.key].state == ItemState.ACCEPTED  # done: not suggested again
    carried = {kept.key, done.key}
    fresh = [i for i in second.values() if i.section == PlanSection.STEPS and i.key not in carried]
    assert all(i.due_on is None or i.due_on > later for i in fresh)


def test_a_carried_step_keeps_the_owner_staff_gave_it(catalogue) -> None:
    """The go bag given to the family (the youth's would be found) stays the family's: the
    youth's and the family's copies list a step by its owner."""
    first = compose(
        MODERATE, Situation.CONSIDERING_LEAVING, ALL_THREATS, YOUTH, [], catalogue, today=TODAY
    )
    given = {"step:leave.go_bag": StepOwner.FAMILY, "step:leave.hotline": StepOwner.AGENCY}
    previous = [
        replace(i, state=ItemState.ACCEPTED, owner=given[i.key]) if i.key in given else i
        for i in first
    ]
    second = _next_version(
        catalogue, Situation.CONSIDERING_LEAVING, previous, TODAY + timedelta(days=14)
    )
    assert {key: second[key].owner for key in given} == given
    assert second["step:leave.escape_route"].owner == StepOwner.YOUTH  # the catalogue's


def test_steps_the_new_situation_no_longer_calls_for_are_not_dropped_silently(catalogue) -> None:
    """Considering leaving, then just left: the go bag done stays, accepted, with its date; the
    exit plan agreed but not done is suggested again (staff decide); undecided ones go."""
    first = compose(
        MODERATE, Situation.CONSIDERING_LEAVING, ALL_THREATS, YOUTH, [], catalogue, today=TODAY
    )
    steps = {i.key: i for i in first if i.section == PlanSection.STEPS}
    done, agreed, undecided = "step:leave.go_bag", "step:leave.escape_route", "step:leave.hotline"
    previous = [
        replace(i, state=ItemState.ACCEPTED) if i.key in (done, agreed) else i for i in first
    ]
    later = TODAY + timedelta(days=3)
    second = _next_version(catalogue, Situation.JUST_LEFT, previous, later, done=frozenset({done}))
    assert (second[done].state, second[done].due_on) == (ItemState.ACCEPTED, steps[done].due_on)
    assert (second[agreed].state, second[agreed].due_on) == (
        ItemState.SUGGESTED,
        steps[agreed].due_on,
    )
    assert undecided not in second
    assert second[done].section == second[agreed].section == PlanSection.STEPS


RENEW = "after.renew_protective_order"


@pytest.mark.parametrize(
    ("expires_in", "offered", "due_in"),
    [(45, False, None), (30, True, 23), (10, True, 3), (3, True, 0), (-2, True, 0)],
)
def test_an_order_running_out_within_30_days_puts_its_renewal_on_the_plan(
    catalogue, expires_in, offered, due_in
) -> None:
    expiry = TODAY + timedelta(days=expires_in)
    items = compose(
        MODERATE,
        Situation.STABILIZING,
        ALL_THREATS,
        YOUTH,
        [],
        catalogue,
        today=TODAY,
        order_expiries=[expiry, TODAY + timedelta(days=300)],
    )
    keys = {item.key: item for item in items}
    assert (RENEW in keys) is offered
    assert (f"step:{RENEW}" in keys) is offered
    if offered:
        step = keys[f"step:{RENEW}"]
        assert step.due_on == TODAY + timedelta(days=due_in)
        assert step.owner == "caseworker" and step.state == ItemState.SUGGESTED
    without = compose(
        MODERATE, Situation.STABILIZING, ALL_THREATS, YOUTH, [], catalogue, today=TODAY
    )
    assert RENEW not in {item.key for item in without}


def test_the_renewal_window_is_the_order_running_out_nows() -> None:
    """The earliest order expiring soon that has not run out yet; else the last one that has.
    An order let lapse long ago does not date the renewals done since."""
    today = date(2027, 2, 25)
    lapsed, running_out, next_one = date(2026, 3, 25), date(2027, 3, 20), date(2027, 3, 24)
    window = orders.renewal_window
    assert window([lapsed, running_out, next_one], today) == running_out - orders.RENEW_WITHIN
    assert window([running_out, next_one], today) == running_out - orders.RENEW_WITHIN
    assert window([lapsed, date(2027, 1, 5)], today) == date(2027, 1, 5) - orders.RENEW_WITHIN
    assert window([lapsed, date(2028, 1, 1)], today) == lapsed - orders.RENEW_WITHIN
    assert window([date(2028, 1, 1), None], today) is None


@pytest.mark.parametrize(
    ("kind", "approved", "non_offending", "listed", "flag"),
    [
        ("trusted_contact", True, False, True, None),
        ("family_member", True, True, True, None),
        ("caretaker", True, True, False, None),  # a contact still: nothing to tell
        ("trusted_contact", False, False, False, ContactFlag.LEFT_OFF),
        ("family_member", True, False, False, ContactFlag.LEFT_OFF),
        ("caretaker", False, True, True, ContactFlag.STILL_LISTED),
        ("family_member", True, False, True, ContactFlag.STILL_LISTED),
    ],
)
def test_a_contact_no_longer_one_is_flagged_as_the_copies_have_them(
    kind: str, approved: bool, non_offending: bool, listed: bool, flag: ContactFlag | None
) -> None:
    from harbour.domain.composition import contact_flag

    found = contact_flag(
        kind, approved_by_youth=approved, non_offending=non_offending, listed=listed
    )
    assert found == flag
