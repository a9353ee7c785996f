"""What the command line says to a new user (issue 12, items 10 to 13): an override says what it
changed, a one-group reference is taken when it is unambiguous, the schedule says what it assumes
and what it left out, and the small messages say who, what and where."""

from __future__ import annotations

import itertools
from pathlib import Path

from harbour.app import App
from harbour.assessments.submit import submit_assessment
from harbour.cases.intake import refer
from harbour.domain.refs import format_reference
from harbour.settings import Settings
from tests.cli.helpers import answers_file, ok, referred_case, safest
from tests.support import given, invoke, referral

REASON = "She called from a new number last night."


def test_override_says_what_was_overridden_by_whom_and_the_reasons_length(
    seeded: App, tmp_path: Path
) -> None:
    ref = referred_case(seeded, tmp_path, "OV")
    submit_assessment(seeded, "cw1", ref, "initial_contact", safest(seeded))
    args = ("override", ref[:12], "--level", "high", "--reason", given(REASON), "--as", "sup")
    result = invoke(seeded, *args)
    assert result.exit_code == 0, result.stderr
    first, second, *_ = result.stdout.splitlines()
    assert first == (
        f"{ref}: risk level overridden from low to high by sup, on the initial_contact "
        "assessment (computed low)."
    )
    assert second == (
        f"  Reason kept encrypted ({len(REASON)} characters; harbour case show shows it)."
    )
    assert "assessment recorded" not in result.stdout and "drafted" not in result.stdout
    assert REASON not in result.stdout
    shown = ok(seeded, "case", "show", ref, "--as", "sup")["override"]
    assert (shown["level"], shown["by"], shown["reason"]) == ("high", "sup", REASON)
    again = ok(
        seeded, "override", ref, "--level", "moderate", "--reason", given("x"), "--as", "sup"
    )
    assert again["override"] == {
        "from": "high",
        "to": "moderate",
        "computed": "low",
        "by": "sup",
        "reason_length": 1,
        "emergency_protocol_on": None,  # only an override to imminent places the protocol
    }


def test_a_one_group_reference_is_taken_when_unambiguous_within_the_agency(seeded: App) -> None:
    groups = iter(["GJPN", "GJPN", "K7QX"])
    tails = (str(n) * 24 for n in itertools.count(1))
    seeded.references = lambda: format_reference(f"{next(groups)}{next(tails)}")
    first = refer(seeded, "coord", referral("A1"), None).reference
    refer(seeded, "coord", referral("A2"), None)
    third = refer(seeded, "coord", referral("A3"), None).reference
    shown = ok(seeded, "case", "show", "hb-k7qx", "--as", "cw1")  # any case, O for 0
    assert shown["case"] == third
    ambiguous = invoke(seeded, "case", "show", "HB-GJPN", "--as", "cw1")
    assert ambiguous.exit_code == 2 and "ambiguous" in ambiguous.stderr
    assert ok(seeded, "case", "show", first[:12], "--as", "cw1")["case"] == first
    missing = invoke(seeded, "case", "show", "HB-ZZZZ", "--as", "cw1")
    assert missing.exit_code == 1 and "no such case" in missing.stderr
    # Another agency's staff: the same prefix is nobody's case, not an ambiguous one.
    other = invoke(seeded, "case", "show", "HB-GJPN", "--as", "cw3")
    assert other.exit_code == 1 and "ambiguous" not in other.stderr


def test_schedule_says_what_is_real_and_projected_and_counts_what_it_left_out(
    seeded: App, tmp_path: Path
) -> None:
    ref = referred_case(seeded, tmp_path, "SC")
    submit_assessment(seeded, "cw1", ref, "initial_contact", safest(seeded) | {"violence": "yes"})
    text = invoke(seeded, "schedule", ref, "--weeks", "2", "--as", "cw1").stdout.splitlines()
    assert text[0].startswith(f"{ref[:12]}: the next 2 weeks, to ")
    assert text[1] == "Real: the assessments open now and their reminders, as they stand."
    assert text[2].startswith("Projected (marked): the assessments that would follow if each")
    assert "current level (high)" in text[2] or "current level (moderate)" in text[2]
    assert any(line.endswith("(projected)") for line in text)
    [more] = [line for line in text if line.startswith("... ")]
    assert more == text[-1] and "more after the window, the first at " in more
    assert "--weeks 4 shows more" in more
    wide = invoke(seeded, "schedule", ref, "--weeks", "104", "--as", "cw1").stdout
    assert "..." not in wide.splitlines()[-1]


