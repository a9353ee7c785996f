"""Submitting assessments: stored once, answers split and sealed, events, override, refusals."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from harbour.app import App
from harbour.assessments.submit import submit_assessment
from harbour.db.models import Assessment, Case, LifecycleEvent, Plan
from harbour.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.cli.helpers import answers_file, ok, referred_case, safest
from tests.notify.helpers import new_case
from tests.support import given, invoke


def count(app: App, model: type) -> int:
    return app.run(lambda uow: uow.session.scalar(select(func.count()).select_from(model)))


def test_same_idempotency_key_stores_once(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    answers = safest(seeded) | {"violence": "yes"}
    first = submit_assessment(seeded, "cw1", ref, "initial_contact", answers, "visit-1")
    again = submit_assessment(seeded, "cw1", ref, "initial_contact", answers, "visit-1")
    assert again.assessment_id == first.assessment_id and again.replayed
    assert again.risk_level == first.risk_level == "high"
    assert again.plan_version == first.plan_version == 1
    completed = seeded.run(
        lambda uow: uow.session.scalar(
            select(func.count()).select_from(Assessment).where(Assessment.status == "completed")
        )
    )
    assert completed == 1 and count(seeded, Plan) == 1
    with pytest.raises(Conflict, match="idempotency_key_reused"):
        submit_assessment(seeded, "cw1", ref, "initial_contact", safest(seeded), "visit-1")


def test_free_text_is_sealed_and_events_carry_levels_only(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    answers = safest(seeded) | {"youth_worries": "MKworry", "immediate_danger": "yes"}
    outcome = submit_assessment(seeded, "cw1", ref, "initial_contact", answers)

    def read(uow):
        row = uow.session.get(Assessment, outcome.assessment_id)
        events = uow.session.scalars(
            select(LifecycleEvent).where(LifecycleEvent.subject_id == row.id)
        ).all()
        opened = {f: json.loads(uow.unseal(row, f)) for f in ("answers", "free_text", "reasons")}
        return row, opened, events

    row, opened, events = seeded.run(read)
    assert "youth_worries" not in opened["answers"] and opened["answers"]["self_harm"] == "no"
    assert opened["answers"]["immediate_danger"] == "yes"
    assert "MKworry" not in (row.free_text_sealed or "")
    assert opened["free_text"] == {"youth_worries": "MKworry"}
    assert row.instrument_version and row.computed_level == "imminent"
    assert opened["reasons"][0]["code"] == "immediate_danger"
    payloads = {e.name: e.payload for e in events}
    expected = {"point": "initial_contact", "level": "imminent", "previous_level": None}
    assert payloads["harbour.assessment.submitted"] == expected
    assert payloads["harbour.assessment.completed"] == expected


def test_bad_answers_are_refused_and_nothing_is_written(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    before = (count(seeded, Assessment), count(seeded, Plan), count(seeded, LifecycleEvent))
    bad = answers_file(seeded, tmp_path, "bad", violence="MKsecret", network_reach=12)
    result = invoke(
        seeded, "assess", ref, "--point", "initial_contact", "--answers", bad, "--as", "cw1"
    )
    assert result.exit_code == 2
    assert "answers.violence" in result.stderr and "answers.network_reach" in result.stderr
    assert "MKsecret" not in result.stderr
    point = invoke(seeded, "assess", ref, "--point", "lunch", "--answers", bad, "--as", "cw1")
    assert point.exit_code == 2 and "--point" in point.stderr
    key = submit_assessment
    with pytest.raises(InvalidInput, match="idempotency-key"):
        key(seeded, "cw1", ref, "initial_contact", safest(seeded), "bad key!")
    after = (count(seeded, Assessment), count(seeded, Plan), count(seeded, LifecycleEvent))
    assert after == before


def test_another_agencys_case_does_not_exist(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    with pytest.raises(NotFound):
        submit_assessment(seeded, "cw3", ref, "initial_contact", safest(seeded))
    with pytest.raises(Forbidden):
        submit_assessment(seeded, "coord", ref, "initial_contact", safest(seeded))


def test_override_keeps_both_levels_and_reschedules(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    calm = answers_file(seeded, tmp_path, "calm")
    first = ok(
        seeded, "assess", ref, "--point", "initial_contact", "--answers", calm, "--as", "cw1"
    )
    assert first["risk_level"] == "low"
    raised = ok(
        seeded, "override", ref, "--level", "imminent", "--reason", given("MKwhy"), "--as", "sup"
    )
    assert (raised["risk_level"], raised["computed_level"]) == ("imminent", "low")
    assert raised["previous_level"] == "low" and raised["emergency_protocol"]
    assert raised["next_due"] < first["next_due"]  # imminent: due the next day

    def read(uow):
        row = uow.session.get(Assessment, first["assessment"])
        case = uow.session.get(Case, row.case_id)
        return (
            row.override_level,
            row.computed_level,
            uow.unseal(row, "override_reason"),
            case.risk_level,
        )

    assert seeded.run(read) == ("imminent", "low", "MKwhy", "imminent")
    plan = ok(seeded, "plan", "show", ref, "--as", "cw1")
    assert plan["risk_level"] == "imminent" and plan["computed_level"] == "low"
    assert "emergency.shelter" in {i["key"] for i in plan["items"] if i["section"] == "emergency"}
    bad = invoke(
        seeded, "override", ref, "--level", "extreme", "--reason", given("x"), "--as", "sup"
    )
    assert bad.exit_code == 2 and "level" in bad.stderr


def test_discharged_and_closed_cases_refuse_the_wrong_points(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    answers = safest(seeded)
    with pytest.raises(Conflict, match="point_not_allowed"):
        submit_assessment(seeded, "cw1", ref, "follow_up", answers)
    submit_assessment(seeded, "cw1", ref, "discharge", answers)  # referred -> active -> pending
    assert ok(seeded, "case", "show", ref, "--as", "cw1")["status"] == "discharge_pending"
    submit_assessment(seeded, "cw1", ref, "incident", answers)  # the situation changed
    assert ok(seeded, "case", "show", ref, "--as", "cw1")["status"] == "active"
    submit_assessment(seeded, "cw1", ref, "discharge", answers)
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    ok(seeded, "discharge", ref, "--as", "cw1")
    assert ok(seeded, "discharge", ref, "--as", "cw1")["status"] == "discharged"  # idempotent
    with pytest.raises(Conflict, match="point_not_allowed"):
        submit_assessment(seeded, "cw1", ref, "planning_meeting", answers)
    early = invoke(seeded, "close", ref, "--as", "sup")
    assert early.exit_code == 1 and "follow_ups_outstanding" in early.stderr


def test_interactive_assessment_prompts_each_question(
    seeded: App, tmp_path: Path, monkeypatch
) -> None:
    import io

    ref = referred_case(seeded, tmp_path)
    replies = []
    for group in seeded.reference.instrument.groups:
        for q in group.questions:
            replies.append("" if q.type == "text" else str(safest(seeded)[q.id]))
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(replies) + "\n"))
    result = invoke(seeded, "assess", ref, "--point", "initial_contact", "--as", "cw1", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["risk_level"] == "low"


LINE = re.compile(r"^\s*(\d+)\. .*\[([^;\]]+);")


def numbered(app: App, ref: str, *args: str) -> dict[str, int]:
    """What ``plan show`` lists, in its order: each item's key and the number it gives it."""
    shown = invoke(app, "plan", "show", ref, *args, "--as", "cw1").stdout
    found = (m.groups() for line in shown.splitlines() if (m := LINE.match(line)))
    return {key: int(number) for number, key in found}


