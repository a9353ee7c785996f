"""Discharge, close and reopen (each confirmed with what will happen), assignment, the
supervisor's override and the schedule, over HTTP: each as its command does it, each refusal
saying why and writing nothing. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, Case, LifecycleEvent, Staff
from harbour.domain.refs import short_form
from harbour.events import RISK_OVERRIDDEN
from harbour.plans.actions import finalize
from harbour.plans.store import Undecided
from tests.cli.helpers import assess_just_left
from tests.notify.helpers import new_case
from tests.web.forming import counts, form_fields
from tests.web.helpers import (
    COMMAND_WORDS,
    OTHER_TWOS,
    csrf_of,
    refusals,
    signed_in,
    summary_names,
)


def status_of(app: App, reference: str) -> tuple[str, str | None, str | None]:
    def work(uow: Any) -> tuple[str, str | None, str | None]:
        case = uow.session.scalars(select(Case).where(Case.reference == reference)).one()
        worker = uow.session.get(Staff, case.caseworker_id) if case.caseworker_id else None
        return case.status, case.risk_level, worker.handle if worker else None

    return app.run(work)


def test_discharge_close_and_reopen_say_what_will_happen_first(
    seeded: App, clock: FixedClock
) -> None:
    reference = new_case(seeded).reference
    case = short_form(reference)
    assess_just_left(seeded, reference, "initial_contact")
    finalize(seeded, "cw1", reference, Undecided(accept_rest=True))
    assess_just_left(seeded, reference, "discharge")
    assert status_of(seeded, reference)[0] == "discharge_pending"
    web, _ = signed_in(seeded, clock, "cw1")
    page = web.get(f"/cases/{case}")
    assert f'href="/cases/{case}/lifecycle/discharge"' in page.text
    assert "/lifecycle/close" not in page.text and "/override" not in page.text
    confirm = web.get(f"/cases/{case}/lifecycle/discharge")
    assert confirm.status_code == 200 and "30, 90, 180 days" in confirm.text
    csrf = csrf_of(web, f"/cases/{case}/lifecycle/discharge")
    before = counts(seeded)
    early = web.post(f"/cases/{case}/lifecycle/discharge", data={"csrf": csrf})
    assert early.status_code == 409 and "finalize the plan version" in early.text
    said = refusals(early.text)  # it said "harbour plan show, then harbour plan finalize"
    assert "“Plan workbench”" in said and "“Finalize”" in said, said
    assert not COMMAND_WORDS.search(said), said
    assert counts(seeded) == before and status_of(seeded, reference)[0] == "discharge_pending"
    finalize(seeded, "cw1", reference, Undecided(accept_rest=True))
    done = web.post(f"/cases/{case}/lifecycle/discharge", data={"csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == f"/cases/{case}"
    assert status_of(seeded, reference)[0] == "discharged"
    assert web.post(f"/cases/{case}/lifecycle/close", data={"csrf": csrf}).status_code == 403
    assert web.post(f"/cases/{case}/lifecycle/explode", data={"csrf": csrf}).status_code == 404

    sup, _ = signed_in(seeded, clock, "sup")
    sup_csrf = csrf_of(sup, f"/cases/{case}")
    before = counts(seeded)
    not_yet = sup.post(f"/cases/{case}/lifecycle/close", data={"csrf": sup_csrf})
    assert not_yet.status_code == 409 and "follow-up assessments remain" in not_yet.text
    assert counts(seeded) == before
    assert "Reopen" in sup.get(f"/cases/{case}").text
    reopened = sup.post(f"/cases/{case}/lifecycle/reopen", data={"csrf": sup_csrf})
    assert reopened.status_code == 303 and status_of(seeded, reference)[0] == "reopened"


def test_a_missing_youth_s_case_is_not_discharged_and_the_page_says_what_to_do(
    seeded: App, clock: FixedClock
) -> None:
    # Everything ready for discharge, but the youth is recorded missing: discharging went ahead.
    from harbour.cases import missing

    reference = new_case(seeded).reference
    case = short_form(reference)
    assess_just_left(seeded, reference, "initial_contact")
    finalize(seeded, "cw1", reference, Undecided(accept_rest=True))
    assess_just_left(seeded, reference, "discharge")
    finalize(seeded, "cw1", reference, Undecided(accept_rest=True))
    missing.report_missing(seeded, "cw1", reference, "08:00")
    web, _ = signed_in(seeded, clock, "cw1")
    confirm = web.get(f"/cases/{case}/lifecycle/discharge")
    assert "Not while the youth is recorded missing" in confirm.text
    assert "Not until the youth back from being missing is screened" in confirm.text
    csrf = csrf_of(web, f"/cases/{case}/lifecycle/discharge")
    before = counts(seeded)
    refused = web.post(f"/cases/{case}/lifecycle/discharge", data={"csrf": csrf})
    assert refused.status_code == 409 and "record their return first" in refused.text
    said = refusals(refused.text)  # it said "harbour returned REF --at TIME"
    assert "“Record the return”" in said and not COMMAND_WORDS.search(said), said
    assert counts(seeded) == before and status_of(seeded, reference)[0] == "discharge_pending"
    missing.report_return(seeded, "cw1", reference, "08:30")
    unscreened = web.post(f"/cases/{case}/lifecycle/discharge", data={"csrf": csrf})
    assert unscreened.status_code == 409 and "complete the return screening" in unscreened.text
    said = refusals(unscreened.text)  # it said "harbour assess REF --point just_left"
    assert "“Assess at”: “just left”" in said and not COMMAND_WORDS.search(said), said
    assert status_of(seeded, reference)[0] == "discharge_pending"
    assess_just_left(seeded, reference, "just_left")  # the screening: back to active
    assess_just_left(seeded, reference, "discharge")
    finalize(seeded, "cw1", reference, Undecided(accept_rest=True))
    done = web.post(f"/cases/{case}/lifecycle/discharge", data={"csrf": csrf})
    assert done.status_code == 303 and status_of(seeded, reference)[0] == "discharged"
    missing.report_missing(seeded, "cw1", reference, "09:00")  # closing it: refused alike
    sup, _ = signed_in(seeded, clock, "sup")
    closing = sup.post(f"/cases/{case}/lifecycle/close", data={"csrf": csrf_of(sup)})
    assert closing.status_code == 409 and status_of(seeded, reference)[0] == "discharged"
    said = refusals(closing.text)
    assert "“Record the return”" in said and not COMMAND_WORDS.search(said), said


def test_assign_override_and_schedule(seeded: App, clock: FixedClock) -> None:
    reference = new_case(seeded).reference
    case = short_form(reference)
    assess_just_left(seeded, reference, "initial_contact")
    coord, _ = signed_in(seeded, clock, "coord")
    form = coord.get(f"/cases/{case}/assign")
    assert form.status_code == 200 and 'value="cw2"' in form.text and 'value="cw3"' not in form.text
    csrf = csrf_of(coord, f"/cases/{case}/assign")
    before = counts(seeded)
    for bad in ("", "cw3", "nobody", "x" * 100_000, "cw2\x00"):
        refused = coord.post(f"/cases/{case}/assign", data={"csrf": csrf, "caseworker": bad})
        assert refused.status_code == 400 and 'id="f-caseworker-error"' in refused.text, bad
    assert counts(seeded) == before
    moved = coord.post(f"/cases/{case}/assign", data={"csrf": csrf, "caseworker": "cw2"})
    assert moved.status_code == 303 and status_of(seeded, reference)[2] == "cw2"

    sup, _ = signed_in(seeded, clock, "sup")
    csrf = csrf_of(sup, f"/cases/{case}/override")
    before = counts(seeded)
    for changed, field in (
        ({"level": "high", "reason": ""}, "reason"),
        ({"level": "extreme", "reason": "MKWHY"}, "level"),
        ({"level": "high", "reason": "x" * 1_000_000}, "reason"),
        ({"level": "high", "reason": "MK\x00WHY"}, "reason"),
    ):
        refused = sup.post(f"/cases/{case}/override", data={"csrf": csrf} | changed)
        assert refused.status_code == 400 and f'id="f-{field}-error"' in refused.text, changed
        said = refusals(refused.text)  # it said pydantic's "Input should be 'low', ..."
        assert "Input should" not in said and not COMMAND_WORDS.search(said), said
        if changed["reason"] == "MKWHY":
            assert ">MKWHY</textarea>" in refused.text  # kept, in the page
    assert counts(seeded) == before
    done = sup.post(
        f"/cases/{case}/override", data={"csrf": csrf, "level": "high", "reason": "MKWHY known"}
    )
    assert done.status_code == 303 and status_of(seeded, reference)[1] == "high"
    assert done.headers["location"] == f"/cases/{case}"
    # To imminent: straight to the protocol's steps, on the version the override left them.
    urgent = sup.post(
        f"/cases/{case}/override", data={"csrf": csrf, "level": "imminent", "reason": "MKWHY"}
    )
    assert urgent.status_code == 303
    assert urgent.headers["location"].startswith(f"/cases/{case}/emergency?alert=")
    protocol = sup.get(urgent.headers["location"])
    assert protocol.status_code == 200 and "They are on plan version " in protocol.text
    # no route here: the page says nobody was paged, as harbour override exits 3 saying so
    assert "Nobody was paged" in protocol.text and "Not taken yet" in protocol.text
    cw, _ = signed_in(seeded, clock, "cw2")
    assert (
        cw.post(
            f"/cases/{case}/override", data={"csrf": csrf_of(cw), "level": "low", "reason": "r"}
        ).status_code
        == 403
    )

    timeline = sup.get(f"/cases/{case}/schedule")
    assert timeline.status_code == 200 and '<ol class="timeline">' in timeline.text
    assert sup.get(f"/cases/{case}/schedule?weeks=0").status_code == 400
    assert sup.get(f"/cases/{case}/schedule?weeks=abc").status_code == 400
    for two in OTHER_TWOS:
        assert sup.get(f"/cases/{case}/schedule", params={"weeks": two}).status_code == 400


def test_escalations_show_overdue_work_and_alerts_nobody_took(
    seeded: App, clock: FixedClock
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from tests.notify.helpers import imminent_alert

    late, flagged = new_case(seeded, "MKL"), new_case(seeded, "MKF")
    alert = imminent_alert(seeded, late)
    seeded.run(
        lambda uow: uow.session.execute(
            update(Case)
            .where(Case.id == late.id)
            .values(status="active", next_due_at=clock.now() - timedelta(days=3))
        )
    )
    seeded.run(
        lambda uow: uow.session.execute(
            update(Case).where(Case.id == flagged.id).values(escalated=True)
        )
    )
    sup, _ = signed_in(seeded, clock, "sup")
    assert 'href="/escalations"' in sup.get("/").text
    page = sup.get("/escalations")
    assert page.status_code == 200, page.text[-800:]
    text = page.text
    assert f"/alerts/{alert.id}" in text
    escalated = text.split('id="escalated"')[1].split('id="overdue"')[0]
    overdue = text.split('id="overdue"')[1]
    assert (
        short_form(flagged.reference) in escalated and short_form(late.reference) not in escalated
    )
    assert short_form(late.reference) in overdue
    cw, _ = signed_in(seeded, clock, "cw1")
    assert 'href="/escalations"' not in cw.get("/").text


def test_a_form_is_shown_only_to_a_role_that_may_send_it(seeded: App, clock: FixedClock) -> None:
    # Refused by role as sending it would be (no case is looked up: every reference answers
    # alike); shown to the roles that may act.
    case = short_form(new_case(seeded).reference)
    forms = ("/cover", "/assign", "/override", "/lifecycle/discharge", "/lifecycle/close")
    forms += ("/lifecycle/reopen", "/people/new", "/threats/new")
    may = {
        "adm": (),
        "coord": ("/assign",),
        "cw1": ("/cover", "/lifecycle/discharge", "/people/new", "/threats/new"),
        "sup": forms,
    }
    for handle, shown in may.items():
        web, _ = signed_in(seeded, clock, handle)
        for form in forms:
            page = web.get(f"/cases/{case}{form}")
            assert page.status_code == (200 if form in shown else 403), (handle, form)
            if form not in shown:
                assert "Not permitted" in page.text and f'action="/cases/{case}' not in page.text


def test_the_assign_and_override_summaries_name_each_field_by_its_label(
    seeded: App, clock: FixedClock
) -> None:
    # Their summaries linked "caseworker", "level" and "reason": the form's internal names,
    # not the labels beside the fields ("Who takes the case", "Level", "Why").
    reference = new_case(seeded).reference
    case = short_form(reference)
    assess_just_left(seeded, reference, "initial_contact")
    coord, _ = signed_in(seeded, clock, "coord")
    csrf = csrf_of(coord, f"/cases/{case}/assign")
    refused = coord.post(f"/cases/{case}/assign", data={"csrf": csrf, "caseworker": ""})
    assert refused.status_code == 400 and summary_names(refused.text) == ["Who takes the case"]
    sup, _ = signed_in(seeded, clock, "sup")
    csrf = csrf_of(sup, f"/cases/{case}/override")
    before = counts(seeded)
    refused = sup.post(f"/cases/{case}/override", data={"csrf": csrf, "level": "", "reason": ""})
    assert refused.status_code == 400 and summary_names(refused.text) == ["Level", "Why"]
    assert counts(seeded) == before


def overrides(app: App, reference: str) -> tuple[list[str], int]:
    """The case's override audit actions (outcome ok), and its "risk overridden" events."""

    def work(uow: Any) -> tuple[list[str], int]:
        case_id = uow.session.scalars(select(Case.id).where(Case.reference == reference)).one()
        audited = uow.session.scalars(
            select(AuditEvent.action)
            .where(
                AuditEvent.case_id == case_id,
                AuditEvent.action.startswith("case.override"),
                AuditEvent.outcome == "ok",
            )
            .order_by(AuditEvent.seq)
        ).all()
        events = uow.session.scalars(
            select(LifecycleEvent.id).where(
                LifecycleEvent.case_id == case_id, LifecycleEvent.name == RISK_OVERRIDDEN
            )
        ).all()
        return list(audited), len(events)

    return app.run(work)


