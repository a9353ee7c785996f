"""The reassessment policy: when the next assessment falls due, follow-ups, reminders, escalation.

Whole days are calendar days in the agency's time zone, landing at the policy's local ``due_time``;
results are aware UTC. So a daylight-saving change neither doubles nor skips a due date: 30 days
after a 09:00 due date is 09:00 again, whatever the UTC offset did in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cached_property
from itertools import pairwise
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from harbour.domain.vocab import RiskLevel

REMINDERS = ("due_soon", "due_today", "overdue")  # due_soon counts before the due time
ESCALATION = "escalation"
_BEFORE = frozenset({"due_soon"})
# The most local calendar days (daylight saving, a zone's change of offset) move a threshold away
# from its due time plus the interval as plain elapsed time.
SLACK = timedelta(days=1)


class Interval(BaseModel):
    """A span of calendar days plus elapsed hours and minutes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(0, ge=0, le=3660)
    hours: int = Field(0, ge=0, le=24 * 366)
    minutes: int = Field(0, ge=0, le=60 * 24 * 366)

    @property
    def elapsed(self) -> timedelta:
        return timedelta(hours=self.hours, minutes=self.minutes)

    @property
    def delta(self) -> timedelta:
        """The span as plain elapsed time (days of 24 hours): for comparisons only."""
        return timedelta(days=self.days) + self.elapsed


def _time_text(value: object) -> object:
    # YAML reads 9:00 as the integer 540, which pydantic would take as seconds: refuse it.
    if not isinstance(value, str | time):
        raise ValueError("write the time as a quoted string, e.g. '09:00'")
    return value


class CoverPolicy(BaseModel):
    """How long a caseworker's cover of a colleague's case lasts, in hours."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_hours: int = Field(8, ge=1, le=24 * 31)
    max_hours: int = Field(72, ge=1, le=24 * 31)

    @model_validator(mode="after")
    def _default_within_max(self) -> CoverPolicy:
        if self.default_hours > self.max_hours:
            raise ValueError("default_hours must not be more than max_hours")
        return self


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=40)
    due_time: Annotated[time, BeforeValidator(_time_text)]
    initial_contact_within: Interval = Interval(days=1)
    next_assessment: dict[RiskLevel, Interval]
    planning_meeting_every: Interval
    follow_ups_after_discharge: list[Interval] = Field(min_length=1, max_length=12)
    reminders: dict[str, Interval]
    escalate_overdue_after: Interval
    alert_ack_timeout: Interval
    cover: CoverPolicy = CoverPolicy()
    # A staff member not back this long after the time they gave: their buddy is alerted.
    visit_check_in_grace: Interval = Interval(minutes=15)
    # A youth gone missing: the reports are due this long after they were last seen, staff are
    # alerted this long before that, and a return opens an assessment due this long after it.
    missing_report_within: Interval = Interval(hours=24)
    missing_warn_before: Interval = Interval(hours=4)
    return_assessment_within: Interval = Interval(hours=72)

    @field_validator("next_assessment")
    @classmethod
    def _every_level(cls, value: dict[RiskLevel, Interval]) -> dict[RiskLevel, Interval]:
        missing = [level.value for level in RiskLevel if level not in value]
        if missing:
            raise ValueError(f"give an interval for every level (missing: {', '.join(missing)})")
        if empty := [level.value for level in RiskLevel if value[level].delta <= timedelta(0)]:
            raise ValueError(f"must be longer than zero (at: {', '.join(empty)})")
        # The cadence follows the level: a youth at higher risk is never reassessed later.
        for lower, higher in pairwise(sorted(value, key=lambda level: level.rank)):
            if value[higher].delta > value[lower].delta:
                raise ValueError(f"{higher.value} must be no longer than {lower.value}")
        return value

    @field_validator("reminders")
    @classmethod
    def _known_reminders(cls, value: dict[str, Interval]) -> dict[str, Interval]:
        if sorted(value) != sorted(REMINDERS):
            raise ValueError(f"give exactly these reminders: {', '.join(REMINDERS)}")
        return {name: value[name] for name in REMINDERS}

    @field_validator("follow_ups_after_discharge")
    @classmethod
    def _increasing(cls, value: list[Interval]) -> list[Interval]:
        spans = [interval.delta for interval in value]
        if spans != sorted(set(spans)):
            raise ValueError("follow-ups must be in increasing order, without repeats")
        return value

    @field_validator("planning_meeting_every", "alert_ack_timeout")
    @classmethod
    def _positive(cls, value: Interval) -> Interval:
        if value.delta <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value


def due_after(policy: Policy, start: datetime, interval: Interval, zone: ZoneInfo) -> datetime:
    """``interval`` after ``start``: whole days land at ``due_time`` local; hours are elapsed."""
    if interval.days == 0:
        return (start + interval.elapsed).astimezone(UTC)
    day = start.astimezone(zone).date() + timedelta(days=interval.days)
    landed = datetime.combine(day, policy.due_time, tzinfo=zone)
    return (landed.astimezone(UTC) + interval.elapsed).astimezone(UTC)


def next_due(policy: Policy, completed_at: datetime, level: RiskLevel, zone: ZoneInfo) -> datetime:
    """When the next assessment falls due after one completed at ``completed_at``."""
    return due_after(policy, completed_at, policy.next_assessment[RiskLevel(level)], zone)


def planning_meeting_due(policy: Policy, since: datetime, zone: ZoneInfo) -> datetime:
    return due_after(policy, since, policy.planning_meeting_every, zone)


def initial_contact_due(policy: Policy, referred_at: datetime, zone: ZoneInfo) -> datetime:
    return due_after(policy, referred_at, policy.initial_contact_within, zone)


def follow_up_dues(policy: Policy, discharged_at: datetime, zone: ZoneInfo) -> list[datetime]:
    """The follow-up assessments' due times after a discharge, in order."""
    return [due_after(policy, discharged_at, i, zone) for i in policy.follow_ups_after_discharge]


