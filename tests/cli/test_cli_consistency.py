"""The CLI speaks one way: option names in errors, bad input exits 2, local times with their zone,
`cases --due` as the reminders see it, and JSON errors under --json."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import update

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Case
from tests.cli.helpers import answers_file, ok, referred_case
from tests.conftest import START
from tests.support import given, invoke


def _assessed(app: App, tmp_path: Path, marker: str = "CC") -> str:
    ref = referred_case(app, tmp_path, marker)
    answers = answers_file(app, tmp_path, f"a-{marker}")
    ok(app, "assess", ref, "--point", "initial_contact", "--answers", answers, "--as", "cw1")
    return ref


def test_errors_name_options_as_they_are_typed(seeded: App, tmp_path: Path) -> None:
    ref = _assessed(seeded, tmp_path)
    override = invoke(
        seeded, "override", ref, "--level", "severe", "--reason", given(" "), "--as", "sup"
    )
    assert override.exit_code == 2
    assert "--level:" in override.stderr and "--reason:" in override.stderr
    assert "-.level" not in override.stderr
    added = invoke(
        seeded, "plan", "add", ref, "--section", "nope", "--text", given("x"), "--as", "cw1"
    )
    assert added.exit_code == 2 and "--section:" in added.stderr and "-.section" not in added.stderr


def test_plan_versions_that_do_not_exist_are_bad_input(seeded: App, tmp_path: Path) -> None:
    ref = _assessed(seeded, tmp_path)
    cases = [
        (["plan", "show", ref, "--version", "0"], "--version"),
        (["plan", "show", ref, "--version", "99"], "--version"),
        (["plan", "diff", ref, "1", "99"], "V2"),
        (["plan", "diff", ref, "0", "1"], "V1"),
    ]
    for args, field in cases:
        result = invoke(seeded, *args, "--as", "cw1")
        assert result.exit_code == 2, (args, result)
        assert result.stderr.startswith(f"error: invalid_input: {field}: "), result.stderr
    assert (
        "it has 1 to 1"
        in invoke(seeded, "plan", "show", ref, "--version", "9", "--as", "sup").stderr
    )


def test_human_tables_show_the_agencys_local_time(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path, "LT")  # due a day after START: 09:00 New York, EST
    caseload = invoke(seeded, "cases", "--as", "sup").stdout
    assert "2026-03-03 09:00 EST" in caseload and "T14:00" not in caseload
    shown = invoke(seeded, "case", "show", ref, "--as", "sup").stdout
    assert "next due 2026-03-03 09:00 EST" in shown
    trail = invoke(seeded, "audit", ref, "--as", "sup").stdout
    assert trail.splitlines()[0].startswith("2026-03-02 09:00:00 EST")
    as_json = invoke(seeded, "cases", "--as", "sup", "--json").json()[0]
    assert as_json["next_due"] == "2026-03-03T14:00:00+00:00"  # JSON keeps UTC, and adds local
    assert as_json["next_due_local"] == "2026-03-03 09:00 EST"


def test_cases_due_means_due_soon_or_overdue(seeded: App, tmp_path: Path) -> None:
    refs = {name: referred_case(seeded, tmp_path, name) for name in ("Soon", "Late", "Over", "No")}
    due_at = {
        "Soon": START + timedelta(days=1, hours=12),  # inside the 2-day due-soon window
        "Late": START + timedelta(days=10),
        "Over": START - timedelta(days=3),
        "No": None,
    }
    with seeded.engine.begin() as conn:
        for name, at in due_at.items():
            conn.execute(update(Case).where(Case.reference == refs[name]).values(next_due_at=at))
    due = {row["case"] for row in ok(seeded, "cases", "--due", "--as", "sup")}
    assert due == {refs["Soon"], refs["Over"]}
    overdue = {row["case"] for row in ok(seeded, "cases", "--overdue", "--as", "sup")}
    assert overdue == {refs["Over"]}
    assert len(ok(seeded, "cases", "--as", "sup")) == 4
    helped = invoke(seeded, "cases", "--help").stdout
    assert "due-soon" in helped and "overdue" in helped


def test_json_errors_are_json_on_stderr_with_the_same_exit_codes(seeded: App) -> None:
    absent = "HB-0000-0000-0000-0000-0000-0000-0000"
    missing = invoke(seeded, "case", "show", absent, "--as", "sup", "--json")
    assert missing.exit_code == 1 and missing.stdout == ""
    assert json.loads(missing.stderr) == {"error": "case_not_found", "detail": "no such case"}

    bad = invoke(
        seeded, "override", absent, "--level", "x", "--reason", given("y"), "--as", "sup", "--json"
    )
    assert bad.exit_code == 2
    parsed = json.loads(bad.stderr)
    assert parsed["error"] == "invalid_input"
    assert parsed["problems"][0]["field"] == "--level"

    denied = invoke(seeded, "audit", absent, "--as", "cw1", "--json")
    assert denied.exit_code == 1 and json.loads(denied.stderr)["error"] == "not_permitted"

    usage = invoke(seeded, "cases", "--bogus", "--json")
    assert usage.exit_code == 2 and json.loads(usage.stderr)["error"] == "usage"

    plain = invoke(seeded, "case", "show", absent, "--as", "sup")
    assert plain.stderr == "error: case_not_found: no such case\n"


def test_ack_prints_the_agencys_local_time(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path, "Ak")
    answers = answers_file(seeded, tmp_path, "a-Ak", immediate_danger="yes")
    done = ok(seeded, "assess", ref, "--point", "incident", "--answers", answers, "--as", "cw1")
    acked = invoke(seeded, "ack", done["alert"], "--as", "sup")
    assert acked.exit_code == 0, acked
    assert acked.stdout.rstrip().endswith("at 2026-03-02 09:00 EST.")


def test_plan_edit_changes_a_steps_owner_and_due_date(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    from tests.cli.helpers import assess_just_left

    ref = referred_case(seeded, tmp_path)
    assess_just_left(seeded, ref, "initial_contact")
    due = (clock.now() + timedelta(days=3)).date().isoformat()
    text = tmp_path / "step.txt"
    text.write_text("MKEDIT a step")
    key = ok(
        seeded,
        "plan",
        "add",
        ref,
        "--section",
        "steps",
        "--text",
        f"@{text}",
        "--owner",
        "youth",
        "--as",
        "cw1",
    )["item"]
    edited = ok(seeded, "plan", "edit", ref, key, "--owner", "family", "--due", due, "--as", "cw1")
    assert edited == {"item": key, "owner": "family", "due": due}
    shown = ok(seeded, "plan", "show", ref, "--as", "cw1")
    step = next(i for i in shown["items"] if i["key"] == key)
    assert (step["owner"], step["due_on"]) == ("family", due)
    bad = invoke(seeded, "plan", "edit", ref, key, "--owner", "nobody", "--as", "cw1")
    assert bad.exit_code == 2 and "--owner" in bad.stderr
    past = invoke(
        seeded, "plan", "edit", ref, key, "--owner", "youth", "--due", "2001-01-01", "--as", "cw1"
    )
    assert past.exit_code == 2 and "--due" in past.stderr
    strategy = next(i["key"] for i in shown["items"] if i["section"] == "strategies")
    not_step = invoke(seeded, "plan", "edit", ref, strategy, "--owner", "youth", "--as", "cw1")
    assert not_step.exit_code == 2 and "only steps" in not_step.stderr
    # What is left out stays: a new owner keeps the date, a new date keeps the owner; the date
    # comes off only when asked (--no-due); asking nothing, or both, is refused.
    owner = ok(seeded, "plan", "edit", ref, key, "--owner", "agency", "--as", "cw1")
    assert owner == {"item": key, "owner": "agency", "due": due}
    later = (date.fromisoformat(due) + timedelta(days=1)).isoformat()
    dated = ok(seeded, "plan", "edit", ref, key, "--due", later, "--as", "cw1")
    assert dated == {"item": key, "owner": "agency", "due": later}
    undated = ok(seeded, "plan", "edit", ref, key, "--no-due", "--as", "cw1")
    assert undated == {"item": key, "owner": "agency", "due": None}
    for args in ((), ("--due", later, "--no-due")):
        refused = invoke(seeded, "plan", "edit", ref, key, *args, "--as", "cw1")
        assert refused.exit_code == 2 and "--" in refused.stderr, refused.stderr
    step = next(
        i for i in ok(seeded, "plan", "show", ref, "--as", "cw1")["items"] if i["key"] == key
    )
    assert (step["owner"], step["due_on"]) == ("agency", None)


def test_plan_add_refuses_an_owner_or_due_date_for_a_risk_or_strategy(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    # Only a step has an owner and a due date: given for anything else they are refused, not
    # dropped unseen (a strategy meant for the family would else reach the youth's copy).
    ref = _assessed(seeded, tmp_path)
    before = invoke(seeded, "plan", "show", ref, "--as", "cw1").stdout
    due = (clock.now() + timedelta(days=3)).date().isoformat()
    for section in ("strategies", "risks"):
        for extra in (("--owner", "family"), ("--due", due), ("--owner", "family", "--due", due)):
            args = ("--section", section, "--text", given("MKFAMILYONLY"), *extra)
            refused = invoke(seeded, "plan", "add", ref, *args, "--as", "cw1")
            assert refused.exit_code == 2 and "invalid_input" in refused.stderr, refused.stderr
            for option, what in (("--owner", "an owner"), ("--due", "a due date")):
                named = f"{option}: only steps have {what}" in refused.stderr
                assert named == (option in extra), refused.stderr
    assert invoke(seeded, "plan", "show", ref, "--as", "cw1").stdout == before
