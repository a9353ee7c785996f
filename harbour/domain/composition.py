"""Composing a plan version from an assessment's result: a pure function of plain values.

Sections, in order: the emergency protocol (imminent only), risks and concerns (the reasons),
strategies (from the catalogue, by the youth's situation, the threat sources present and the persons
at risk; always emotional regulation), actionable steps with owners and due dates, the contacts the
youth approved, and the resources. Staff decisions on the previous version carry over: a step keeps
its owner and due date and a step done stays on the plan, even once the situation no longer calls
for it; an accepted or rejected strategy, step, contact or resource stays so (a rejected contact is
never offered again as accepted), and items staff added stay. A step agreed with the youth but not
done, which the situation no longer calls for, is suggested again rather than dropped (see
``_steps_kept``). A suggestion nobody decided on is offered again while the situation calls for it;
the emergency number is never carried over as rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from harbour.domain import orders
from harbour.domain.catalogue import Catalogue, Strategy
from harbour.domain.risk import RiskResult
from harbour.domain.vocab import (
    ContactFlag,
    ItemState,
    PersonAtRisk,
    PersonKind,
    Phase,
    PlanSection,
    RiskLevel,
    Situation,
    StepOwner,
    ThreatKind,
)

# Items whose staff decision carries into the next version. Risks and the emergency protocol
# follow each assessment afresh.
DECIDED_BY_STAFF = frozenset(
    {PlanSection.STRATEGIES, PlanSection.STEPS, PlanSection.CONTACTS, PlanSection.RESOURCES}
)
STEP_PREFIX = "step:"
RISK_PREFIX = "risk:"
CONTACT_PREFIX = "contact:"
RESOURCE_PREFIX = "resource:"
ADDED_PREFIX = "added:"


@dataclass(frozen=True)
class ProposedItem:
    """One item of a plan version, before it is stored (or as read back for carrying over)."""

    key: str
    section: PlanSection
    state: ItemState
    code: str | None = None
    phase: Phase | None = None
    owner: StepOwner | None = None
    due_on: date | None = None
    person_id: str | None = None
    text: str | None = None  # staff-written wording: added items only


def compose(
    result: RiskResult,
    situation: Situation,
    threats: Iterable[ThreatKind],
    persons: Iterable[PersonAtRisk],
    previous: Sequence[ProposedItem],
    catalogue: Catalogue,
    *,
    contacts: Sequence[str] = (),
    today: date,
    done: frozenset[str] = frozenset(),
    order_expiries: Sequence[date] = (),
) -> list[ProposedItem]:
    """The items of the next plan version. ``contacts``: ids of people the youth approved;
    ``done``: keys of the steps already done (they stay on the plan, not suggested again);
    ``order_expiries``: the expiry dates of the threat sources' protective orders."""
    chosen = select_strategies(catalogue, situation, threats, persons)
    renewal = renewal_strategies(catalogue, order_expiries, today)
    renew_on = orders.renewal_due(order_expiries, today)
    items = [
        *_emergency(result, catalogue, today),
        *_risks(result),
        *(_strategy(s) for s in chosen + renewal),
        *(_step(s, today) for s in chosen if s.step is not None),
        *(_step(s, today, renew_on) for s in renewal if s.step is not None),
        *(
            ProposedItem(
                f"{CONTACT_PREFIX}{pid}", PlanSection.CONTACTS, ItemState.ACCEPTED, person_id=pid
            )
            for pid in contacts
        ),
        *(_resource(code) for code in (r.code for r in catalogue.resources)),
    ]
    required = {f"{RESOURCE_PREFIX}{r.code}" for r in catalogue.resources if r.emergency}
    previous = _without_old_renewals(
        previous, renewal_keys(catalogue), orders.renewal_window(order_expiries, today)
    )
    return _carry_over(items, previous, required, done)


def _without_old_renewals(
    previous: Sequence[ProposedItem], keys: frozenset[str], opened: date | None
) -> Sequence[ProposedItem]:
    """``previous`` without the renewal steps that were for an earlier expiry (due before the
    renewal of the order running out now was called for): that order was renewed since, so its
    renewal is a new step, suggested with its own due date, not the old one carried over."""
    if opened is None:
        return previous
    return [
        item
        for item in previous
        if not (item.key in keys and item.due_on is not None and item.due_on < opened)
    ]


