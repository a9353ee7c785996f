"""`harbour report` and `--json`: the same figures as the service, for supervisors and admins only.
On SQLite and PostgreSQL."""

from __future__ import annotations

from harbour.app import App
from harbour.cases.report import program_report
from harbour.clock import FixedClock
from tests.cases.test_report import build_store
from tests.support import invoke


def test_report_json_is_the_services_figures(seeded: App, clock: FixedClock) -> None:
    build_store(seeded, clock)
    result = invoke(seeded, "report", "--as", "sup", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == program_report(seeded, "sup").as_json()
    assert set(result.json()) == {
        "agency",
        "as_of",
        "as_of_local",
        "window_days",
        "open_cases",
        "final_plans",
        "overdue_assessments",
        "referral_to_first_assessment",
        "imminent_alerts",
        "notifications_sent",
        "missing_episodes",
    }


def test_report_text(seeded: App, clock: FixedClock) -> None:
    build_store(seeded, clock)
    result = invoke(seeded, "report", "--as", "adm")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.startswith("Program report, agency north, as of 2026-03-12 10:00 EDT\n")
    assert "Open cases: 3\n" in text
    assert "  referred                  0        0        0        0        1      1\n" in text
    assert "  all                       2        0        0        0        1      3\n" in text
    assert "final plan of their latest assessment: 1 of 2 (50%)\n" in text
    assert "Overdue assessments: 2 (under 1 day: 0, 1 to 7 days: 1, 8 to 30 days: 0, " in text
    assert "longest 40 days)\n" in text
    assert "Referral to first assessment, median: 1.6 days (2 cases)\n" in text
    assert "Imminent alerts: 1 open now; 3 raised in the last 30 days, 2 acknowledged, " in text
    assert "median 20 minutes to acknowledge\n" in text
    assert "Sent in the last 30 days: 2 reminders, 2 escalations\n" in text
    assert text.endswith("Missing youth: 1 open episode (oldest 5 hours)\n")  # one, not "episodes"


def test_report_is_refused_to_coordinators_and_caseworkers(seeded: App) -> None:
    for handle in ("coord", "cw1"):
        result = invoke(seeded, "report", "--as", handle)
        assert result.exit_code != 0 and result.stdout == ""
        assert "not_permitted" in result.stderr
