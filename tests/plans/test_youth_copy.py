"""`harbour plan youth-copy`: the youth's own title and leaving hotlines off a monitored phone."""

from __future__ import annotations

from pathlib import Path

from harbour.app import App
from tests.cli.helpers import answers_file, ok, referred_case
from tests.support import given, invoke

HOTLINE = "1-888-373-7888"


def _assessed(app: App, tmp_path: Path, point: str = "initial_contact") -> str:
    ref = referred_case(app, tmp_path)
    answers = answers_file(app, tmp_path, "a", trafficker_threat="yes")
    ok(app, "assess", ref, "--point", point, "--answers", answers, "--as", "cw1")
    return ref


def _youth_text(app: App, ref: str) -> str:
    result = invoke(
        app, "plan", "render", ref, "--audience", "youth", "--format", "text", "--as", "cw1"
    )
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_title_and_hidden_hotlines_reach_the_youth_copy_and_later_versions(
    seeded: App, tmp_path: Path
) -> None:
    ref = _assessed(seeded, tmp_path)
    assert HOTLINE in _youth_text(seeded, ref)
    shown = ok(seeded, "plan", "youth-copy", ref, "--title", given("Weekend list"), "--hide-hotlines",
               "--as", "cw1")  # fmt: skip
    assert shown == {"version": 1, "own_title": True, "hide_hotlines": True}
    text = _youth_text(seeded, ref)
    assert text.startswith("Weekend list") and HOTLINE not in text and "911" in text

    answers = answers_file(seeded, tmp_path, "b", trafficker_threat="yes")
    ok(seeded, "assess", ref, "--point", "just_left", "--answers", answers, "--as", "cw1")
    text = _youth_text(seeded, ref)  # version 2 keeps what the youth chose
    assert text.startswith("Weekend list") and HOTLINE not in text

    ok(seeded, "plan", "youth-copy", ref, "--title", "", "--show-hotlines", "--as", "cw1")
    text = _youth_text(seeded, ref)
    assert text.startswith("My plan") and HOTLINE in text


def test_a_bad_title_is_refused_and_changes_nothing(seeded: App, tmp_path: Path) -> None:
    ref = _assessed(seeded, tmp_path)
    for bad in ("x" * 61, "two\nlines", "rtl\u202eoverride"):
        result = invoke(seeded, "plan", "youth-copy", ref, "--title", given(bad), "--hide-hotlines",
                        "--as", "cw1")  # fmt: skip
        assert result.exit_code != 0 and "title" in result.stderr
    assert HOTLINE in _youth_text(seeded, ref)


def test_a_final_version_and_another_agency_are_refused(seeded: App, tmp_path: Path) -> None:
    ref = _assessed(seeded, tmp_path)
    assert invoke(seeded, "plan", "youth-copy", ref, "--hide-hotlines", "--as", "cw3").exit_code
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    result = invoke(seeded, "plan", "youth-copy", ref, "--hide-hotlines", "--as", "cw1")
    assert result.exit_code != 0 and "final" in result.stderr