def kept_opaque(item: ProposedItem) -> bool:
    """Whether the item says what sealed answers or sealed details were, so its key and code are
    kept opaque at rest: a risk the rules raised (the rule that fired), and every strategy or
    step the catalogue draws: by who is at risk and which threat sources are present (both
    sealed), and even the youth's own ("change phone number") says what the youth disclosed and
    plans. Only the emergency protocol (implied by the level), contacts (a person's id) and the
    resources (every plan has them all) stay in clear."""
    if item.state == ItemState.ADDED:
        return False  # staff's own wording, sealed, under a random key
    return item.section in (PlanSection.RISKS, PlanSection.STRATEGIES, PlanSection.STEPS)


def may_be_contact(kind: str, *, approved_by_youth: bool, non_offending: bool) -> bool:
    """Whether a person may be on the plan as a contact: one the youth approved, and for family
    or a caretaker, one staff also know to be non-offending (the youth's approval alone is not
    enough there). Asked again whenever a copy is made: someone found unsafe since they were
    accepted is on no copy from then on."""
    if not approved_by_youth:
        return False
    return kind == PersonKind.TRUSTED_CONTACT or (
        kind in (PersonKind.FAMILY_MEMBER, PersonKind.CARETAKER) and non_offending
    )


def contact_flag(
    kind: str, *, approved_by_youth: bool, non_offending: bool, listed: bool
) -> ContactFlag | None:
    """What staff are told of a contact item (not rejected) of a plan whose person, as they
    stand now, may no longer be a contact (``may_be_contact``): left off the youth's and family's
    copies, or, ``listed`` (a final version keeps the contacts it was finalised with), still on
    them. None while the person may be a contact."""
    if may_be_contact(kind, approved_by_youth=approved_by_youth, non_offending=non_offending):
        return None
    return ContactFlag.STILL_LISTED if listed else ContactFlag.LEFT_OFF


def item_key(section: PlanSection, code: str) -> str:
    """The key composition gives a risk, strategy or step of ``code``."""
    if section == PlanSection.RISKS:
        return f"{RISK_PREFIX}{code}"
    if section == PlanSection.STEPS:
        return f"{STEP_PREFIX}{code}"
    return code


def select_strategies(
    catalogue: Catalogue,
    situation: Situation,
    threats: Iterable[ThreatKind],
    persons: Iterable[PersonAtRisk],
) -> list[Strategy]:
    """Strategies fitting the situation, a threat present (any, if none is known) and a person
    at risk. The youth is always at risk, so emotional regulation is always among them."""
    present, at_risk = set(threats), set(persons) | {PersonAtRisk.YOUTH}
    return [
        strategy
        for strategy in catalogue.strategies.values()
        if strategy.when is None
        and situation in strategy.situations
        and (not present or present & set(strategy.threats))
        and at_risk & set(strategy.persons)
    ]


def renewal_strategies(
    catalogue: Catalogue, expiries: Sequence[date], today: date
) -> list[Strategy]:
    """The catalogue's ``protective_order_expiring`` strategies, when an order of a threat
    source runs out within 30 days (or has run out): renew or extend it."""
    if not orders.expiring(expiries, today):
        return []
    return _renewals(catalogue)


def _renewals(catalogue: Catalogue) -> list[Strategy]:
    return [s for s in catalogue.strategies.values() if s.when == orders.EXPIRING]


def renewal_keys(catalogue: Catalogue) -> frozenset[str]:
    """The plan keys of the renewal steps (of the ``protective_order_expiring`` strategies)."""
    return frozenset(item_key(PlanSection.STEPS, s.code) for s in _renewals(catalogue))


def _emergency(result: RiskResult, catalogue: Catalogue, today: date) -> list[ProposedItem]:
    """The emergency protocol, due today."""
    if result.level != RiskLevel.IMMINENT:
        return []
    return emergency_items(result.emergency_protocol, catalogue, today)


