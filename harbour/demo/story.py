"""The demo's simulated weeks: referrals, assessments, plan reviews, alerts and sweeps in time order.

Everything happens on the App's FixedClock. Scripted moments (the referrals, the imminent threat,
a youth leaving, the discharges) and each day's routine (every caseworker assesses what they were
reminded of, except the one assessment that is forgotten on purpose) are queued by time; before
each one the simulated 15-minute sweep cron runs every tick that has work (``wakeup``).

After every change the demo does what a CLI command does after committing: it sends the urgent
lane at once, then leaves the rest to the orchestrator (inline steps or Prefect flow runs).
"""

from __future__ import annotations

import functools
import heapq
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from harbour.app import App
from harbour.assessments.submit import submit_assessment
from harbour.cases import visits
from harbour.cases.intake import refer
from harbour.clock import FixedClock
from harbour.demo import staffwork, wakeup
from harbour.demo.cast import (
    CASEWORKERS,
    COORDINATOR,
    SUPERVISOR,
    YOUTH,
    ZONE,
    Addition,
    Youth,
)
from harbour.demo.failure import DemoFailure
from harbour.demo.inbox import Delivered, Inbox
from harbour.demo.orchestrator import Orchestrator
from harbour.demo.wording import count, decisions, sent
from harbour.domain import refs
from harbour.domain.vocab import AlertKind, AssessmentPoint, Lane
from harbour.notify.alerts import acknowledge
from harbour.orchestration import pipeline
from harbour.plans.actions import mark_done

START = date(2026, 3, 2)  # a Monday; clocks go forward six days later, due dates do not move
DAYS = 189  # 27 weeks: the stabilizing youth's third follow-up falls due 180 days after discharge
ROUTINE = "10:00"  # caseworkers assess what they were reminded of
ACK_AFTER = timedelta(minutes=5)  # the supervisor answers an overdue escalation this fast
MAX_SWEEPS = 3000
FIRED = {  # what a sweep's reminder thresholds are called in the progress lines
    "due_soon": ("due-soon reminder", None),
    "due_today": ("due-today reminder", None),
    "overdue": ("overdue reminder", None),
    "escalation": ("overdue escalation to the supervisor", "overdue escalations to the supervisor"),
}
CLIMBED = ("unacknowledged alert up a tier", "unacknowledged alerts up a tier")
OPENED = ("missing assessment opened", "missing assessments opened")
OVERDUE_VISITS = ("visit check-in overdue", "visit check-ins overdue")
# Two home visits (fictional places, sealed like any identifying field): one back on time, one
# not back by its deadline, whose alert climbs from the buddy to the supervisors until taken.
VISITS = (
    (CASEWORKERS[0], "Makebelieve Family Centre, 4 Pretend Row", "12:00", None),
    (CASEWORKERS[1], "Imaginary Apartments 7B, Nowhere Street", "15:00", CASEWORKERS[0]),
)


@dataclass(order=True)
class _Moment:
    at: datetime
    seq: int
    act: Callable[[], None] = field(compare=False)