def test_an_override_sent_twice_is_recorded_once(seeded: App, clock: FixedClock) -> None:
    # A double click, or a slow network and a second click: the override was recorded twice (two
    # "risk overridden" events on the timeline, two audit rows). The form's key makes the second
    # the first, answered alike (the protocol's page, at imminent); with other values it is
    # refused; a fresh form is another override.
    reference = new_case(seeded).reference
    case = short_form(reference)
    assess_just_left(seeded, reference, "initial_contact")
    sup, _ = signed_in(seeded, clock, "sup")
    path = f"/cases/{case}/override"
    form = form_fields(sup.get(path).text, path) | {"level": "imminent", "reason": "MKWHY"}
    assert form.get("idempotency_key")
    first = sup.post(path, data=form)
    assert first.status_code == 303, refusals(first.text)
    assert first.headers["location"].startswith(f"/cases/{case}/emergency?alert=")
    once = counts(seeded)
    done_once = overrides(seeded, reference)
    second = sup.post(path, data=form)
    assert second.status_code == 303, refusals(second.text)
    assert second.headers["location"] == first.headers["location"]
    assert counts(seeded) == once | {"audit_ok": once["audit_ok"] + 2}  # access, and the replay
    audited, events = overrides(seeded, reference)
    assert events == done_once[1] == 1
    assert audited == [*done_once[0], "case.override", "case.override.replayed"]

    other = sup.post(path, data=form | {"reason": "MKWHY other"})
    assert other.status_code == 400
    assert "already submitted with other values" in refusals(other.text)
    assert overrides(seeded, reference)[1] == 1
    fresh = form_fields(sup.get(path).text, path) | {"level": "high", "reason": "MKWHY"}
    assert fresh["idempotency_key"] != form["idempotency_key"]
    lowered = sup.post(path, data=fresh)
    assert lowered.status_code == 303 and status_of(seeded, reference)[1] == "high"
    assert overrides(seeded, reference)[1] == 2
    before = counts(seeded)
    earlier = sup.post(path, data=form)  # the first form again, after the later override
    assert earlier.status_code == 400 and "sent before" in refusals(earlier.text)
    assert status_of(seeded, reference)[1] == "high" and counts(seeded) == before
    assert overrides(seeded, reference)[1] == 2
    assess_just_left(seeded, reference, "incident")  # the override's assessment superseded
    before = counts(seeded)
    stale = sup.post(path, data=fresh)  # back, then the same form sent again
    assert stale.status_code == 400 and counts(seeded) == before
    said = refusals(stale.text)
    assert "sent before" in said and "open it again" in said, said
    assert overrides(seeded, reference)[1] == 2