def test_an_override_to_imminent_numbers_the_protocol_it_adds_to_the_draft(
    seeded: App, tmp_path: Path
) -> None:
    ref = referred_case(seeded, tmp_path)
    calm = answers_file(seeded, tmp_path, "calm")
    ok(seeded, "assess", ref, "--point", "initial_contact", "--answers", calm, "--as", "cw1")
    before = numbered(seeded, ref)
    ok(seeded, "override", ref, "--level", "imminent", "--reason", given("MKwhy"), "--as", "sup")

    after = numbered(seeded, ref)
    protocol = list(seeded.reference.instrument.emergency_protocol)
    assert list(after)[: len(protocol)] == protocol  # listed first, in the protocol's order
    assert [after[code] for code in protocol] == [
        len(before) + n for n in range(1, len(protocol) + 1)
    ]
    assert {k: n for k, n in after.items() if k not in protocol} == before  # nothing renumbered
    shelter = str(after["emergency.shelter"])
    assert ok(seeded, "plan", "done", ref, shelter, "--as", "cw1")["item"] == "emergency.shelter"
    done = ok(seeded, "plan", "show", ref, "--as", "cw1")["items"]
    assert [i["key"] for i in done if i["done_at"]] == ["emergency.shelter"]


def test_an_override_to_imminent_after_the_plan_is_final_drafts_the_protocol(
    seeded: App, tmp_path: Path
) -> None:
    """A final version never changes: the next version is drafted with the emergency protocol,
    as an assessment at imminent drafts it, so each step taken can be recorded."""
    ref = referred_case(seeded, tmp_path)
    calm = answers_file(seeded, tmp_path, "calm")
    assess = ("assess", ref, "--point", "initial_contact", "--answers", calm, "--as", "cw1")
    ok(seeded, *assess, "--idempotency-key", "meeting-1")
    ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")
    final = ok(seeded, "plan", "show", ref, "--as", "cw1")

    raised = invoke(
        seeded, "override", ref, "--level", "imminent", "--reason", given("MKwhy"), "--as", "sup"
    )
    assert raised.exit_code in (0, 3), raised.stderr  # 3: this store pages nobody
    assert "Plan version 2 drafted with the emergency protocol" in raised.stdout
    assert f"harbour plan done {ref[:12]} CODE" in raised.stdout

    versions = ok(seeded, "plan", "versions", ref, "--as", "cw1")
    assert [(v["number"], v["status"], v["risk_level"], v["by"]) for v in versions] == [
        (1, "final", "low", "cw1"),
        (2, "draft", "imminent", "sup"),  # drafted by the override
    ]
    assert ok(seeded, "plan", "show", ref, "--version", "1", "--as", "cw1") == final
    drafted = ok(seeded, "plan", "show", ref, "--as", "cw1")
    protocol = list(seeded.reference.instrument.emergency_protocol)
    assert [i["key"] for i in drafted["items"] if i["section"] == "emergency"] == protocol
    decided = {i["key"]: i["state"] for i in final["items"] if i["section"] != "emergency"}
    assert {k: s for k, s in decided.items() if k in {i["key"] for i in drafted["items"]}} == (
        decided
    )  # the agreed plan carried over
    assert ok(seeded, "plan", "done", ref, "emergency.shelter", "--as", "cw1")["done"]
    case = ok(seeded, "case", "show", ref, "--as", "cw1")
    assert case["risk_level"] == "imminent"

    again = ok(
        seeded, "override", ref, "--level", "imminent", "--reason", given("MKstill"), "--as", "sup"
    )
    assert again["override"]["emergency_protocol_on"] == {"version": 2, "how": "held"}
    assert [v["number"] for v in ok(seeded, "plan", "versions", ref, "--as", "cw1")] == [1, 2]
    # The assessment repeated with its key answers with the version it composed, not the
    # override's (found by review).
    assert ok(seeded, *assess, "--idempotency-key", "meeting-1")["plan_version"] == 1
    ok(seeded, "plan", "finalize", ref, "--as", "cw1")  # nothing left undecided


