"""Each agency's "today" and times are its own zone's, not the installation's.

The clock stands at 14:00 UTC on Monday 2 March 2026: 09:00 that Monday in New York (north, and
the installation's default zone) but 04:00 on Tuesday 3 March on Kiritimati (far, UTC+14).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harbour.admin.staffing import AgencyIn, StaffIn, create_agency, create_staff
from harbour.app import App, UnitOfWork
from harbour.domain.vocab import Role
from harbour.plans.actions import diff
from harbour.plans.rendering import format_diff
from tests.cli.helpers import answers_file, ok
from tests.support import given, invoke, referral

FAR = "Pacific/Kiritimati"
TUESDAY = "2026-03-03"  # already today on Kiritimati, still tomorrow in New York


@pytest.fixture
def far(seeded: App) -> App:
    """A second agency, far east of the installation's zone: farcoord, farcw."""

    def work(uow: UnitOfWork) -> None:
        create_agency(uow, AgencyIn(name="far", timezone=FAR))
        for handle, role in (
            ("farcoord", Role.COORDINATOR),
            ("farcw", Role.CASEWORKER),
            ("farsup", Role.SUPERVISOR),
        ):
            create_staff(uow, StaffIn(handle=handle, agency="far", role=role))

    seeded.run(work)
    assert seeded.settings.timezone == "America/New_York"
    return seeded


def _refer(app: App, tmp_path: Path, coordinator: str, born: str) -> tuple[int, str]:
    data = referral("TZ")
    data["youth"]["date_of_birth"] = born
    path = tmp_path / f"referral-{coordinator}.json"
    path.write_text(json.dumps(data))
    result = invoke(app, "refer", "--file", str(path), "--as", coordinator, "--json")
    return result.exit_code, result.stdout and result.json()["case"]


def _far_case(app: App, tmp_path: Path) -> str:
    code, ref = _refer(app, tmp_path, "farcoord", "2009-04-01")
    assert code == 0
    ok(app, "assign", ref, "farcw", "--as", "farcoord")
    return ref


def test_a_referral_is_checked_against_today_in_the_referrers_agency(
    far: App, tmp_path: Path
) -> None:
    assert _refer(far, tmp_path, "farcoord", TUESDAY)[0] == 0
    assert _refer(far, tmp_path, "coord", TUESDAY)[0] == 2


def test_an_edited_date_of_birth_is_checked_against_today_in_the_cases_agency(
    far: App, tmp_path: Path
) -> None:
    far_case = _far_case(far, tmp_path)
    code, north_case = _refer(far, tmp_path, "coord", "2009-04-01")
    assert code == 0
    ok(far, "assign", north_case, "cw1", "--as", "coord")
    for ref, caseworker, exit_code in ((far_case, "farcw", 0), (north_case, "cw1", 2)):
        edit = ("case", "person", "edit", ref, "0", "--date-of-birth", given(TUESDAY))
        edit += ("--as", caseworker)
        result = invoke(far, *edit)
        assert result.exit_code == exit_code, (caseworker, result.stderr)


def test_a_plan_diff_shows_times_in_the_cases_agency_zone(far: App, tmp_path: Path) -> None:
    ref = _far_case(far, tmp_path)
    danger = answers_file(far, tmp_path, "danger", immediate_danger="yes")
    ok(far, "assess", ref, "--point", "initial_contact", "--answers", danger, "--as", "farcw")
    ok(far, "plan", "finalize", ref, "--leave-out-rest", "--as", "farcw")
    ok(far, "assess", ref, "--point", "incident", "--answers", danger, "--as", "farcw")
    ok(far, "plan", "done", ref, "emergency.shelter", "--as", "farcw")
    change = diff(far, "farcw", ref, 1, 2)
    assert change.timezone == FAR
    text = format_diff(change, "text", settings=far.settings)
    assert f"{TUESDAY} 04:00" in text and "2026-03-02 09:00" not in text


def test_alerts_are_listed_and_acknowledged_in_the_cases_agency_zone(
    far: App, tmp_path: Path
) -> None:
    ref = _far_case(far, tmp_path)
    danger = answers_file(far, tmp_path, "danger", immediate_danger="yes")
    ok(far, "assess", ref, "--point", "initial_contact", "--answers", danger, "--as", "farcw")
    listed = invoke(far, "alerts", "--as", "farcw")
    assert listed.exit_code == 0, listed.stderr
    assert f"{TUESDAY} 04:00" in listed.stdout and "2026-03-02 09:00" not in listed.stdout
    (alert,) = ok(far, "alerts", "--as", "farcw")
    acked = invoke(far, "ack", alert["alert"], "--as", "farsup")
    assert acked.exit_code == 0, acked.stderr
    assert f"at {TUESDAY} 04:00" in acked.stdout
