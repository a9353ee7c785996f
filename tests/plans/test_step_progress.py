"""Steps are tracked to done: any step can be marked done (and undone), with who and when; a step
carried into the next version keeps its due date and its state, so an open one becomes overdue
(in `cases` and `case show`); progress is kept apart from the versions, so a final version's
stored copies and `plan render` agree, byte for byte, whatever is done later."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from harbour.app import App, UnitOfWork
from harbour.assessments.submit import submit_assessment
from harbour.clock import FixedClock
from harbour.db.models import Case
from harbour.domain.vocab import ItemState, PlanSection
from harbour.plans import store as planning
from harbour.plans.actions import show
from harbour.plans.sealed_copies import store_documents, stored_document
from tests.cli.helpers import assess_just_left as assess
from tests.cli.helpers import ok, referred_case, safest
from tests.notify.helpers import rows
from tests.support import invoke


@pytest.fixture
def ref(seeded: App, tmp_path: Path) -> str:
    reference = referred_case(seeded, tmp_path, "SP", situation="just_left")
    assess(seeded, reference, "initial_contact")
    return reference


def steps(app: App, ref: str, version: int | None = None) -> dict[str, object]:
    view = show(app, "cw1", ref, version)
    return {i.key: i for i in view.section(PlanSection.STEPS, include_rejected=True)}


def dated_step(app: App, ref: str) -> str:
    return next(k for k, i in steps(app, ref).items() if i.due_on is not None)  # type: ignore[attr-defined]


def test_any_step_can_be_done_and_undone_with_who_and_when(seeded: App, ref: str) -> None:
    key = dated_step(seeded, ref)
    ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")
    done = ok(seeded, "plan", "done", ref, key, "--as", "cw1")
    assert done == {"item": key, "done": True, "version": 1}
    assert steps(seeded, ref)[key].done_at is not None  # type: ignore[attr-defined]
    shown = invoke(seeded, "plan", "show", ref, "--as", "cw1")
    assert any(key in line and "DONE" in line for line in shown.stdout.splitlines())
    trail = ok(seeded, "audit", ref, "--as", "sup")
    assert any(e["action"] == "plan.step.done" for e in trail), trail
    ok(seeded, "plan", "undo", ref, key, "--as", "cw1")
    assert steps(seeded, ref)[key].done_at is None  # type: ignore[attr-defined]
    strategy = next(i.key for i in show(seeded, "cw1", ref).section(PlanSection.STRATEGIES))
    refused = invoke(seeded, "plan", "done", ref, strategy, "--as", "cw1")
    assert refused.exit_code == 2 and "not a step" in refused.stderr


def test_plan_show_gives_the_day_a_step_was_done_in_the_agencys_zone(
    seeded: App, clock: FixedClock, ref: str
) -> None:
    key = dated_step(seeded, ref)
    clock.advance(timedelta(hours=10, minutes=30))  # 19:30 on the 2nd in New York, the 3rd in UTC
    ok(seeded, "plan", "done", ref, key, "--as", "cw1")
    shown = invoke(seeded, "plan", "show", ref, "--as", "cw1").stdout
    line = next(line for line in shown.splitlines() if key in line)
    assert line.endswith(", DONE 2026-03-02]"), line


def test_a_carried_step_keeps_its_due_date_and_becomes_overdue(
    seeded: App, ref: str, clock: FixedClock
) -> None:
    key = dated_step(seeded, ref)
    due = steps(seeded, ref)[key].due_on  # type: ignore[attr-defined]
    ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")
    clock.advance(timedelta(days=20))
    assess(seeded, ref)
    assert steps(seeded, ref)[key].due_on == due  # type: ignore[attr-defined]
    listed = {r["case"]: r for r in ok(seeded, "cases", "--as", "cw1")}
    assert key in [s["key"] for s in listed[ref]["steps_overdue"]]
    table = invoke(seeded, "cases", "--as", "cw1")
    assert "STEPS-OVERDUE:" in table.stdout
    case = ok(seeded, "case", "show", ref, "--as", "cw1")
    assert {"key": key, "due_on": due.isoformat()} in case["steps_overdue"]
    ok(seeded, "plan", "done", ref, key, "--as", "cw1")
    case = ok(seeded, "case", "show", ref, "--as", "cw1")
    assert key not in [s["key"] for s in case["steps_overdue"]]


def test_a_coordinator_sees_how_many_steps_are_overdue_not_which(
    seeded: App, ref: str, clock: FixedClock
) -> None:
    """Which steps a plan holds is plan content: once the case has its caseworker, the
    coordinators' caseload counts the overdue steps and names none (its caseworker's names them)."""
    ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")
    clock.advance(timedelta(days=20))
    assess(seeded, ref)
    mine = {r["case"]: r for r in ok(seeded, "cases", "--as", "cw1")}[ref]
    assert mine["steps_overdue"] and mine["steps_overdue_count"] == len(mine["steps_overdue"])
    theirs = {r["case"]: r for r in ok(seeded, "cases", "--as", "coord")}[ref]
    assert theirs["steps_overdue"] == []
    assert theirs["steps_overdue_count"] == mine["steps_overdue_count"]
    table = invoke(seeded, "cases", "--as", "coord")
    assert f"STEPS-OVERDUE:{mine['steps_overdue_count']}" in table.stdout
    assert not any(s["key"] in table.stdout for s in mine["steps_overdue"])


def test_a_done_step_stays_done_and_is_not_suggested_again(
    seeded: App, ref: str, clock: FixedClock
) -> None:
    key = dated_step(seeded, ref)
    assert steps(seeded, ref)[key].state == ItemState.SUGGESTED  # type: ignore[attr-defined]
    ok(seeded, "plan", "done", ref, key, "--as", "cw1")  # done while the draft is open
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    clock.advance(timedelta(days=3))
    assess(seeded, ref)
    carried = steps(seeded, ref)[key]
    assert carried.state == ItemState.ACCEPTED and carried.done_at is not None  # type: ignore[attr-defined]


def test_steps_done_or_agreed_outlive_a_change_of_situation(
    seeded: App, tmp_path: Path, clock: FixedClock
) -> None:
    """Considering leaving, then just left: the go bag done stays on the next version, done;
    the exit plan agreed but not done comes back as a suggestion for staff to decide."""
    reference = referred_case(seeded, tmp_path, "SC", situation="considering_leaving")
    considering = safest(seeded) | {"situation": "considering_leaving"}
    submit_assessment(seeded, "cw1", reference, "initial_contact", considering)
    ok(seeded, "plan", "done", reference, "step:leave.go_bag", "--as", "cw1")
    ok(seeded, "plan", "finalize", reference, "--accept-rest", "--as", "cw1")
    clock.advance(timedelta(days=3))
    submit_assessment(
        seeded, "cw1", reference, "just_left", safest(seeded) | {"situation": "just_left"}
    )

    shown = invoke(seeded, "plan", "show", reference, "--as", "cw1").stdout
    go_bag = next(line for line in shown.splitlines() if "[step:leave.go_bag;" in line)
    assert "accepted" in go_bag and "DONE 2026-03-02" in go_bag
    exit_plan = next(line for line in shown.splitlines() if "[step:leave.escape_route;" in line)
    assert "suggested" in exit_plan and "DONE" not in exit_plan
    refused = invoke(seeded, "plan", "finalize", reference, "--as", "cw1")
    assert refused.exit_code == 2 and "step:leave.escape_route" in refused.stderr


def test_a_step_agreed_again_after_its_date_went_by_is_asked_for_a_new_one(
    seeded: App, tmp_path: Path, clock: FixedClock
) -> None:
    """Considering leaving, then two weeks on just left: the exit plan and the hotline call,
    agreed but not done, come back as suggestions with their dates gone by. Accepting either
    (`plan accept`, `plan finalize --accept-rest`) is refused, naming each step and what to
    pass, and changes nothing; given a new date, or none, each is accepted, and the final
    version has no step overdue at once."""
    reference = referred_case(seeded, tmp_path, "SD", situation="considering_leaving")
    considering = safest(seeded) | {"situation": "considering_leaving"}
    submit_assessment(seeded, "cw1", reference, "initial_contact", considering)
    ok(seeded, "plan", "done", reference, "step:leave.go_bag", "--as", "cw1")
    ok(seeded, "plan", "finalize", reference, "--accept-rest", "--as", "cw1")
    agreed = {k: i.due_on for k, i in steps(seeded, reference).items()}  # type: ignore[attr-defined]
    clock.advance(timedelta(days=14))
    just_left = safest(seeded) | {"situation": "just_left"}
    submit_assessment(seeded, "cw1", reference, "planning_meeting", just_left)
    late = ["step:leave.escape_route", "step:leave.hotline"]
    before = show(seeded, "cw1", reference)
    assert [i.state for k, i in steps(seeded, reference).items() if k in late] == [
        ItemState.SUGGESTED
    ] * 2

    refused = invoke(
        seeded, "plan", "finalize", reference, "--accept-rest", "--as", "cw1", "--json"
    )
    assert refused.exit_code == 2, refused.stdout
    problems = {p["field"]: p["reason"] for p in json.loads(refused.stderr)["problems"]}
    assert sorted(problems) == late
    exit_plan = late[0]
    assert problems[exit_plan] == (
        f"was due {agreed[exit_plan].isoformat()}, before today (2026-03-16): give it a new due "
        f"date, or none, first (plan edit {exit_plan} --due YYYY-MM-DD, or --no-due), "
        f"or leave it out (--leave-out {exit_plan})"
    )
    accepted = invoke(seeded, "plan", "accept", reference, exit_plan, "--as", "cw1", "--json")
    assert accepted.exit_code == 2, accepted.stdout
    assert json.loads(accepted.stderr)["problems"] == [
        {
            "field": exit_plan,
            "reason": f"was due {agreed[exit_plan].isoformat()}, before today (2026-03-16): give "
            f"it a new due date, or none, first (plan edit {exit_plan} --due YYYY-MM-DD, or "
            "--no-due)",
        }
    ]
    assert show(seeded, "cw1", reference) == before  # nothing changed

    ok(seeded, "plan", "edit", reference, exit_plan, "--due", "2026-03-23", "--as", "cw1")
    ok(seeded, "plan", "accept", reference, exit_plan, "--as", "cw1")
    ok(seeded, "plan", "edit", reference, late[1], "--no-due", "--as", "cw1")
    ok(seeded, "plan", "finalize", reference, "--accept-rest", "--as", "cw1")
    final = steps(seeded, reference)
    assert [(final[k].state, final[k].due_on) for k in late] == [  # type: ignore[attr-defined]
        (ItemState.ACCEPTED, date(2026, 3, 23)),
        (ItemState.ACCEPTED, None),
    ]
    assert ok(seeded, "case", "show", reference, "--as", "cw1")["steps_overdue"] == []


def test_emergency_steps_stay_recordable_on_their_version_after_a_newer_one(
    seeded: App, tmp_path: Path, clock: FixedClock
) -> None:
    """Imminent at initial contact (version 1 holds the protocol), a planning meeting the next
    day (version 2 has none): each action taken is still recorded, on version 1."""
    reference = referred_case(seeded, tmp_path, "EM", situation="just_left")
    danger = safest(seeded) | {"situation": "just_left", "immediate_danger": "yes"}
    submit_assessment(seeded, "cw1", reference, "initial_contact", danger)
    clock.advance(timedelta(hours=20))
    submit_assessment(seeded, "cw1", reference, "planning_meeting", safest(seeded))

    def shown(version: str) -> dict[str, str]:
        out = invoke(seeded, "plan", "show", reference, "--version", version, "--as", "cw1")
        return {
            line.split("[")[1].split(";")[0]: line
            for line in out.stdout.splitlines()
            if "[" in line
        }

    assert not [k for k in shown("2") if k.startswith("emergency.")]
    done = invoke(seeded, "plan", "done", reference, "emergency.shelter", "--as", "cw1")
    assert done.exit_code == 0, done.stderr
    assert done.stdout == "emergency.shelter: done, on plan version 1.\n"
    assert "DONE" in shown("1")["emergency.shelter"]
    number = shown("1")["emergency.law_enforcement"].split(".")[0].strip()
    by_number = ok(seeded, "plan", "done", reference, number, "--version", "1", "--as", "cw1")
    assert by_number == {"item": "emergency.law_enforcement", "done": True, "version": 1}
    ok(seeded, "plan", "undo", reference, "emergency.shelter", "--version", "1", "--as", "cw1")
    assert "DONE" not in shown("1")["emergency.shelter"]
    assert "DONE" in shown("1")["emergency.law_enforcement"]

    trail = len(ok(seeded, "audit", reference, "--as", "sup"))
    for args, said in (
        (("emergency.shelter", "--version", "9"), "no plan version 9 (it has 1 to 2)"),
        (("emergency.shelter", "--version", "0"), "--version"),
        (("emergency.shelter", "--version", "2"), "no such item"),  # named: not looked for
        (("emergency.nowhere",), "no such item"),
    ):
        refused = invoke(seeded, "plan", "done", reference, *args, "--as", "cw1")
        assert refused.exit_code == 2 and said in refused.stderr, (args, refused.stderr)
    assert "DONE" not in shown("1")["emergency.shelter"]
    audited = ok(seeded, "audit", reference, "--as", "sup")[trail:]
    assert not [e for e in audited if e["action"].startswith("plan.step")]


def test_a_step_is_recorded_on_the_latest_version_only_an_emergency_step_on_an_earlier(
    seeded: App, ref: str, clock: FixedClock
) -> None:
    """A step's progress is the case's, whichever version holds it: recorded on an earlier
    version, a step the latest version rejected would come back, done, in the next one. So
    `plan done --version N` records only an emergency step on an earlier version (its progress
    is its version's own), as the console offers; a step is recorded on the latest."""
    key = dated_step(seeded, ref)
    ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")
    clock.advance(timedelta(days=3))
    assess(seeded, ref)  # version 2: the step carried, agreed
    ok(seeded, "plan", "reject", ref, key, "--as", "cw1")  # and no longer wanted
    trail = len(ok(seeded, "audit", ref, "--as", "sup"))
    for command in ("done", "undo"):
        refused = invoke(seeded, "plan", command, ref, key, "--version", "1", "--as", "cw1")
        assert refused.exit_code == 2, refused.stdout
        assert "only an emergency step is recorded on an earlier version" in refused.stderr
    latest = invoke(seeded, "plan", "done", ref, key, "--as", "cw1")
    assert latest.exit_code == 2 and "a rejected step is not on the plan" in latest.stderr
    assert steps(seeded, ref, 1)[key].done_at is None  # type: ignore[attr-defined]
    audited = ok(seeded, "audit", ref, "--as", "sup")[trail:]
    assert not [e for e in audited if e["action"].startswith("plan.step")]


def test_final_copies_and_plan_render_agree_whatever_is_done_later(
    seeded: App, ref: str, clock: FixedClock
) -> None:
    key = dated_step(seeded, ref)
    ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")

    def stored() -> str | None:
        def work(uow: UnitOfWork) -> str | None:
            case = uow.session.scalars(select(Case).where(Case.reference == ref)).one()
            plan = planning.latest_plan(uow, case, 1)
            assert plan is not None
            store_documents(uow, plan)
            return stored_document(uow, plan, "staff", "text")

        return seeded.run(work)

    def render() -> str:
        args = ("--audience", "staff", "--format", "text", "--version", "1", "--json")
        result = invoke(seeded, "plan", "render", ref, *args, "--as", "cw1")
        assert result.exit_code == 0, result.stderr
        return str(result.json()["document"])

    before = render()
    assert stored() == before
    clock.advance(timedelta(hours=2))
    ok(seeded, "plan", "done", ref, key, "--as", "cw1")
    assert render() == before == stored()  # the final version as agreed
    assert steps(seeded, ref, 1)[key].done_at is not None  # type: ignore[attr-defined]
    clock.advance(timedelta(days=3))
    assess(seeded, ref)
    args = ("--audience", "staff", "--format", "text", "--version", "2")
    second = invoke(seeded, "plan", "render", ref, *args, "--as", "cw1")
    assert second.exit_code == 0, second.stderr
    steps_part = second.stdout.split("STEPS\n")[-1]
    assert "done at" in steps_part  # the next version shows it done


def test_the_caseworkers_digest_points_at_overdue_steps(
    seeded: App, ref: str, clock: FixedClock
) -> None:
    key = dated_step(seeded, ref)
    due = steps(seeded, ref)[key].due_on  # type: ignore[attr-defined]
    ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")
    due_next = ok(seeded, "case", "show", ref, "--as", "cw1")["next_due"]
    clock.set(datetime.fromisoformat(due_next) + timedelta(days=1))  # a reminder: a digest
    assert invoke(seeded, "sweep", "--at", clock.now().isoformat()).exit_code == 0
    items = [i for d in rows(seeded, kind="reminder_digest") for i in d.context["items"]]
    late = [i for i in items if i["kind"] == "plan_step_overdue"]
    assert [(i["case_ref"], i["path"]) for i in late] == [
        ("-".join(ref.split("-")[:3]), f"/cases/{ref}")
    ]
    assert late[0]["due_date"] <= due.isoformat()


RENEWAL = "step:after.renew_protective_order"


def test_a_renewed_order_running_out_again_asks_for_a_new_renewal(
    seeded: App, ref: str, clock: FixedClock
) -> None:
    """The renewal step done for one expiry is not done for the next: once the renewed order
    runs out again, the plan asks for its renewal afresh, due a week before the new expiry."""
    number = "0"  # the referral's threat source, its order running out on the 20th
    running_out = invoke(
        seeded,
        *("case", "threat", "edit", ref, number, "--protective-order-expires-on", "2026-03-20"),
        *("--as", "cw1"),
    )
    assert running_out.exit_code == 0, running_out.stderr
    assess(seeded, ref)
    assert steps(seeded, ref)[RENEWAL].due_on == date(2026, 3, 13)  # type: ignore[attr-defined]
    ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")
    ok(seeded, "plan", "done", ref, RENEWAL, "--as", "cw1")
    renewed = invoke(
        seeded,
        *("case", "threat", "edit", ref, number, "--protective-order-expires-on", "2027-03-20"),
        *("--as", "cw1"),
    )
    assert renewed.exit_code == 0, renewed.stderr
    clock.advance(timedelta(days=30))
    assess(seeded, ref)  # the order runs out in a year: the renewal done stays on the plan
    assert steps(seeded, ref)[RENEWAL].done_at is not None  # type: ignore[attr-defined]
    ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")
    clock.advance(timedelta(days=330))  # 2027-02-25: the renewed order runs out within 30 days
    assess(seeded, ref)
    step = steps(seeded, ref)[RENEWAL]
    assert step.done_at is None  # type: ignore[attr-defined]
    assert step.due_on == date(2027, 3, 13)  # type: ignore[attr-defined]


def test_a_renewed_order_running_out_again_beside_one_let_lapse_asks_for_a_new_renewal(
    seeded: App, ref: str, clock: FixedClock
) -> None:
    """Another of the case's orders ran out long ago (not renewed: the youth let it go): the
    renewal done for the order renewed is still not done for that order's next expiry. Dated
    from the earliest order expiring, the lapsed one, last year's renewal stayed done."""
    edit = ("case", "threat", "edit", ref, "0", "--protective-order-expires-on")
    assert invoke(seeded, *edit, "2026-03-20", "--as", "cw1").exit_code == 0
    other = ("case", "threat", "add", ref, "--kind", "network", "--protective-order")
    added = invoke(seeded, *other, "--protective-order-expires-on", "2026-03-25", "--as", "cw1")
    assert added.exit_code == 0, added.stderr
    assess(seeded, ref)
    ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")
    ok(seeded, "plan", "done", ref, RENEWAL, "--as", "cw1")
    assert invoke(seeded, *edit, "2027-03-20", "--as", "cw1").exit_code == 0  # renewed
    clock.advance(timedelta(days=360))  # 2027-02-25: the renewed order runs out within 30 days
    assess(seeded, ref)
    step = steps(seeded, ref)[RENEWAL]
    assert step.done_at is None  # type: ignore[attr-defined]
    assert step.due_on != date(2026, 3, 13)  # type: ignore[attr-defined]  # last year's


def test_a_step_done_reads_done_on_the_youths_and_the_familys_next_copies(
    seeded: App, tmp_path: Path, clock: FixedClock
) -> None:
    """The go bag done before the youth left stays on the next version, done: the copies handed
    over say so, not "by" its date (gone by), as if it were still to do and late."""
    reference = referred_case(seeded, tmp_path, "SE", situation="considering_leaving")
    considering = safest(seeded) | {"situation": "considering_leaving"}
    submit_assessment(seeded, "cw1", reference, "initial_contact", considering)
    ok(seeded, "plan", "edit", reference, "step:leave.escape_route", "--owner", "family",
       "--as", "cw1")  # fmt: skip
    ok(seeded, "plan", "done", reference, "step:leave.go_bag", "--as", "cw1")
    ok(seeded, "plan", "done", reference, "step:leave.escape_route", "--as", "cw1")
    ok(seeded, "plan", "finalize", reference, "--accept-rest", "--as", "cw1")
    due = {k: i.due_on for k, i in steps(seeded, reference).items()}  # type: ignore[attr-defined]
    clock.advance(timedelta(days=14))
    just_left = safest(seeded) | {"situation": "just_left"}
    submit_assessment(seeded, "cw1", reference, "planning_meeting", just_left)

    def copy(audience: str, fmt: str) -> str:
        result = invoke(seeded, "plan", "render", reference, "--audience", audience,
                        "--format", fmt, "--as", "cw1")  # fmt: skip
        assert result.exit_code == 0, result.stderr
        return result.stdout

    for fmt in ("html", "text", "md"):
        youth, family = copy("youth", fmt), copy("family", fmt)
        assert "Get your bag ready." in youth, fmt
        assert due["step:leave.go_bag"].isoformat() not in youth, fmt
        assert "Walk through the exit plan" in family, fmt
        assert due["step:leave.escape_route"].isoformat() not in family, fmt
        assert "(done)" in youth and "(done)" in family, fmt


def test_the_staff_copy_of_the_open_draft_shows_the_emergency_steps_recorded_so_far(
    seeded: App, tmp_path: Path, clock: FixedClock
) -> None:
    """Imminent at initial contact: the shelter found and recorded while the draft is still
    open. The staff copy printed then (the console's print, `plan render`) says so, as `plan
    show` does, not NOT DONE: a draft's copy reads the draft as it stands, its progress too."""
    reference = referred_case(seeded, tmp_path, "EN", situation="just_left")
    danger = safest(seeded) | {"situation": "just_left", "immediate_danger": "yes"}
    submit_assessment(seeded, "cw1", reference, "initial_contact", danger)
    clock.advance(timedelta(minutes=40))
    ok(seeded, "plan", "done", reference, "emergency.shelter", "--as", "cw1")

    def staff_copy() -> str:
        result = invoke(seeded, "plan", "render", reference, "--audience", "staff",
                        "--format", "text", "--as", "cw1")  # fmt: skip
        assert result.exit_code == 0, result.stderr
        return result.stdout

    line = next(ln for ln in staff_copy().splitlines() if "Arrange emergency shelter" in ln)
    assert line.lstrip().startswith("[x]") and "done at" in line and "NOT DONE" not in line
    ok(seeded, "plan", "finalize", reference, "--accept-rest", "--as", "cw1")
    clock.advance(timedelta(hours=1))
    ok(seeded, "plan", "done", reference, "emergency.law_enforcement", "--as", "cw1")
    final = staff_copy()  # a final version's copy stays as it was finalised
    assert "[x] Arrange emergency shelter" in final
    police = next(ln for ln in final.splitlines() if "Contact law enforcement" in ln)
    assert "NOT DONE" in police