def test_an_override_form_sent_again_after_a_later_override_is_not_recorded_again(
    seeded: App,
) -> None:
    """A supervisor's override form sent again (a late retry, the back button) after another
    override of the same assessment: its key was replaced by the later one's, so it was
    recorded afresh, setting the level back to what the later override had changed, with a
    second "risk overridden" event. Spent: refused, and nothing changes."""
    from harbour.assessments.overrides import override_level
    from harbour.events import RISK_OVERRIDDEN

    ref = new_case(seeded).reference
    submit_assessment(seeded, "cw1", ref, "initial_contact", safest(seeded))
    override_level(seeded, "sup", ref, "high", "MKFIRST", "key-first")
    override_level(seeded, "sup", ref, "moderate", "MKSECOND", "key-second")
    with pytest.raises(Conflict) as refused:
        override_level(seeded, "sup", ref, "high", "MKFIRST", "key-first")
    assert refused.value.code == "idempotency_key_spent"

    def state(uow: Any) -> tuple[str, int]:
        case = uow.session.scalars(select(Case).where(Case.reference == ref)).one()
        overridden = select(func.count(LifecycleEvent.id)).where(
            LifecycleEvent.case_id == case.id, LifecycleEvent.name == RISK_OVERRIDDEN
        )
        return case.risk_level, uow.session.scalar(overridden)

    assert seeded.run(state) == ("moderate", 2)