def emergency_items(codes: Iterable[str], catalogue: Catalogue, today: date) -> list[ProposedItem]:
    """The emergency protocol's steps ``codes`` (those the catalogue words), accepted, due today."""
    steps = [catalogue.emergency_protocol.get(code) for code in codes]
    return [
        ProposedItem(
            s.code, PlanSection.EMERGENCY, ItemState.ACCEPTED, s.code, owner=s.owner, due_on=today
        )
        for s in steps
        if s is not None
    ]


def _risks(result: RiskResult) -> list[ProposedItem]:
    return [
        ProposedItem(f"{RISK_PREFIX}{r.code}", PlanSection.RISKS, ItemState.ACCEPTED, r.code)
        for r in result.reasons
    ]


def _strategy(strategy: Strategy) -> ProposedItem:
    return ProposedItem(
        strategy.code,
        PlanSection.STRATEGIES,
        ItemState.SUGGESTED,
        strategy.code,
        phase=strategy.phase,
        owner=strategy.owner,
    )


def _step(strategy: Strategy, today: date, due_on: date | None = None) -> ProposedItem:
    assert strategy.step is not None
    days = strategy.step.due_days
    if due_on is None and days is not None:
        due_on = today + timedelta(days=days)
    return ProposedItem(
        f"{STEP_PREFIX}{strategy.code}",
        PlanSection.STEPS,
        ItemState.SUGGESTED,
        strategy.code,
        phase=strategy.phase,
        owner=strategy.owner,
        due_on=due_on,
    )


def _resource(code: str) -> ProposedItem:
    return ProposedItem(f"{RESOURCE_PREFIX}{code}", PlanSection.RESOURCES, ItemState.ACCEPTED, code)


def _carry_over(
    items: list[ProposedItem],
    previous: Sequence[ProposedItem],
    required: set[str],
    done: frozenset[str],
) -> list[ProposedItem]:
    before = {item.key: item for item in previous}
    kept = [
        item if item.key in required else _decided(item, before.get(item.key), done)
        for item in items
    ]
    chosen = {item.key for item in items}
    carried = [item for item in previous if item.key not in chosen]
    added = [item for item in carried if item.state == ItemState.ADDED]
    steps = _steps_kept(carried, done)
    by_section = {
        section: [i for i in kept + added + steps if i.section == section]
        for section in PlanSection
    }
    return [item for section in PlanSection for item in by_section[section]]


def _steps_kept(dropped: Sequence[ProposedItem], done: frozenset[str]) -> list[ProposedItem]:
    """Steps of the previous version the new composition no longer calls for (the situation
    changed) that still belong on the plan. A step done stays, accepted, with its due date: it
    records what the youth did. A step accepted but not done is suggested again, not kept as
    accepted: it was agreed for a situation that has passed (a go bag, once the youth has left),
    so staff decide with the youth whether it still fits, and finalizing will not drop it
    silently; as a suggestion it is not counted overdue meanwhile, and once its date has gone by
    it is accepted again only with a new one. Undecided and rejected steps go, as a suggestion
    the situation no longer calls for does."""
    return [
        replace(step, state=ItemState.ACCEPTED if step.key in done else ItemState.SUGGESTED)
        for step in dropped
        if step.section == PlanSection.STEPS
        and step.state != ItemState.ADDED
        and (step.key in done or step.state == ItemState.ACCEPTED)
    ]


def _decided(
    item: ProposedItem, earlier: ProposedItem | None, done: frozenset[str]
) -> ProposedItem:
    """An item staff already accepted or rejected keeps that decision; a step carried over keeps
    its due date (moving it at each meeting would make it never late) and its owner (whom staff
    gave it to with the youth: the youth's and the family's copies list it by its owner); a
    step done is accepted."""
    if earlier is None or item.section not in DECIDED_BY_STAFF:
        return replace(item, state=ItemState.ACCEPTED) if item.key in done else item
    if item.section == PlanSection.STEPS:
        item = replace(item, due_on=earlier.due_on, owner=earlier.owner or item.owner)
    if item.key in done:
        return replace(item, state=ItemState.ACCEPTED)
    if earlier.state in (ItemState.ACCEPTED, ItemState.REJECTED):
        return replace(item, state=earlier.state)
    return item