@dataclass
class Story:
    app: App
    clock: FixedClock
    orchestrator: Orchestrator
    inbox: Inbox
    say: Callable[[str], None]
    days: int = DAYS
    cases: dict[str, str] = field(default_factory=dict)  # youth label -> case id
    forgetting: set[str] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)
    _queue: list[_Moment] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _last_sweep: datetime | None = None
    _used: set[Addition] = field(default_factory=set)
    _ack_planned: set[str] = field(default_factory=set)

    # -- time -------------------------------------------------------------------------------------

    @staticmethod
    def at(day: int, hhmm: str) -> datetime:
        local = datetime.combine(START + timedelta(days=day), time.fromisoformat(hhmm))
        return local.replace(tzinfo=ZoneInfo(ZONE)).astimezone(ZoneInfo("UTC"))

    @property
    def today(self) -> int:
        return (self.clock.now().astimezone(ZoneInfo(ZONE)).date() - START).days

    @property
    def end(self) -> datetime:
        return self.at(self.days, "18:00")

    def plan(self, at: datetime, act: Callable[[], None]) -> None:
        if at > self.end:
            return
        heapq.heappush(self._queue, _Moment(at, next(self._seq), act))

    def log(self, text: str) -> None:
        stamp = self.clock.now().astimezone(ZoneInfo(ZONE)).strftime("%a %Y-%m-%d %H:%M")
        self.say(f"[{stamp}] {text}")

    # -- the run ----------------------------------------------------------------------------------

    def run(self) -> None:
        self.forgetting = {y.label for y in YOUTH if y.forgets_first_meeting}
        self.clock.set(self.at(0, "08:00"))
        for youth in YOUTH:
            self.plan(self.at(*youth.referred), functools.partial(self.refer, youth))
        for day in range(self.days + 1):
            self.plan(self.at(day, ROUTINE), self.routine)
        self._script()
        while True:
            tick = self._next_tick()
            head = self._queue[0].at if self._queue else None
            if tick is not None and tick <= self.end and (head is None or tick <= head):
                self.clock.set(tick)
                self.sweep()
            elif head is not None:
                moment = heapq.heappop(self._queue)
                self.clock.set(max(moment.at, self.clock.now()))
                moment.act()
            else:
                break
        self.clock.set(self.end)

    def _next_tick(self) -> datetime | None:
        """The next 15-minute tick at which a sweep has work (``wakeup``), or None."""
        due = wakeup.next_due(self.app)
        if due is None:
            return None
        tick = wakeup.tick_at_or_after(max(due, self.clock.now()))
        if self._last_sweep is not None and tick <= self._last_sweep:
            tick = self._last_sweep + wakeup.TICK  # work that came after the last sweep
        return tick

    def _script(self) -> None:
        bravo, alpha, charlie, echo = (
            _youth(label) for label in ("bravo", "alpha", "charlie", "echo")
        )
        self.plan(self.at(0, "14:00"), lambda: self.assess(bravo, AssessmentPoint.INITIAL_CONTACT))
        self.plan(self.at(0, "14:35"), lambda: self.acknowledge_imminent(bravo))
        self.plan(self.at(0, "15:00"), lambda: self.emergency_steps(bravo))
        self.plan(self.at(9, "10:30"), lambda: self.assess(charlie, AssessmentPoint.DISCHARGE))
        self.plan(self.at(9, "14:00"), lambda: self.assess(alpha, AssessmentPoint.JUST_LEFT))
        self.plan(self.at(70, "10:30"), lambda: self.assess(echo, AssessmentPoint.DISCHARGE))
        on_time, late = VISITS
        self.plan(self.at(1, "10:30"), lambda: self.start_visit(*on_time))
        self.plan(self.at(1, "11:40"), lambda: self.visit_back(on_time[0]))
        self.plan(self.at(2, "13:30"), lambda: self.start_visit(*late))
        self.plan(self.at(2, "15:40"), self.acknowledge_visit)
        self.plan(self.at(2, "15:50"), lambda: self.visit_back(late[0]))

    # -- what follows every change ----------------------------------------------------------------

    def follow_through(self) -> tuple[list[Delivered], list[str], list[Delivered]]:
        """(urgent messages sent at once, what the orchestrator ran, messages after it)."""
        pipeline.deliver(self.app, Lane.URGENT)  # as every CLI command does after committing
        urgent = self.inbox.collect(self.clock.now())
        ran = self.orchestrator.process(self.app)
        if staffwork.deliverable(self.app):
            self.orchestrator.deliver(self.app)
        return urgent, ran, self.inbox.collect(self.clock.now())

    def sweep(self) -> None:
        self.counts["sweeps"] += 1
        if self.counts["sweeps"] > MAX_SWEEPS:
            raise DemoFailure("too_many_sweeps", f"more than {MAX_SWEEPS} sweeps")
        now = self._last_sweep = self.clock.now()
        report = self.orchestrator.sweep(self.app, now)
        due = wakeup.next_due(self.app)
        if due is not None and due <= now:
            raise DemoFailure("sweep_left_work", "a sweep left due work undone")
        messages = self.inbox.collect(self.clock.now())
        fired = staffwork.thresholds_fired(self.app, now)
        parts = [count(fired[name], *FIRED[name]) for name in FIRED if fired[name]]
        parts += [count(report["escalated"], *CLIMBED)] if report.get("escalated") else []
        parts += [count(report["opened"], *OPENED)] if report.get("opened") else []
        parts += [count(report["visits"], *OVERDUE_VISITS)] if report.get("visits") else []
        if parts:
            self.log(f"sweep: {', '.join(parts)}{sent(messages)}")
        self._answer_escalations()

    # -- the people -------------------------------------------------------------------------------

    def refer(self, youth: Youth) -> None:
        case = refer(self.app, COORDINATOR, youth.referral, f"demo-referral-{youth.label}")
        self.cases[youth.label] = case.id
        _, ran, messages = self.follow_through()
        _, worker, _, _ = staffwork.case_facts(self.app, case.id)
        self.log(
            f"{youth.label}: referred by {COORDINATOR} ({youth.situation}) as case "
            f"{refs.short_form(case.reference)}; {self._ran(ran)}assigned {worker}{sent(messages)}"
        )

    def routine(self) -> None:
        labels = {case_id: label for label, case_id in self.cases.items()}
        order = [youth.label for youth in YOUTH]
        found = staffwork.reminded_assessments(self.app)
        found.sort(key=lambda r: (r.due_at, order.index(labels.get(r.case_id, order[0]))))
        for reminded in found:
            label = labels.get(reminded.case_id)
            if label is None:
                continue
            if label in self.forgetting and reminded.point == AssessmentPoint.PLANNING_MEETING:
                continue
            self.assess(_youth(label), AssessmentPoint(reminded.point))

    def assess(self, youth: Youth, point: AssessmentPoint) -> None:
        ref, worker, _, before = staffwork.case_facts(self.app, self.cases[youth.label])
        assert worker is not None
        self.counts[f"assessments:{youth.label}"] += 1
        key = f"demo-{youth.label}-{self.counts[f'assessments:{youth.label}']}"
        outcome = submit_assessment(self.app, worker, ref, point, youth.answers_on(self.today), key)
        urgent, ran, messages = self.follow_through()
        level = outcome.risk_level
        text = f"{youth.label}: {point} assessment by {worker}: {level}"
        if before and before != level:
            text += f" (was {before})"
        if urgent:
            self.log(
                f"{text}; urgent lane: sent at once, before any orchestrator step{sent(urgent)}"
            )
            text = f"{youth.label}: plan v{outcome.plan_version}"
        review = self._review(youth, worker, ref)
        _, _, status, _ = staffwork.case_facts(self.app, self.cases[youth.label])
        text += f"; {self._ran(ran)}plan v{review.version} final ({decisions(review)})"
        text += f"; case {status}{sent(messages)}"
        self.log(text)

    def _ran(self, names: list[str]) -> str:
        """What the orchestrator ran, e.g. ``[flow run: planning_meeting]``."""
        kind = "flow run" if self.orchestrator.name == "prefect" else "inline"
        return "".join(f"[{kind}: {name}] " for name in names)

    def _review(self, youth: Youth, worker: str, ref: str) -> staffwork.Review:
        additions = [a for a in youth.additions if a.day <= self.today and a not in self._used]
        self._used.update(additions)
        review = staffwork.review_and_finalize(self.app, worker, ref, youth.declines, additions)
        self.follow_through()
        return review

    def acknowledge_imminent(self, youth: Youth) -> None:
        for alert in staffwork.unacknowledged(self.app):
            if alert.case_id == self.cases[youth.label] and alert.kind == AlertKind.IMMINENT_THREAT:
                self._acknowledge(alert, SUPERVISOR)

    def _answer_escalations(self) -> None:
        """The supervisor acknowledges an overdue escalation within minutes and calls the
        caseworker, who then does the forgotten assessment at the next routine."""
        for alert in staffwork.unacknowledged(self.app):
            if alert.kind == AlertKind.OVERDUE_ESCALATION and alert.id not in self._ack_planned:
                self._ack_planned.add(alert.id)
                answer = functools.partial(self._acknowledge, alert, SUPERVISOR)
                self.plan(self.clock.now() + ACK_AFTER, answer)

    def _acknowledge(self, alert: staffwork.OpenAlert, handle: str) -> None:
        acknowledged = acknowledge(self.app, handle, alert.id)
        self.follow_through()
        label = next(k for k, v in self.cases.items() if v == alert.case_id)
        self.forgetting.discard(label)
        minutes = int((self.clock.now() - alert.opened_at).total_seconds() // 60)
        climbed = f"the ladder had climbed {count(acknowledged.tier, 'tier')}"
        self.log(
            f"{label}: {handle} acknowledged the {alert.kind} alert after {minutes} min "
            f"({climbed if acknowledged.tier else 'in time, before it escalated'})"
        )

    def start_visit(self, worker: str, where: str, back: str, buddy: str | None) -> None:
        view = visits.start_visit(self.app, worker, back_at=back, location=where, buddy=buddy)
        self.follow_through()
        self.log(
            f"visit: {worker} out on a home visit, back by {back}, check-in buddy "
            f"{view.buddy or 'the supervisors'}"
        )

    def visit_back(self, worker: str) -> None:
        view = visits.check_in(self.app, worker)
        urgent, _, later = self.follow_through()  # those its alert paged hear: back safe
        back_at = view.back_at or view.expected_back_at
        late = int((back_at - view.expected_back_at).total_seconds() // 60)
        when = f"{late} min late" if late > 0 else "on time"
        told = "; everyone paged told" + sent(urgent + later) if urgent or later else ""
        self.log(f"visit: {worker} checked in ({when}){told}")

    def acknowledge_visit(self) -> None:
        """The supervisor, paged, takes the overdue visit's alert and calls the caseworker."""
        for alert in visits.list_visits(self.app, SUPERVISOR):
            if alert.alert_id is None:
                continue
            taken = acknowledge(self.app, SUPERVISOR, alert.alert_id)
            self.follow_through()
            minutes = int((self.clock.now() - alert.deadline_at).total_seconds() // 60)
            self.log(
                f"visit: {SUPERVISOR} acknowledged the visit_overdue alert of {alert.visitor} "
                f"{minutes} min after the deadline (the ladder had climbed "
                f"{count(taken.tier, 'tier')})"
            )

    def emergency_steps(self, youth: Youth) -> None:
        ref, worker, _, _ = staffwork.case_facts(self.app, self.cases[youth.label])
        assert worker is not None
        keys = staffwork.emergency_keys(self.app, self.cases[youth.label])
        # Safety now, shelter, law enforcement; the thorough assessment is tomorrow's, as due.
        done = [mark_done(self.app, worker, ref, key).key for key in keys[:3]]
        self.follow_through()
        self.log(f"{youth.label}: {worker} recorded emergency steps taken: {', '.join(done)}")


def _youth(label: str) -> Youth:
    return next(youth for youth in YOUTH if youth.label == label)
