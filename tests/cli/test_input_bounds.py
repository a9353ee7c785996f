"""Values that are typing slips are refused as input errors, never read oddly or ending in an
"internal" error (issue 13, item 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from harbour.app import App
from harbour.errors import InvalidInput
from harbour.reference.files import load_model
from tests.db.helpers import refer, row_counts
from tests.support import invoke, referral


def _problems(stderr: str) -> list[tuple[str, str]]:
    return [(p["field"], p["reason"]) for p in json.loads(stderr)["problems"]]


def test_a_date_of_birth_given_as_a_number_is_refused(seeded: App, tmp_path: Path) -> None:
    data = referral("Bn")
    data["youth"]["date_of_birth"] = 86400
    result = refer(seeded, tmp_path, data)
    assert result.exit_code == 2
    assert _problems(result.stderr) == [
        ("youth.date_of_birth", "must be a date written YYYY-MM-DD")
    ]


def test_a_referral_missing_a_field_or_mistyping_a_mapping_is_told_it_plainly(
    seeded: App, tmp_path: Path
) -> None:
    # pydantic said "Field required" and "a valid dictionary or instance of FamilyIn".
    data = referral("Bm")
    del data["family"][0]["relationship"]
    data["youth"] = "Bm youth"
    data["threats"] = ["Bm threat"]
    result = refer(seeded, tmp_path, data)
    assert result.exit_code == 2, result
    mapping = "must be a mapping of fields (name: value)"
    assert sorted(_problems(result.stderr)) == [
        ("family.0.relationship", "is required"),
        ("threats.0", mapping),
        ("youth", mapping),
    ]
    assert "Bm youth" not in result.stderr and "Bm threat" not in result.stderr


@pytest.mark.parametrize("written", ["1238544000", "2009-04-01T00:00:00"])
def test_a_date_of_birth_written_as_seconds_or_a_time_is_refused(
    seeded: App, tmp_path: Path, written: str
) -> None:
    # A quoted number is not a date either: pydantic read "1238544000" as 2009-04-01.
    data = referral("Bs")
    data["youth"]["date_of_birth"] = written
    result = refer(seeded, tmp_path, data)
    assert result.exit_code == 2, result
    assert _problems(result.stderr) == [
        ("youth.date_of_birth", "must be a date written YYYY-MM-DD")
    ]


@pytest.mark.parametrize("expiry", ["0001-01-01", "9999-12-31", "1899-12-31"])
def test_an_implausible_protective_order_expiry_is_refused(
    seeded: App, tmp_path: Path, expiry: str
) -> None:
    data = referral("Bx")
    data["threats"][0]["protective_order_expires_on"] = expiry
    result = refer(seeded, tmp_path, data)
    assert result.exit_code == 2
    [(field, _)] = _problems(result.stderr)
    assert field == "threats.0.protective_order_expires_on"


@pytest.mark.parametrize("described", ["protective_order_expires_on", "protective_order_details"])
def test_an_order_described_but_not_said_to_exist_is_refused(
    seeded: App, tmp_path: Path, described: str
) -> None:
    # As `case threat add` refuses it: an expiry on a threat source without an order would be
    # shown on the case, yet never reminded of (the sweep watches orders only).
    data = referral("Bo")
    data["threats"][0]["protective_order"] = False
    for field in ("protective_order_expires_on", "protective_order_details"):
        if field != described:
            del data["threats"][0][field]
    before = row_counts(seeded)
    result = refer(seeded, tmp_path, data)
    assert result.exit_code == 2, result
    [(field, reason)] = _problems(result.stderr)
    assert field == f"threats.0.{described}"
    assert "protective_order: true" in reason
    assert row_counts(seeded) == before


def test_repeated_keys_are_refused_in_json_and_yaml(seeded: App, tmp_path: Path) -> None:
    body = json.dumps(referral("Bd"))
    doubled = tmp_path / "doubled.json"
    doubled.write_text(body[:-1] + ', "situation": "just_left"}')
    result = invoke(seeded, "refer", "--file", str(doubled), "--as", "coord", "--json")
    assert result.exit_code == 2
    assert "repeats a key" in result.stderr and "just_left" not in result.stderr
    yaml_file = tmp_path / "doubled.yaml"
    yaml_file.write_text("situation: considering_leaving\nyouth: {}\nsituation: just_left\n")
    result = invoke(seeded, "refer", "--file", str(yaml_file), "--as", "coord", "--json")
    assert result.exit_code == 2
    assert _problems(result.stderr) == [(f"{yaml_file}:3", "repeats a key (each may appear once)")]


class _Tiny(BaseModel):
    version: str


def test_a_data_file_with_a_repeated_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("version: one\nversion: two\n")
    with pytest.raises(InvalidInput, match="repeats a key") as refused:
        load_model(_Tiny, path)
    assert f"{path}:2" in str(refused.value.problems)


def test_absurd_limits_and_moments_are_input_errors(seeded: App) -> None:
    for args in (
        ("alerts", "--limit", str(10**20), "--as", "sup"),
        ("sweep", "--at", "9999-12-31T00:00:00+00:00"),
        ("outbox", "--limit", str(10**20), "--as", "sup"),
        ("outbox", "--limit", "0", "--as", "sup"),
        ("outbox", "--limit", "-5", "--as", "sup"),
    ):
        result = invoke(seeded, *args)
        assert result.exit_code == 2, (args, result)
        assert "internal" not in result.stderr
        if "--limit" in args:  # refused as the option's range, before the store is opened
            assert "Invalid value for '--limit'" in result.stderr, (args, result)
    assert "1<=x<=1000" in invoke(seeded, "outbox", "--help").stdout
