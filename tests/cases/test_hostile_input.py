"""Random and hostile referrals through `harbour refer`, the same input on SQLite and PostgreSQL.

Every outcome is exit 0 (a whole case) or exit 2 (nothing written, the field named, the value
not echoed); never a traceback; and both databases answer alike.
"""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from harbour.app import App
from harbour.errors import InvalidInput
from harbour.reference import load_policy
from harbour.settings import Settings
from tests.db.helpers import refer, row_counts
from tests.support import invoke, referral

HOSTILE = [
    "\0",
    "Ann\0e",
    "Ann\u202eeH",  # right-to-left override
    "\u2067Ann\u2069",
    "Ann\u200b",  # zero-width space
    "\ufeffAnn",
    "a\u2028b",
    "Аnnа",  # Cyrillic homoglyphs: a real name, accepted
    "ｊｏｈｎ",  # fullwidth
    "{{ 7 * 7 }}",
    "{% for x in y %}",
    "${jndi:ldap://127.0.0.1/a}",
    "'; DROP TABLE cases; --",
    "Robert'); DELETE FROM staff WHERE ('1'='1",
    "%s%s%n",
    "\x1b[31mred",
    "\r\n",
    "\ud800",  # a lone surrogate
    "  ",
    "x" * 121,
    "é" * 5000,
    "e\u0301",  # decomposed: stored as NFC
]
DATES = [
    "2023-02-30",
    "2009-13-01",
    "2009-00-10",
    "0000-01-01",
    "1899-12-31",
    "2999-01-01",
    "2009-4-1",
    "31/12/2009",
    "2009-04-01T25:00:00",
    "",
    20090401,
    -1,
]
SITUATIONS = ["in_situation", "considering_leaving", "just_left", "stabilizing"]

texts = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=300),
    st.builds(lambda a, b: a + b, st.text(max_size=10), st.sampled_from(HOSTILE)),
)
dates = st.one_of(
    st.sampled_from(DATES),
    st.dates().map(str),
    st.builds(
        "{}-{:02d}-{:02d}".format, st.integers(1, 9999), st.integers(0, 13), st.integers(0, 32)
    ),
)
junk: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def hostile_referrals(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 19)) == 0:
        return draw(junk)  # not a referral at all
    data = referral("Hy")

    def maybe(section: dict[str, Any], key: str, values: st.SearchStrategy[Any]) -> None:
        if draw(st.integers(0, 3)) == 0:  # most fields keep their good value
            section[key] = draw(values)

    youth, family = data["youth"], data["family"][0]
    maybe(youth, "name", texts)
    maybe(youth, "preferred_name", st.none() | texts)
    maybe(youth, "date_of_birth", dates)
    maybe(youth, "notes", texts)
    maybe(family, "relationship", texts)
    maybe(data["trusted_contacts"][0], "phone", texts)
    maybe(data["threats"][0], "description", texts)
    maybe(data["threats"][0], "protective_order_expires_on", dates)
    maybe(data, "situation", st.sampled_from([*SITUATIONS, "SITUATION", "", 3]))
    maybe(data, "caseworker", st.sampled_from([None, "cw1", "cw3", "CW1", "sup", "' OR 1=1 --"]))
    maybe(data, "family", st.lists(st.just(family), max_size=22))
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.text(min_size=1, max_size=8))] = draw(junk)
    return data


def _outcome(app: App, folder: Path, data: Any) -> tuple[int, str, dict[str, Any] | None]:
    before = row_counts(app)
    result = refer(app, folder, data, "--allow-duplicate")  # many alike: none is a duplicate here
    after = row_counts(app)
    assert result.exit_code in (0, 2), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    if result.exit_code == 2:
        assert after == before, "a refused referral wrote something"
        assert json.loads(result.stderr)["error"] == "invalid_input"  # --json: errors as JSON
        return 2, result.stderr, None
    assert after["cases"] == before["cases"] + 1
    shown = invoke(app, "case", "show", result.json()["case"], "--as", "sup", "--json").json()
    shown.pop("case")
    return 0, "", shown


def _no_value_echoed(stderr: str, data: Any) -> None:
    """A refusal names fields and reasons; it never repeats what was typed (beyond a letter)."""
    if not isinstance(data, dict) or not isinstance(data.get("youth"), dict):
        return
    for value in (data["youth"].get("name"), data["youth"].get("notes")):
        if isinstance(value, str) and len(value.strip()) >= 6 and value.isprintable():
            assert value not in stderr