def test_plan_add_says_what_it_added_and_section_errors_list_what_help_lists(
    seeded: App, tmp_path: Path
) -> None:
    ref = referred_case(seeded, tmp_path, "PA")
    submit_assessment(seeded, "cw1", ref, "initial_contact", safest(seeded))
    args = ("plan", "add", ref, "--text", given("Text my aunt each night"), "--as", "cw1")
    added = invoke(seeded, *args, "--section", "steps", "--owner", "youth")
    assert added.exit_code == 0, added.stderr
    [line] = added.stdout.splitlines()
    assert line.startswith("A step written with the youth is in the draft plan, as item added:")
    assert "Added added:" not in line
    wrong = invoke(seeded, *args, "--section", "emergency")
    assert wrong.exit_code == 2
    assert "--section: add to one of: risks, strategies, steps" in wrong.stderr
    assert "contacts" not in wrong.stderr and "resources" not in wrong.stderr


def test_an_unknown_actor_is_named_as_typed_escaped(seeded: App) -> None:
    result = invoke(seeded, "cases", "--as", "wse")
    assert result.exit_code == 1
    assert "no active staff member has the handle 'wse'" in result.stderr
    hostile = invoke(seeded, "cases", "--as", "x\x1b[31my")
    assert "\x1b" not in hostile.stderr and "'x\\x1b[31my'" in hostile.stderr


def test_a_second_ack_says_who_took_it_and_when(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path, "AK")
    danger = answers_file(seeded, tmp_path, "danger", immediate_danger="yes")
    alert = ok(seeded, "assess", ref, "--point", "incident", "--answers", danger, "--as", "cw1")
    first = invoke(seeded, "ack", alert["alert"], "--as", "sup")
    assert first.exit_code == 0 and "already" not in first.stdout
    when = first.stdout.split(" at ")[1]
    second = invoke(seeded, "ack", alert["alert"], "--as", "adm")
    assert second.exit_code == 0
    assert f"was already acknowledged by sup at {when}" in second.stdout
    assert ok(seeded, "ack", alert["alert"], "--as", "adm")["already_acknowledged"] is True


def test_no_store_there_says_where_it_looked(tmp_path: Path, seeded: App) -> None:
    missing = tmp_path / "nowhere" / "harbour-trial"
    app = App(Settings(home=missing, key_file=seeded.settings.key_file))
    try:
        result = invoke(app, "cases", "--as", "cw1")
    finally:
        app.dispose()
    assert result.exit_code == 2
    assert f"looked for {missing / 'harbour.db'}" in result.stderr


def test_staff_list_has_a_header(seeded: App) -> None:
    full = invoke(seeded, "staff", "list", "--as", "adm").stdout.splitlines()
    assert full[0].split() == [
        *("handle", "agency", "role", "status", "open", "cases", "on", "call", "operator")
    ]
    assert full[1].split()[:4] == ["adm", "north", "admin", "active"]
    handles = invoke(seeded, "staff", "list", "--as", "coord").stdout.splitlines()
    assert handles[0].split() == ["handle", "role"]


