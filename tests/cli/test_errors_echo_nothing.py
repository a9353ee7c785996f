"""Bad input is refused by field name and position, never by echoing what was typed: a name
typed into a key must not come back on the terminal (issue 13, item 11)."""

from __future__ import annotations

import json
from pathlib import Path

from harbour.app import App
from tests.cli.helpers import referred_case, safest
from tests.db.helpers import refer
from tests.support import invoke, referral

TYPED = ("jane_roe_mark", "Jane Roe 555-0100", "x" * 60)


def test_unknown_referral_fields_are_not_echoed(seeded: App, tmp_path: Path) -> None:
    data = referral("Ek")
    data |= dict.fromkeys(TYPED, "v")
    data["youth"] = {**data["youth"], "Jane Roe pet": "v", "jane_roe_alias": "v"}
    result = refer(seeded, tmp_path, data)
    assert result.exit_code == 2
    for typed in (*TYPED, "Jane Roe pet", "jane_roe_alias"):
        assert typed[:6] not in result.stderr, typed
    fields = [p["field"] for p in json.loads(result.stderr)["problems"]]
    assert "(unknown field)" in fields and "youth.(unknown field)" in fields


def test_unknown_question_ids_are_named_by_position(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path, "Eq")
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(safest(seeded) | dict.fromkeys(TYPED, "yes")))
    args = ("assess", ref, "--point", "initial_contact", "--answers", str(answers))
    result = invoke(seeded, *args, "--as", "cw1", "--json")
    assert result.exit_code == 2
    for typed in TYPED:
        assert typed[:6] not in result.stderr, typed
    count = len(safest(seeded))
    fields = [p["field"] for p in json.loads(result.stderr)["problems"]]
    assert fields == [f"answers (entry {count + n})" for n in (1, 2, 3)]


def test_usage_errors_do_not_echo_what_was_typed(seeded: App) -> None:
    """A slip on the command line (a name typed after the reference, an address left unquoted, an
    option misspelled) is refused by click, whose messages quote the words it could not place:
    they stay off the terminal and out of the JSON error a script logs; the CLI's own names (an
    option, a command) are still said."""
    for args in (
        ("case", "show", "HB-AAAA-BBBB", "Jane Roe", "--as", "cw1"),
        ("visit", "start", "--back-at", "10:00", "9 Jane Roe Lane", "--as", "cw1"),
        ("missing-step", "HB-AAAA-BBBB", "ncmec", "NCJaneRoe-77", "--as", "cw1"),
        ("case", "show", "HB-AAAA-BBBB", "--as", "cw1", "--Jane-Roe"),
        ("case", "show", "HB-AAAA-BBBB", "--as", "cw1", "--JaneRoe=555-0100"),
        ("Jane-Roe",),
    ):
        for output in (invoke(seeded, *args), invoke(seeded, *args, "--json")):
            assert output.exit_code == 2, (args, output.stderr)
            assert "Roe" not in output.stderr and "555" not in output.stderr, output.stderr
    plain = invoke(seeded, "case", "show", "HB-AAAA-BBBB", "Jane Roe", "--as", "cw1")
    assert "Usage: " in plain.stderr and "unexpected extra argument" in plain.stderr
    assert "--help" in plain.stderr  # how to find out more is still said
    misspelt = invoke(seeded, "cases", "--as", "cw1", "--jsn", "--json")
    assert json.loads(misspelt.stderr)["error"] == "usage"
    assert "--json" in json.loads(misspelt.stderr)["detail"]  # click's suggestion, one of ours