@pytest.mark.slow  # forty referrals, each through the CLI on both databases
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=hostile_referrals())
def test_hostile_referrals_alike_on_both_databases(
    backend_apps: dict[str, App], tmp_path: Path, data: Any
) -> None:
    outcomes = {name: _outcome(app, tmp_path, data) for name, app in backend_apps.items()}
    first = next(iter(outcomes.values()))
    assert all(o == first for o in outcomes.values()), outcomes
    _no_value_echoed(first[1], data)
    event(f"exit {first[0]}")


@pytest.mark.slow  # 44 referrals, each through the CLI on both databases
def test_each_hostile_value_in_each_youth_field(
    backend_apps: dict[str, App], tmp_path: Path
) -> None:
    for field in ("name", "notes"):  # a line and a block of text
        for value in HOSTILE:
            data = referral("Hz")
            data["youth"][field] = value
            outcomes = [_outcome(app, tmp_path, data) for app in backend_apps.values()]
            assert all(o == outcomes[0] for o in outcomes), (field, value, outcomes)
            _, stderr, shown = outcomes[0]
            if shown is not None:
                youth = next(p for p in shown["people"] if p["kind"] == "youth")
                assert youth[field] == unicodedata.normalize("NFC", value.strip())
            else:
                assert f"youth.{field}: " in stderr, (field, value)


def test_impossible_dates_are_refused(backend_apps: dict[str, App], tmp_path: Path) -> None:
    for value in DATES:
        data = referral("Hd")
        data["youth"]["date_of_birth"] = value
        for app in backend_apps.values():
            code, stderr, _ = _outcome(app, tmp_path, data)
            assert code == 2 and "youth.date_of_birth: " in stderr, value


def test_yaml_impossible_date_and_deep_nesting(seeded: App, tmp_path: Path) -> None:
    bad_date = tmp_path / "r.yaml"
    bad_date.write_text("youth:\n  name: Ann\n  date_of_birth: 2023-02-30\nsituation: just_left\n")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    for path in (bad_date, deep):
        before = row_counts(seeded)
        result = invoke(seeded, "refer", "--file", str(path), "--as", "coord")
        assert (result.exit_code, row_counts(seeded)) == (2, before), result.stderr
        assert (
            result.stderr.startswith("error: invalid_input: ") and "Traceback" not in result.stderr
        )


def test_oversized_file_refused(seeded: App, tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps(referral("Hb", notes="x" * 1_100_000)))
    result = invoke(seeded, "refer", "--file", str(path), "--as", "coord")
    assert result.exit_code == 2 and "larger than 1 MB" in result.stderr


def _fifo(folder: Path) -> Path:
    path = folder / "referral.json"
    os.mkfifo(path)  # with no writer, reading it would wait forever
    return path


def _sparse(folder: Path) -> Path:
    path = folder / "referral.yaml"
    with path.open("wb") as handle:
        handle.truncate(3 * 2**30)  # 3 GB that take no disk: read whole, they take memory
    return path


@pytest.mark.parametrize(
    ("make_file", "says"),
    [
        (_fifo, "is not a regular file"),
        (lambda _: Path("/dev/zero"), "is not a regular file"),
        (lambda folder: folder, "is not a regular file"),  # a folder where a file belongs
        (_sparse, "is larger than 1 MB"),
    ],
)
def test_input_that_is_not_a_small_regular_file_is_refused_unread(
    seeded: App, tmp_path: Path, make_file: Any, says: str
) -> None:
    path = make_file(tmp_path)
    before = row_counts(seeded)
    assess = ("assess", "HB-0000-0000", "--point", "initial_contact", "--answers", str(path))
    for command in (("refer", "--file", str(path)), assess):
        result = invoke(seeded, *command, "--as", "coord")
        assert (result.exit_code, row_counts(seeded)) == (2, before), result.stderr
        assert f"{path}: {says}" in result.stderr


@pytest.mark.parametrize(
    "make_file", [_fifo, lambda _: Path("/dev/zero"), lambda folder: folder, _sparse]
)
def test_a_data_file_that_is_not_a_small_regular_file_is_refused_unread(
    tmp_path: Path, make_file: Any
) -> None:
    path = make_file(tmp_path)
    with pytest.raises(InvalidInput) as refused:
        load_policy(Settings(policy_file=path))
    assert refused.value.code == "bad_data_file" and str(path) in str(refused.value)
