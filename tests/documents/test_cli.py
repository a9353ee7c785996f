"""``harbour plan render`` and ``harbour plan diff --format`` on a real case, through the CLI.

The case's every identifying field carries a marker (``tests.support.referral``), as do the
assessment's free-text answers and the agency address; the youth and family copies show none of
them except the contacts the youth approved (youth copy only).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from harbour.app import App
from harbour.db.models import AuditEvent
from tests.cli.helpers import answers_file, assess_just_left, ok, referred_case
from tests.support import CliResult, given, invoke

M = "DM"
NEVER_OUTSIDE_STAFF = [
    f"{M}youthname",
    f"{M}prefname",
    f"{M}youthphone",
    f"{M}youthaddress",
    f"{M}youthnotes",
    f"{M}traffickername",
    f"{M}threatdesc",
    f"{M}orderdetails",
    f"{M}source",
    "2009-04-01",
    f"{M}worries",
    f"{M}staffnote",
    "MARK-north-ADDR",
    f"{M}cwstep",
]
YOUTH_CONTACTS = [f"{M}auntname", f"{M}auntphone", f"{M}friendname", f"{M}friendphone"]


@pytest.fixture
def case(seeded: App, tmp_path: Path) -> str:
    app = seeded
    ref = referred_case(app, tmp_path, M)
    answers = answers_file(
        app,
        tmp_path,
        "meeting",
        trafficker_threat="yes",
        family_at_risk="yes",
        situation="just_left",
        youth_worries=f"{M}worries",
        staff_notes=f"{M}staffnote",
    )
    ok(app, "assess", ref, "--point", "planning_meeting", "--answers", answers, "--as", "cw1")
    for key in ("after.vary_routine", "calm.five_senses", "family.share_nothing"):
        ok(app, "plan", "accept", ref, key, "--as", "cw1")
    for text, owner in (
        ("Keep my phone charged", "youth"),
        (f"{M}cwstep", "caseworker"),
        ("Lock the door at night", "family"),
    ):
        ok(
            app,
            "plan",
            "add",
            ref,
            "--section",
            "steps",
            "--text",
            given(text),
            "--owner",
            owner,
            "--as",
            "cw1",
        )
    ok(app, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    return ref


def render(app: App, ref: str, *args: str) -> str:
    result = invoke(app, "plan", "render", ref, *args, "--as", "cw1")
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("fmt", ["html", "text", "md"])
def test_youth_and_family_copies_leak_nothing(seeded: App, case: str, fmt: str) -> None:
    youth = render(seeded, case, "--audience", "youth", "--format", fmt)
    family = render(seeded, case, "--audience", "family", "--format", fmt)
    staff = render(seeded, case, "--audience", "staff", "--format", fmt)
    assert [m for m in NEVER_OUTSIDE_STAFF if m in youth] == []
    assert [m for m in NEVER_OUTSIDE_STAFF + YOUTH_CONTACTS if m in family] == []
    assert f"{M}auntname" in youth and "Keep my phone charged" in youth and "911" in youth
    assert "Lock the door at night" in family and "Keep my phone charged" not in family
    assert f"{M}traffickername" in staff and f"{M}cwstep" in staff and case in staff


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_youth_copy_without_hotlines_names_none_in_its_wording(
    seeded: App, tmp_path: Path, lang: str
) -> None:
    # calm.safe_person's youth wording names 988; a copy for a phone that may be monitored
    # says the same without it, in every format and either language of the document.
    ref = referred_case(seeded, tmp_path, "HH", situation="just_left")
    assess_just_left(seeded, ref, "initial_contact")
    ok(seeded, "plan", "accept", ref, "calm.safe_person", "--as", "cw1")
    reach_out = "When it gets hard, reach out to someone safe."
    for fmt in ("html", "text", "md"):
        shown = render(seeded, ref, "--audience", "youth", "--format", fmt, "--lang", lang)
        assert f"{reach_out} You can call or text 988 any time." in shown, fmt
    ok(seeded, "plan", "youth-copy", ref, "--hide-hotlines", "--as", "cw1")
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    for fmt in ("html", "text", "md"):
        hidden = render(seeded, ref, "--audience", "youth", "--format", fmt, "--lang", lang)
        assert reach_out in hidden and "988" not in hidden, fmt
        assert "911" in hidden, fmt
    staff = render(seeded, ref, "--audience", "staff", "--format", "text", "--lang", lang)
    assert "988 is there at any hour" in staff  # staff wording is as it was


def test_same_version_same_bytes_and_older_versions(seeded: App, case: str) -> None:
    first = render(seeded, case, "--audience", "staff", "--format", "text")
    assert (
        render(seeded, case, "--audience", "staff", "--format", "text", "--version", "1") == first
    )
    assert "Version: 1 (Final)" in first


def _render_to(app: App, case: str, target: Path, audience: str, *extra: str) -> CliResult:
    args = ("--audience", audience, "--output", str(target), "--as", "cw1", *extra)
    return invoke(app, "plan", "render", case, *args)


def test_output_file_is_private(seeded: App, case: str, tmp_path: Path) -> None:
    target = tmp_path / "card.html"
    target.write_text("old")
    target.chmod(0o644)
    result = _render_to(seeded, case, target, "youth", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == {
        "audience": "youth",
        "format": "html",
        "version": 1,
        "output": str(target),
    }
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".card")] == []


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("--audience", "trafficker"), "--audience"),
        (("--audience", "youth", "--format", "pdf"), "--format"),
        (("--audience", "youth", "--lang", "xx"), "--lang"),
        (("--audience", "youth", "--version", "0"), "--version"),
        (("--audience", "youth", "--output", "/nonexistent/dir/card.html"), "--output"),
        (("--audience", "youth", "--output", "c" * 300 + ".html"), "--output"),  # name too long
    ],
)
def test_bad_input_names_the_field(
    seeded: App, case: str, args: tuple[str, ...], field: str
) -> None:
    result = invoke(seeded, "plan", "render", case, *args, "--as", "cw1")
    assert result.exit_code == 2 and field in result.stderr and result.stdout == ""


def test_other_agencies_cases_do_not_exist(seeded: App, case: str) -> None:
    result = invoke(seeded, "plan", "render", case, "--audience", "staff", "--as", "cw3")
    assert result.exit_code == 1 and "case_not_found" in result.stderr and result.stdout == ""


def test_missing_version_is_not_found(seeded: App, case: str) -> None:
    result = invoke(
        seeded, "plan", "render", case, "--audience", "youth", "--version", "9", "--as", "cw1"
    )
    assert result.exit_code == 1 and "plan_version_not_found" in result.stderr


def test_render_is_audited_without_values(seeded: App, case: str) -> None:
    render(seeded, case, "--audience", "family", "--format", "md")
    with seeded.uow() as uow:
        rows = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "plan.render"))
        seen = [(r.actor_handle, r.details) for r in rows]
    assert seen == [("cw1", {"audience": "family", "format": "md", "version": 1})]


def test_plan_diff_renders_for_a_planning_meeting(seeded: App, case: str, tmp_path: Path) -> None:
    calmer = answers_file(seeded, tmp_path, "calmer", situation="just_left")
    ok(seeded, "assess", case, "--point", "incident", "--answers", calmer, "--as", "cw1")
    text = invoke(seeded, "plan", "diff", case, "1", "2", "--format", "text", "--as", "cw1")
    assert text.exit_code == 0, text.stderr
    assert text.stdout.startswith(f"WHAT CHANGED: Case {case}\nVersion 1 to version 2\n")
    assert "\nRisk level: Moderate (unchanged)\n" in text.stdout
    assert "- Removed: A trafficker is a current or potential threat." in text.stdout
    assert "For agency staff only." in text.stdout and "\nSTRATEGIES\n" in text.stdout
    html = invoke(seeded, "plan", "diff", case, "1", "2", "--format", "html", "--as", "cw1")
    assert html.exit_code == 0 and html.stdout.startswith("<!DOCTYPE html>")
    assert "<h2>Strategies</h2>" in html.stdout
    plain = invoke(seeded, "plan", "diff", case, "1", "2", "--as", "cw1")
    assert plain.exit_code == 0 and not plain.stdout.startswith("WHAT CHANGED")


def test_plan_diff_refuses_an_unknown_format_before_reading(seeded: App, case: str) -> None:
    result = invoke(seeded, "plan", "diff", case, "1", "1", "--format", "pdf", "--as", "cw1")
    assert result.exit_code == 2 and "--format" in result.stderr and result.stdout == ""


def _fifo(folder: Path) -> Path:
    path = folder / "pipe"
    os.mkfifo(path)
    return path


def _null_device(folder: Path) -> Path:
    """A stand-in for /dev/null, so a regression cannot replace the real one."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    path = folder / "null"
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return path


