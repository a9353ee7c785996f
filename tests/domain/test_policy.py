"""The reassessment policy: defaults, a bad file refused by line, and due dates across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from harbour.domain.policy import (
    Interval,
    Policy,
    Thresholds,
    follow_up_dues,
    next_due,
    reminder_times,
    shift,
)
from harbour.domain.vocab import RiskLevel
from harbour.errors import InvalidInput
from harbour.reference import load_policy
from harbour.settings import Settings

NY = ZoneInfo("America/New_York")
# Two years that hold four New York clock changes each way: 2026-03-08, 2026-11-01, 2027-03-14...
START = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
END = datetime(2028, 1, 5, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(Settings())


def test_defaults(policy: Policy) -> None:
    assert {level: i.days for level, i in policy.next_assessment.items()} == {
        RiskLevel.IMMINENT: 1,
        RiskLevel.HIGH: 7,
        RiskLevel.MODERATE: 30,
        RiskLevel.LOW: 90,
    }
    assert [i.days for i in policy.follow_ups_after_discharge] == [30, 90, 180]
    assert list(policy.reminders) == ["due_soon", "due_today", "overdue"]
    assert policy.escalate_overdue_after.days == 7
    assert policy.alert_ack_timeout.minutes == 10
    assert policy.due_time == time(9, 0)


def test_policy_file_override_and_cache(tmp_path: Path, policy: Policy) -> None:
    path = tmp_path / "policy.yaml"
    text = (Path(__file__).parents[2] / "harbour/data/policy.yaml").read_text()
    path.write_text(text.replace('"harbour-policy-2026.1"', '"agency-7"'))
    loaded = load_policy(Settings(policy_file=path))
    assert loaded.version == "agency-7"
    assert load_policy(Settings(policy_file=path)) is loaded


@pytest.mark.parametrize(
    ("replace", "by", "line", "problem"),
    [
        ("  high: {days: 7}\n", "", "policy.yaml:", "missing: high"),
        ("  overdue: {days: 1}", "  late: {days: 1}", "policy.yaml:", "exactly these reminders"),
        ('due_time: "09:00"', "due_time: 9:00", "policy.yaml:8", "quoted string"),
        ("  low: {days: 90}", "  low: {days: -3}", "policy.yaml:19", "greater than or equal"),
        ("  - {days: 90}", "  - {days: 20}", "policy.yaml:26", "increasing order"),
        ("reminders:", "reminders: [", "policy.yaml:", "not valid YAML"),
        # due the moment the last assessment completes: overdue at once, every time
        ("  high: {days: 7}", "  high: {}", "policy.yaml:", "must be longer than zero"),
        # a youth at high risk reassessed later than one at low risk
        ("  high: {days: 7}", "  high: {days: 120}", "policy.yaml:", "no longer than"),
    ],
)
def test_bad_policy_file_names_file_line_and_problem(
    tmp_path: Path, replace: str, by: str, line: str, problem: str
) -> None:
    path = tmp_path / "policy.yaml"
    text = (Path(__file__).parents[2] / "harbour/data/policy.yaml").read_text()
    assert replace in text
    path.write_text(text.replace(replace, by))
    with pytest.raises(InvalidInput) as refused:
        load_policy(Settings(policy_file=path))
    assert line in str(refused.value) and problem in str(refused.value)


def test_missing_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot be read"):
        load_policy(Settings(policy_file=tmp_path / "nope.yaml"))


def test_next_due_lands_on_due_time_local(policy: Policy) -> None:
    late_evening = datetime(2026, 3, 7, 4, 30, tzinfo=UTC)  # 23:30 on the 6th in New York
    due = next_due(policy, late_evening, RiskLevel.IMMINENT, NY)
    assert due.astimezone(NY) == datetime(2026, 3, 7, 9, 0, tzinfo=NY)
    assert due.tzinfo is UTC


@pytest.mark.parametrize("level", list(RiskLevel))
def test_two_years_of_dst_one_due_per_period(policy: Policy, level: RiskLevel) -> None:
    """Completing each assessment when due: every due is 09:00 local, exactly N days apart."""
    days = policy.next_assessment[level].days
    dues, at = [], START
    while at < END:
        at = next_due(policy, at, level, NY)
        dues.append(at)
    local = [d.astimezone(NY) for d in dues]
    assert all(d.time() == time(9, 0) for d in local)
    assert all((b.date() - a.date()).days == days for a, b in pairwise(local))
    offsets = {d.utcoffset() for d in local}
    assert len(offsets) == 2  # both EST and EDT due dates were produced
    first = local[0].date()
    periods = [(d.date() - first).days // days for d in local]
    assert periods == list(range(len(local)))  # exactly one per period: none skipped or doubled


def test_reminders_keep_local_time_across_the_spring_change(policy: Policy) -> None:
    due = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # Monday 09:00 EDT, the day after the change
    fired = reminder_times(policy, due, NY)
    assert [name for name, _ in fired] == ["due_soon", "due_today", "overdue", "escalation"]
    local = [at.astimezone(NY) for _, at in fired]
    assert [d.date() for d in local] == [
        date(2026, 3, 7),
        date(2026, 3, 9),
        date(2026, 3, 10),
        date(2026, 3, 16),
    ]
    assert all(d.time() == time(9, 0) for d in local)
    assert fired[0][1] == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)  # EST before the change


def test_follow_ups_after_discharge(policy: Policy) -> None:
    discharged = datetime(2026, 10, 20, 18, 0, tzinfo=UTC)
    local = [d.astimezone(NY) for d in follow_up_dues(policy, discharged, NY)]
    assert [d.date() for d in local] == [date(2026, 11, 19), date(2027, 1, 18), date(2027, 4, 18)]
    assert all(d.time() == time(9, 0) for d in local)


def test_hours_are_elapsed_time() -> None:
    moment = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)  # 01:30 EST, just before the change
    assert shift(moment, Interval(hours=1), NY) == moment + timedelta(hours=1)


@pytest.mark.parametrize(
    "reminders",
    [
        None,  # the built-in policy: thresholds in a fixed order, most decided without a calendar
        {"due_soon": {"days": 1}, "due_today": {"hours": 30}, "overdue": {"days": 1}},
    ],
)
@pytest.mark.parametrize("zone", [NY, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("UTC")])
def test_thresholds_passed_says_what_reminder_times_says(
    policy: Policy, reminders: dict[str, dict[str, int]] | None, zone: ZoneInfo
) -> None:
    """The sweep's fast reading of the thresholds against ``reminder_times``, for due times
    every 50 minutes across the spring and autumn changes, seen from moments around them."""
    if reminders is not None:
        policy = policy.model_copy(
            update={"reminders": {k: Interval(**v) for k, v in reminders.items()}}
        )
    thresholds = Thresholds.of(policy)
    assert thresholds.in_fixed_order is (reminders is None)
    for change in (datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC)):
        for k in range(-300, 300):
            due_at = change + timedelta(minutes=50 * k)
            for now in (change - timedelta(days=3), change, change + timedelta(hours=26)):
                expected = [name for name, at in reminder_times(policy, due_at, zone) if at <= now]
                assert thresholds.passed(due_at, zone, now) == expected, (due_at, now)
