"""Two changes to one case at once (or to one alert, or to one person's visits): the second
waits for the first and decides on what it did, as it would have a moment later. On PostgreSQL
each read its own snapshot and both went through: two open missing episodes, two people told
they took one alert, alerts left climbing after every step was done, two visits out at once,
and an internal error for two emergency steps done together. SQLite's writers queue on its one
lock. Several Apps stand for several processes, released together; each race runs a few rounds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from harbour.app import App
from harbour.assessments.overrides import override_level
from harbour.assessments.submit import submit_assessment
from harbour.cases.cover import start_cover
from harbour.cases.details import add_person, add_threat
from harbour.cases.missing import record_step, report_missing
from harbour.cases.reads import show_case
from harbour.cases.visits import extend, start_visit
from harbour.db.models import (
    Alert,
    AuditEvent,
    Case,
    CaseCover,
    LifecycleEvent,
    MissingEpisode,
    Staff,
    Visit,
)
from harbour.errors import Conflict
from harbour.events import RISK_OVERRIDDEN
from harbour.notify.alerts import acknowledge
from harbour.plans import actions
from harbour.plans.actions import mark_done
from tests.cases.racing import race
from tests.cli.helpers import safest
from tests.notify.helpers import imminent_alert, new_case

ROUNDS = 4
SINCE = "2026-03-02 06:00"  # when the youth was last seen (New York), before the test clock
LONG_AGO = "2026-03-01 12:00"  # 21 hours before it: the steps' deadline is near, alerts open


def _outcomes(results: list[Any]) -> Counter[str]:
    return Counter(r.split(":")[0] if isinstance(r, str) else "ok" for r in results)


def _count(app: App, query: Any) -> int:
    return int(app.run(lambda uow: uow.session.scalar(query)))


def test_two_reports_of_one_missing_youth_open_one_episode(seeded: App) -> None:
    def round_(ref: str) -> None:
        done = race(
            seeded,
            lambda app: report_missing(app, "cw1", ref, SINCE),
            lambda app: report_missing(app, "sup", ref, SINCE),
        )
        assert _outcomes(done) == {"ok": 1, "Conflict": 1}, done
        assert any("already recorded missing" in str(r) for r in done)
        episodes = select(func.count(MissingEpisode.id)).join(Case).where(Case.reference == ref)
        assert _count(seeded, episodes) == 1

    for _ in range(ROUNDS):
        round_(new_case(seeded).reference)


def test_the_last_two_steps_at_once_stop_the_alerts(seeded: App) -> None:
    def round_(ref: str) -> None:
        episode = report_missing(seeded, "cw1", ref, LONG_AGO)
        assert episode.alerts
        record_step(seeded, "cw1", ref, "law_enforcement")
        done = race(
            seeded,
            lambda app: record_step(app, "cw1", ref, "ncmec"),
            lambda app: record_step(app, "sup", ref, "supervisor_told"),
        )
        assert _outcomes(done) == {"ok": 2}, done
        still_open = select(func.count(Alert.id)).where(
            Alert.id.in_(episode.alerts), Alert.acknowledged_at.is_(None)
        )
        assert _count(seeded, still_open) == 0

    for _ in range(ROUNDS):
        round_(new_case(seeded).reference)


def test_a_step_recorded_is_not_recorded_again(seeded: App) -> None:
    ref = new_case(seeded).reference
    report_missing(seeded, "cw1", ref, SINCE)
    record_step(seeded, "cw1", ref, "law_enforcement", "LE-111")
    for number in ("LE-222", None):
        with pytest.raises(Conflict) as refused:
            record_step(seeded, "sup", ref, "law_enforcement", number)
        assert refused.value.code == "step_done" and "recorded done by cw1" in str(refused.value)
    missing = show_case(seeded, "sup", ref).missing
    assert missing is not None
    [step] = [s for s in missing["steps"] if s["step"] == "law_enforcement"]
    assert step["report_number"] == "LE-111"


def test_two_people_taking_one_alert_are_told_who_took_it(seeded: App) -> None:
    def round_(alert_id: str) -> None:
        taken = race(
            seeded,
            lambda app: acknowledge(app, "sup", alert_id),
            lambda app: acknowledge(app, "adm", alert_id),
        )
        assert sorted(t.already_acknowledged for t in taken) == [False, True], taken
        assert len({t.acknowledged_by for t in taken}) == 1
        acks = seeded.run(
            lambda uow: uow.session.scalars(
                select(AuditEvent.details).where(
                    AuditEvent.action == "alert.ack", AuditEvent.outcome == "ok"
                )
            ).all()
        )
        assert sum(details.get("alert_id") == alert_id for details in acks) == 1

    for _ in range(ROUNDS):
        round_(imminent_alert(seeded, new_case(seeded)).id)


def test_two_emergency_steps_done_at_once_are_both_recorded(seeded: App) -> None:
    def round_(ref: str) -> None:
        danger = safest(seeded) | {"immediate_danger": "yes"}
        submit_assessment(seeded, "cw1", ref, "incident", danger)
        done = race(
            seeded,
            lambda app: mark_done(app, "cw1", ref, "emergency.shelter").key,
            lambda app: mark_done(app, "sup", ref, "emergency.law_enforcement").key,
        )
        assert sorted(done) == ["emergency.law_enforcement", "emergency.shelter"], done

    for _ in range(ROUNDS):
        round_(new_case(seeded).reference)


def test_one_person_starting_two_visits_at_once_has_one_out(seeded: App) -> None:
    def round_(handle: str) -> None:
        started = race(
            seeded,
            lambda app: start_visit(app, handle, back_at="16:00"),
            lambda app: start_visit(app, handle, back_at="17:00"),
        )
        assert _outcomes(started) == {"ok": 1, "Conflict": 1}, started
        per_person = seeded.run(
            lambda uow: uow.session.execute(
                select(Visit.staff_id, func.count(Visit.id))
                .where(Visit.back_at.is_(None))
                .group_by(Visit.staff_id)
            ).all()
        )
        assert all(count == 1 for _, count in per_person), per_person

    for handle in ("cw1", "cw2", "coord", "sup"):
        round_(handle)


def test_an_add_sent_twice_at_once_adds_once(seeded: App) -> None:
    # A double click without the script: the same add, with the form's key, twice at once.
    ref = new_case(seeded).reference

    def round_(n: int) -> None:
        person = {"kind": "trusted_contact", "name": f"MKRACE{n}"}
        threat = {"kind": "network", "name": f"MKRACE{n}"}
        for add, fields in ((add_person, person), (add_threat, threat)):
            done = race(
                seeded,
                lambda app, add=add, fields=fields: add(app, "cw1", ref, fields, f"k{n}").number,
                lambda app, add=add, fields=fields: add(app, "sup", ref, fields, f"k{n}").number,
            )
            assert isinstance(done[0], int) and done[0] == done[1], done
        now = show_case(seeded, "sup", ref)
        assert [p.get("name") for p in now.people].count(f"MKRACE{n}") == 1
        assert [t.get("name") for t in now.threats].count(f"MKRACE{n}") == 1

    for n in range(ROUNDS):
        round_(n)


def test_a_plan_add_sent_twice_at_once_adds_one_item(seeded: App) -> None:
    # The workbench's add form, double-clicked: the same add, with the form's key, twice at once.
    # Each add holds the case's row (``load_case``), so the second finds the first's item.
    ref = new_case(seeded).reference
    submit_assessment(seeded, "cw1", ref, "initial_contact", safest(seeded))

    def round_(n: int) -> None:
        fields = {"section": "strategies", "text": f"MKRACE{n}"}
        done = race(
            seeded,
            lambda app: actions.add(app, "cw1", ref, idempotency_key=f"k{n}", **fields),
            lambda app: actions.add(app, "sup", ref, idempotency_key=f"k{n}", **fields),
        )
        assert isinstance(done[0], str) and done[0] == done[1], done
        texts = [i.staff_text for i in actions.show(seeded, "sup", ref).items]
        assert texts.count(f"MKRACE{n}") == 1

    for n in range(ROUNDS):
        round_(n)


def test_a_cover_a_visit_its_extend_and_an_override_sent_twice_at_once_are_each_done_once(
    seeded: App,
) -> None:
    # A double click: the same form, with its key, twice at once. Each twin answers as the
    # first did; one cover, one visit out and extended once, one override on the timeline.
    def round_(n: int, visitor: str) -> None:
        ref = new_case(seeded).reference  # cw1's: cw2 covers it
        submit_assessment(seeded, "cw1", ref, "initial_contact", safest(seeded))
        for twice in (
            lambda app: (start_cover(app, "cw2", ref, "MKRACE away", 4, f"c{n}").ends_at,),
            lambda app: (start_visit(app, visitor, back_at="16:00", idempotency_key=f"v{n}").id,),
            lambda app: (extend(app, visitor, 30, f"e{n}").expected_back_at,),
            lambda app: (override_level(app, "sup", ref, "high", "MKRACE", f"o{n}").to_level,),
        ):
            done = race(seeded, twice, twice)
            assert isinstance(done[0], tuple) and done[0] == done[1], done
        out = select(func.count(Visit.id)).join(Staff, Staff.id == Visit.staff_id)
        assert _count(seeded, out.where(Staff.handle == visitor)) == 1
        extended = select(func.sum(Visit.extensions)).join(Staff, Staff.id == Visit.staff_id)
        assert _count(seeded, extended.where(Staff.handle == visitor)) == 1
        covers = select(func.count(CaseCover.id)).join(Case).where(Case.reference == ref)
        assert _count(seeded, covers) == 1
        overrides = (
            select(func.count(LifecycleEvent.id))
            .join(Case)
            .where(Case.reference == ref, LifecycleEvent.name == RISK_OVERRIDDEN)
        )
        assert _count(seeded, overrides) == 1

    for n, visitor in enumerate(("cw1", "cw2", "coord", "sup")):
        round_(n, visitor)