def _link_to_fifo(folder: Path) -> Path:
    """Like /dev/stdout: a link to the pipe or terminal the output would go to."""
    link = folder / "stdout"
    link.symlink_to(_fifo(folder))
    return link


@pytest.mark.parametrize("make_target", [_fifo, _null_device, _link_to_fifo])
def test_output_refuses_what_is_not_a_regular_file(
    seeded: App, case: str, tmp_path: Path, make_target: Any
) -> None:
    target = make_target(tmp_path)
    kind = stat.S_IFMT(target.stat().st_mode)
    result = _render_to(seeded, case, target, "staff")
    assert result.exit_code == 2 and result.stdout == "", result.stderr
    assert "--output: must be a new or regular file" in result.stderr
    assert stat.S_IFMT(target.stat().st_mode) == kind
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_step_given_to_someone_else_stays_theirs_in_the_next_version(
    seeded: App, tmp_path: Path
) -> None:
    # The youth's bag would be found where they stay: the aunt keeps it. At the next meeting
    # the step is on the family's copy still, and the youth's copy does not ask for the bag.
    ref = referred_case(seeded, tmp_path, "OW")
    answers = answers_file(seeded, tmp_path, "leaving", situation="considering_leaving")
    ok(seeded, "assess", ref, "--point", "initial_contact", "--answers", answers, "--as", "cw1")
    ok(seeded, "plan", "edit", ref, "step:leave.go_bag", "--owner", "family", "--as", "cw1")
    ok(seeded, "plan", "finalize", ref, "--accept-rest", "--as", "cw1")
    bag_for_family = "Check that the youth has a ready bag and a safe place to keep it."
    bag_for_youth = "Get your bag ready."
    for version in ("1", "2"):
        if version == "2":
            meeting = ("--point", "planning_meeting", "--answers", answers)
            ok(seeded, "assess", ref, *meeting, "--as", "cw1")
        for fmt in ("html", "text", "md"):
            args = ("--format", fmt, "--version", version)
            assert bag_for_family in render(seeded, ref, "--audience", "family", *args), version
            assert bag_for_youth not in render(seeded, ref, "--audience", "youth", *args), version
    shown = ok(seeded, "plan", "show", ref, "--as", "cw1")
    bag = next(i for i in shown["items"] if i["key"] == "step:leave.go_bag")
    assert bag["owner"] == "family" and bag["state"] == "accepted"
    moved = invoke(seeded, "plan", "diff", ref, "1", "2", "--as", "cw1")
    assert moved.exit_code == 0 and "step:leave.go_bag" not in moved.stdout
