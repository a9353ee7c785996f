from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from harbour.app import App
from harbour.clock import FixedClock
from tests.db.helpers import refer
from tests.support import CliResult, executed, invoke, referral


def test_refer_prints_reference_and_show_unseals(seeded: App, tmp_path) -> None:
    path = tmp_path / "r.json"
    import json

    path.write_text(json.dumps(referral("ZQ")))
    result = invoke(seeded, "refer", "--file", str(path), "--as", "coord", "--json")
    assert result.exit_code == 0, result.stderr
    ref = result.json()["case"]
    assert ref.startswith("HB-") and len(ref) == 37
    shown = invoke(seeded, "case", "show", ref, "--as", "cw1", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["people"][0]["name"] == "ZQyouthname"
    other = invoke(seeded, "case", "show", ref, "--as", "cw3")
    missing = invoke(seeded, "case", "show", "HB-0000-0000-0000", "--as", "cw3")
    assert (other.exit_code, other.stderr) == (missing.exit_code, missing.stderr)


def _born(app: App, tmp_path: Path, day: str) -> CliResult:
    data = referral("Dob")
    data["youth"]["date_of_birth"] = day
    return refer(app, tmp_path, data)


def test_a_date_of_birth_is_in_the_past_of_the_apps_clock(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    """The clock says 2026-03-02 (whatever the machine's date): that day is the last allowed."""
    assert _born(seeded, tmp_path, "2026-03-01").exit_code == 0
    assert _born(seeded, tmp_path, "2026-03-02").exit_code == 0
    for later in ("2026-03-03", "2026-06-01"):
        refused = _born(seeded, tmp_path, later)
        assert refused.exit_code == 2, later
        assert json.loads(refused.stderr)["problems"] == [  # refer ran with --json
            {
                "field": "youth.date_of_birth",
                "reason": "must be in the past: it is after today (2026-03-02)",
            }
        ]
    clock.set(datetime(2040, 1, 1, 12, tzinfo=UTC))  # later than the machine's date too
    assert _born(seeded, tmp_path, "2039-12-31").exit_code == 0


def test_today_is_the_date_in_harbours_zone(seeded: App, clock: FixedClock, tmp_path: Path) -> None:
    """03:00 UTC on 3 March is still 2 March in New York (settings.timezone)."""
    clock.set(datetime(2026, 3, 3, 3, 0, tzinfo=UTC))
    assert _born(seeded, tmp_path, "2026-03-03").exit_code == 2
    assert _born(seeded, tmp_path, "2026-03-02").exit_code == 0


def test_a_referral_writes_each_table_once_after_three_reads(seeded: App) -> None:
    """The statements of a referral (issue 16): the actor with their agency's zone, the likely
    duplicates and the agency rule's caseworker are read; then one flush writes each
    table with one statement (the lifecycle events and the audit rows as one batch each)."""
    from harbour.cases.intake import refer as refer_service

    # The keyring checked once, and not again within the minute (a writer asks the store for
    # its primary key again every key_recheck_seconds: a SELECT more per interval, not per
    # referral).
    seeded.settings = seeded.settings.model_copy(update={"key_recheck_seconds": 60})
    refer_service(seeded, "coord", referral("Warm"), "warm-up")
    with executed(seeded.engine) as seen:
        refer_service(seeded, "coord", referral("Counted"), "counted")
    statements = [" ".join(statement.split()[:3]).upper() for statement, _ in seen]
    selects = [s for s in statements if s.startswith("SELECT")]
    inserts = sorted(s.split()[2].lower() for s in statements if s.startswith("INSERT"))
    assert len(selects) == 3, statements
    tables = "assessments audit_events cases lifecycle_events people threat_sources youth_index"
    assert inserts == tables.split(), statements
    assert not [s for s in statements if s.split()[0] not in ("SELECT", "INSERT", "BEGIN")]
