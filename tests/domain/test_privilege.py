"""The rule of who may do what on one case (pure): by role, and by the actor's tie to the case."""

from __future__ import annotations

import pytest

from harbour.domain.privilege import (
    CoverRefusal,
    Refusal,
    Standing,
    case_actions,
    cover_hours,
    cover_refusal,
    refusal,
)
from harbour.domain.vocab import Role

C, W, S, A = Role.COORDINATOR, Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN
WORK = {"case.summary", "case.read", "case.assess", "case.plan", "case.discharge", "case.edit"}
WORK |= {"case.missing", "case.missing.read"}


def standing(role: Role, *, assigned: bool = False, covering: bool = False) -> Standing:
    return Standing(role, assigned, covering, has_caseworker=True)


@pytest.mark.parametrize(
    ("tie", "expected"),
    [
        # A caseworker: on their own case, or one they cover, the work; on a colleague's, only
        # starting a cover.
        (standing(W, assigned=True), WORK | {"case.cover"}),
        (standing(W, covering=True), WORK | {"case.cover"}),
        (standing(W), {"case.cover"}),
        # A supervisor: everything on every case of the agency, whoever it is assigned to.
        (
            standing(S),
            WORK
            | {"case.cover", "case.assign", "case.override", "case.close", "case.reopen"}
            | {"case.audit", "case.missing.withdraw"},
        ),
        # A coordinator once the case has a caseworker: its summary, and (re)assigning it.
        (standing(C), {"case.summary", "case.assign"}),
        (
            Standing(C, False, False, has_caseworker=False),
            {"case.summary", "case.read", "case.assign"},
        ),
        (standing(A), set()),
    ],
)
def test_actions_on_a_case(tie: Standing, expected: set[str]) -> None:
    assert case_actions(tie) == expected


def test_refusals_say_why() -> None:
    assert refusal(standing(W), "case.plan") == Refusal.NOT_ASSIGNED
    assert refusal(standing(W, covering=True), "case.plan") is None
    assert refusal(standing(C), "case.read") == Refusal.INTAKE_DONE
    assert refusal(standing(C), "case.summary") is None


def test_who_may_start_a_cover() -> None:
    assert cover_refusal(standing(W)) is None
    assert cover_refusal(standing(W, assigned=True)) == CoverRefusal.NOT_NEEDED_ASSIGNED
    assert cover_refusal(standing(W, covering=True)) == CoverRefusal.ALREADY_COVERING
    assert cover_refusal(standing(S)) == CoverRefusal.NOT_NEEDED_SUPERVISOR


def test_how_long_a_cover_lasts() -> None:
    assert cover_hours(None, 8, 72) == 8
    assert cover_hours(72, 8, 72) == 72
    assert cover_hours(73, 8, 72) is None
    assert cover_hours(0, 8, 72) is None