def reminder_times(policy: Policy, due_at: datetime, zone: ZoneInfo) -> list[tuple[str, datetime]]:
    """(threshold, when it fires) for one due time, in time order; ends with the escalation."""
    fired = [
        (name, shift(due_at, interval, zone, before=name in _BEFORE))
        for name, interval in policy.reminders.items()
    ]
    fired.append((ESCALATION, shift(due_at, policy.escalate_overdue_after, zone)))
    return sorted(fired, key=lambda pair: pair[1])


@dataclass(frozen=True)
class Thresholds:
    """The policy's thresholds, for deciding many due times against one moment: what
    ``reminder_times`` says, worked out in calendar days only for a threshold within ``SLACK``
    of the moment (a sweep decides thousands of due times, nearly all of them far from it)."""

    policy: Policy
    specs: tuple[tuple[str, Interval, bool, timedelta], ...]  # name, interval, before, offset
    in_fixed_order: bool  # every due time has its thresholds in the order of ``specs``

    @classmethod
    def of(cls, policy: Policy) -> Thresholds:
        reference = datetime(2001, 1, 1, tzinfo=UTC)
        intervals = {**policy.reminders, ESCALATION: policy.escalate_overdue_after}
        specs = tuple(
            (name, intervals[name], name in _BEFORE, at - reference)
            for name, at in reminder_times(policy, reference, ZoneInfo("UTC"))
        )
        # Days and hours each only growing along the list: no date can reorder the thresholds.
        signed = [(-1 if before else 1, interval) for _, interval, before, _ in specs]
        in_order = all(
            a * x.days <= b * y.days and a * x.elapsed <= b * y.elapsed
            for (a, x), (b, y) in pairwise(signed)
        )
        return cls(policy, specs, in_order)

    @cached_property  # asked once per candidate by a sweep
    def names(self) -> tuple[str, ...]:
        """The thresholds' names, in the order of ``specs``."""
        return tuple(name for name, *_ in self.specs)

    def passed(self, due_at: datetime, zone: ZoneInfo, now: datetime) -> list[str]:
        """The thresholds of ``due_at`` that ``now`` has reached, in time order."""
        if not self.in_fixed_order:
            return [name for name, at in reminder_times(self.policy, due_at, zone) if at <= now]
        found = []
        for name, interval, before, offset in self.specs:
            at = due_at + offset
            if abs(at - now) <= SLACK:
                at = shift(due_at, interval, zone, before=before)
            if at <= now:
                found.append(name)
        return found


def shift(
    moment: datetime, interval: Interval, zone: ZoneInfo, *, before: bool = False
) -> datetime:
    """``moment`` moved by whole local calendar days (same wall-clock time) and elapsed hours."""
    sign = -1 if before else 1
    local = moment.astimezone(zone)
    day = local.date() + timedelta(days=sign * interval.days)
    moved = datetime.combine(day, local.time(), tzinfo=zone).astimezone(UTC)
    return moved + sign * interval.elapsed  # UTC plus elapsed time is UTC
