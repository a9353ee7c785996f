"""The lifecycle's transitions: exactly the allowed ones succeed, each recording one event."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from harbour.app import App
from harbour.cases.transitions import transition
from harbour.db.models import Case, LifecycleEvent
from harbour.domain.lifecycle import TRANSITIONS
from harbour.domain.vocab import CaseStatus
from harbour.errors import Conflict
from tests.cli.helpers import referred_case

S = CaseStatus
ALLOWED = {
    (S.REFERRED, S.ACTIVE),
    (S.ACTIVE, S.DISCHARGE_PENDING),
    (S.DISCHARGE_PENDING, S.ACTIVE),
    (S.DISCHARGE_PENDING, S.DISCHARGED),
    (S.DISCHARGED, S.CLOSED),
    (S.DISCHARGED, S.REOPENED),
    (S.CLOSED, S.REOPENED),
    (S.REOPENED, S.ACTIVE),
    (S.REOPENED, S.DISCHARGE_PENDING),
}


def test_the_table_is_the_documented_lifecycle() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED


def test_every_pair_is_allowed_or_refused_with_one_event(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)

    def attempt(uow, start: CaseStatus, to: CaseStatus) -> list[dict]:
        case = uow.session.scalar(select(Case).where(Case.reference == ref))
        case.status = start
        before = set(uow.session.scalars(select(LifecycleEvent.id)))
        transition(uow, None, case, to)
        assert case.status == to
        return [
            e.payload for e in uow.session.scalars(select(LifecycleEvent)) if e.id not in before
        ]

    for start in CaseStatus:
        for to in CaseStatus:
            with seeded.uow() as uow:  # rolled back: each pair starts afresh
                if (start, to) in ALLOWED:
                    assert attempt(uow, start, to) == [{"from_status": start, "to_status": to}]
                else:
                    with pytest.raises(Conflict, match="transition_not_allowed"):
                        attempt(uow, start, to)


def test_named_events_for_discharge_close_and_reopen(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    names = {
        S.DISCHARGED: "discharged",
        S.CLOSED: "closed",
        S.REOPENED: "reopened",
        S.ACTIVE: "status_changed",
    }
    path = [
        (S.REFERRED, S.ACTIVE),
        (S.DISCHARGE_PENDING, S.DISCHARGED),
        (S.DISCHARGED, S.CLOSED),
        (S.CLOSED, S.REOPENED),
    ]
    for start, to in path:
        with seeded.uow() as uow:
            case = uow.session.scalar(select(Case).where(Case.reference == ref))
            case.status = start
            transition(uow, None, case, to)
            event = uow.session.scalars(
                select(LifecycleEvent)
                .where(LifecycleEvent.case_id == case.id)
                .order_by(LifecycleEvent.occurred_at.desc(), LifecycleEvent.name)
            ).all()
            assert any(
                e.name == f"harbour.case.{names[to]}" and e.payload["to_status"] == to
                for e in event
            )