def test_the_refusals_the_console_words_its_own_way_keep_the_command_lines_words(
    seeded: App, tmp_path: Path
) -> None:
    """The console says these in its own words (tests/web); the command line keeps its own,
    which name its commands and flags."""
    ref = referred_case(seeded, tmp_path, "WORDS")  # cw1's
    told, number = ("missing-step", ref, "supervisor_told"), given("MK-1")
    said = {
        "no reason": ("case", "cover", ref, "--reason", given("  "), "--as", "cw2"),
        "started": ("case", "cover", ref, "--reason", given("away"), "--as", "cw2"),
        "twice": ("case", "cover", ref, "--reason", given("away"), "--as", "cw2"),
        "deactivate": ("staff", "deactivate", "cw1", "--as", "adm"),  # before a visit is out
        "visit": ("visit", "start", "--back-at", "16:30", "--as", "cw1"),
        "visit again": ("visit", "start", "--back-at", "16:30", "--as", "cw1"),
        "role": ("staff", "role", "cw1", "coordinator", "--as", "adm"),
        "missing": ("missing", ref, "--since", "21:00", "--as", "cw1"),
        "number": (*told, "--report-number", number, "--as", "cw1"),
    }
    errors = {name: invoke(seeded, *args).stderr.strip() for name, args in said.items()}
    assert errors == {
        "no reason": "error: invalid_input: --reason: say why you cover the case (@FILE or -)",
        "started": "",
        "twice": "error: cover_covering: you cover the case already: end that cover first (--end)",
        "visit": "",
        "visit again": "error: visit_open: you have a visit not checked in: harbour visit back",
        "deactivate": "error: has_open_cases: 1 open case(s) are assigned to cw1: reassign each "
        "with `harbour assign REF HANDLE`, or give --reassign-to HANDLE to move them all",
        "role": "error: has_open_cases: 1 open case(s) are assigned to cw1, and a coordinator "
        "takes no cases: reassign them first (harbour assign REF HANDLE)",
        "missing": "",
        "number": "error: invalid_input: --report-number: only for law_enforcement and ncmec",
    }


def test_more_refusals_the_console_words_its_own_way_keep_the_command_lines_words(
    seeded: App, tmp_path: Path
) -> None:
    """As above: a missing-youth step recorded twice, a discharge refused (plan not final, youth
    missing, return not screened), an operator's role changed, a likely duplicate referral."""
    ref = referred_case(seeded, tmp_path, "MORE")  # cw1's
    calm = answers_file(seeded, tmp_path, "calm")
    ok(seeded, "assess", ref, "--point", "initial_contact", "--answers", calm, "--as", "cw1")
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    ok(seeded, "assess", ref, "--point", "discharge", "--answers", calm, "--as", "cw1")  # a draft
    step = ("missing-step", ref, "law_enforcement", "--report-number", given("MK-1"))
    said = {
        "not final": ("discharge", ref, "--as", "cw1"),
        "missing": ("missing", ref, "--since", "21:00", "--as", "cw1"),
        "step": (*step, "--as", "cw1"),
        "step again": (*step, "--as", "cw1"),
        "while missing": ("discharge", ref, "--as", "cw1"),
        "returned": ("returned", ref, "--at", "22:00", "--as", "cw1"),
        "unscreened": ("discharge", ref, "--as", "cw1"),
        "admin": ("staff", "add", "ad2", "--agency", "north", "--role", "admin", "--as", "adm"),
        "operator": ("staff", "operator", "ad2", "--as", "adm"),
        "operator's role": ("staff", "role", "ad2", "caseworker", "--as", "adm"),
    }
    errors = {name: invoke(seeded, *args).stderr.strip() for name, args in said.items()}
    path = tmp_path / "referral-MORE.json"  # the same youth again
    again = invoke(seeded, "refer", "--file", str(path), "--as", "coord").stderr.strip()
    assert errors == {
        "not final": "error: discharge_plan_not_final: finalize the plan version of the "
        "discharge assessment first (harbour plan show, then harbour plan finalize), then "
        "discharge",
        "missing": "",
        "step": "",
        "step again": "error: step_done: law_enforcement was recorded done by cw1 at "
        "2026-03-02 09:00 EST; nothing changed",
        "while missing": "error: youth_missing: the youth is recorded missing: record their "
        "return first (harbour returned REF --at TIME, or the case's Missing youth page), then "
        "discharge",
        "returned": "",
        "unscreened": "error: return_screening_open: the youth is back from being missing and "
        "not yet screened: complete the return screening first (harbour assess REF --point "
        "just_left, or the case's assess page), then discharge",
        "admin": "",
        "operator": "",
        "operator's role": "error: operator_stays_admin: an operator is an admin: take that "
        "back first (harbour staff operator --revoke)",
    }
    assert again == (
        f"error: likely_duplicate: the agency has a case with the same youth name and date of "
        f"birth: {ref} (discharge_pending); nothing was written (to refer anyway, repeat with "
        "--allow-duplicate)"
    )
