"""Least privilege by assignment (issue 13, item 3), on SQLite and PostgreSQL.

A caseworker acts on the cases assigned to them and on those they cover; a colleague's case of
their own agency is refused plainly ("not assigned to you") and the refusal is audited on the
case; a cover is explicit (a sealed reason, never in argv), time-limited, audited, told to the
supervisors (who and which case only), shown on the case, and ends on expiry or ``--end``.
Coordinators read a case in full until it has its caseworker, then its summary only.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from harbour.app import App
from harbour.cases import intake
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, Case, CaseCover, OutboxMessage
from harbour.domain.privilege import REFUSALS, Refusal
from harbour.domain.refs import short_form
from harbour.notify.messages import compose
from tests.cli.helpers import answers_file, ok, referred_case
from tests.support import given, invoke, referral

MARKER = "MKASSIGN"
NOT_ASSIGNED = f"error: not_assigned: {REFUSALS[Refusal.NOT_ASSIGNED]}\n"
REASON = "MKREASON cw1 is off sick and the youth called"


@pytest.fixture
def ref(seeded: App, tmp_path: Path) -> str:
    """A case of north assigned to cw1 (cw2 is their colleague), with a draft plan."""
    reference = referred_case(seeded, tmp_path, MARKER)
    path = answers_file(seeded, tmp_path, "first")
    ok(seeded, "assess", reference, "--point", "initial_contact", "--answers", path, "--as", "cw1")
    return reference


def _colleague_tries(app: App, ref: str, tmp_path: Path) -> dict[str, Any]:
    """Every case command a caseworker's role allows, as cw2: what each answered."""
    path = answers_file(app, tmp_path, "again")
    attempts = {
        "case show": ["case", "show", ref],
        "schedule": ["schedule", ref],
        "plan show": ["plan", "show", ref],
        "plan render": ["plan", "render", ref, "--audience", "staff", "--format", "text"],
        "plan add": [
            *("plan", "add", ref, "--section", "steps", "--owner", "youth"),
            *("--text", given("MKADD")),
        ],
        "plan finalize": ["plan", "finalize", ref, "--accept-rest"],
        "assess": ["assess", ref, "--point", "incident", "--answers", path],
        "person add": [
            *("case", "person", "add", ref, "--kind", "trusted_contact"),
            *("--name", given("MKPAT")),
        ],
        "discharge": ["discharge", ref],
    }
    return {name: invoke(app, *args, "--as", "cw2") for name, args in attempts.items()}


def _audit(app: App, handle: str, **where: Any) -> list[tuple[str, str, dict[str, Any]]]:
    query = select(AuditEvent).where(AuditEvent.actor_handle == handle)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    rows = app.run(lambda uow: uow.session.scalars(query.order_by(AuditEvent.seq)).all())
    return [(r.action, r.outcome, dict(r.details)) for r in rows]


def test_a_colleague_is_refused_plainly_and_audited_on_the_case(
    seeded: App, ref: str, tmp_path: Path
) -> None:
    before = ok(seeded, "case", "show", ref, "--as", "sup")
    answers = _colleague_tries(seeded, ref, tmp_path)
    for name, result in answers.items():
        assert (result.exit_code, result.stdout, result.stderr) == (1, "", NOT_ASSIGNED), name
    assert MARKER not in "".join(r.stdout + r.stderr for r in answers.values())
    # Nothing changed: the same case, the same plan.
    assert ok(seeded, "case", "show", ref, "--as", "sup") == before
    trail = ok(seeded, "audit", ref, "--as", "sup")
    refused = [(r["actor"], r["outcome"], r["details"]) for r in trail if r["actor"] == "cw2"]
    assert len(refused) == len(answers)
    assert set(map(str, refused)) == {str(("cw2", "denied", {"why": "not_assigned"}))}
    # Their own caseload does not list it.
    assert ok(seeded, "cases", "--as", "cw2") == []
    assert [row["case"] for row in ok(seeded, "cases", "--as", "cw1")] == [ref]


def test_another_agencys_caseworker_still_gets_not_found(seeded: App, ref: str) -> None:
    absent = "HB-0000-0000-0000-0000-0000-0000-0000"
    for args in (["case", "show"], ["case", "cover"]):
        extra = ["--reason", given(REASON)] if args == ["case", "cover"] else []
        theirs = invoke(seeded, *args, ref, *extra, "--as", "cw3")
        nobody = invoke(seeded, *args, absent, *extra, "--as", "cw3")
        assert (theirs.exit_code, theirs.stdout, theirs.stderr) == (
            nobody.exit_code,
            nobody.stdout,
            nobody.stderr,
        )
        assert theirs.stderr == "error: case_not_found: no such case\n"


def test_a_cover_lets_a_colleague_act_until_it_runs_out(
    seeded: App, ref: str, clock: FixedClock, tmp_path: Path
) -> None:
    started = clock.now()
    cover = ok(seeded, "case", "cover", ref, "--reason", given(REASON), "--as", "cw2")
    assert cover["caseworker"] == "cw2" and "reason" not in cover
    assert cover["ends_at"] == (started + timedelta(hours=8)).isoformat()  # the policy's default
    # Now they act on it: read it, work the plan, find it in their caseload.
    shown = ok(seeded, "case", "show", ref, "--as", "cw2")
    assert shown["people"] and [c["caseworker"] for c in shown["covers"]] == ["cw2"]
    assert shown["covers"][0]["reason"] == REASON  # for those who read the case in full
    ok(seeded, "plan", "show", ref, "--as", "cw2")
    text = given("MKCOVERSTEP")
    ok(
        seeded,
        "plan",
        "add",
        ref,
        "--section",
        "steps",
        "--owner",
        "youth",
        "--text",
        text,
        "--as",
        "cw2",
    )
    assert [row["case"] for row in ok(seeded, "cases", "--as", "cw2")] == [ref]
    assert ok(seeded, "case", "show", ref, "--as", "sup")["covers"][0]["caseworker"] == "cw2"
    # Audited, with no reason in the audit row.
    started_rows = _audit(seeded, "cw2", action="case.cover.start")
    assert started_rows == [("case.cover.start", "ok", {"hours": 8})]
    # 8 hours later it has ended by itself.
    clock.advance(timedelta(hours=8))
    assert invoke(seeded, "case", "show", ref, "--as", "cw2").stderr == NOT_ASSIGNED
    assert ok(seeded, "cases", "--as", "cw2") == []
    assert ok(seeded, "case", "show", ref, "--as", "sup")["covers"] == []
    assert _colleague_tries(seeded, ref, tmp_path)["plan show"].stderr == NOT_ASSIGNED


def test_a_cover_ends_when_ended(seeded: App, ref: str) -> None:
    ok(seeded, "case", "cover", ref, "--reason", given(REASON), "--hours", "2", "--as", "cw2")
    ended = ok(seeded, "case", "cover", ref, "--end", "--as", "cw2")
    assert [(c["caseworker"], c["ended"]) for c in ended] == [("cw2", True)]
    assert invoke(seeded, "plan", "show", ref, "--as", "cw2").stderr == NOT_ASSIGNED
    again = invoke(seeded, "case", "cover", ref, "--end", "--as", "cw2")
    assert again.exit_code == 1 and "no_cover" in again.stderr
    # A supervisor ends anyone's.
    ok(seeded, "case", "cover", ref, "--reason", given(REASON), "--as", "cw2")
    by_supervisor = ok(seeded, "case", "cover", ref, "--end", "--as", "sup")
    assert [c["caseworker"] for c in by_supervisor] == ["cw2"]
    assert invoke(seeded, "case", "show", ref, "--as", "cw2").stderr == NOT_ASSIGNED
    assert [a for a, _, _ in _audit(seeded, "sup", action="case.cover.end")] == ["case.cover.end"]


def test_a_new_role_ends_the_covers_a_caseworker_had(seeded: App, ref: str, tmp_path: Path) -> None:
    # A cover is a caseworker standing in: made a coordinator, cw2 keeps no cover, so neither
    # the case nor its alerts (whose listing a cover opens) stay theirs.
    ok(seeded, "case", "cover", ref, "--reason", given(REASON), "--hours", "8", "--as", "cw2")
    danger = answers_file(seeded, tmp_path, "danger", immediate_danger="yes")
    invoke(seeded, "assess", ref, "--point", "incident", "--answers", danger, "--as", "cw2")
    assert ok(seeded, "alerts", "--as", "cw2")  # the case's imminent alert, through the cover
    ok(seeded, "staff", "role", "cw2", "coordinator", "--as", "adm")
    shown = ok(seeded, "case", "show", ref, "--as", "sup")
    assert [c for c in shown["covers"] if c["caseworker"] == "cw2"] == []
    assert ok(seeded, "alerts", "--as", "cw2") == []
    assert ("case.cover.end", "ok", {"caseworker": "cw2"}) in _audit(seeded, "adm")


def test_the_supervisors_are_told_who_covers_which_case_and_nothing_else(
    seeded: App, ref: str
) -> None:
    ok(seeded, "case", "cover", ref, "--reason", given(REASON), "--as", "cw2")
    rows = seeded.run(
        lambda uow: uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "cover_started")
        ).all()
    )
    assert {row.recipient for row in rows} == {"sup"}  # north's supervisors, not south's
    assert {tuple(sorted(row.context.items())) for row in rows} == {
        (
            ("case_ref", short_form(ref)),
            ("path", f"/cases/{ref}"),
            ("staff", "cw2"),
        )
    }
    message = compose(seeded.settings, "cover_started", rows[0].context, "chat")
    assert message.title == f"Harbour: Cover started {short_form(ref)}"
    assert f"Cover started: case {short_form(ref)}, by cw2." in message.body
    assert "MKREASON" not in message.title + message.body


def test_the_reason_is_sealed_and_never_taken_from_argv(seeded: App, ref: str) -> None:
    typed = invoke(seeded, "case", "cover", ref, "--reason", REASON, "--as", "cw2")
    assert typed.exit_code == 2 and "never taken from the command line" in typed.stderr
    assert "MKREASON" not in typed.stderr
    missing = invoke(seeded, "case", "cover", ref, "--as", "cw2")
    assert missing.exit_code == 2 and "--reason" in missing.stderr
    assert seeded.run(lambda uow: uow.session.scalars(select(CaseCover)).all()) == []
    piped = invoke(seeded, "case", "cover", ref, "--reason", "-", "--as", "cw2", stdin=REASON)
    assert piped.exit_code == 0, piped.stderr
    stored = seeded.run(lambda uow: uow.session.scalars(select(CaseCover)).one())
    assert stored.reason_sealed and "MKREASON" not in stored.reason_sealed


@pytest.mark.parametrize(
    ("who", "hours", "code"),
    [
        ("cw2", "0", "--hours"),
        ("cw2", "73", "--hours"),  # the policy's maximum is 72
        ("cw1", None, "cover_assigned"),
        ("sup", None, "cover_supervisor"),
        ("coord", None, "not_permitted"),
        ("adm", None, "not_permitted"),
    ],
)
def test_covers_that_are_refused(
    seeded: App, ref: str, who: str, hours: str | None, code: str
) -> None:
    extra = ["--hours", hours] if hours else []
    result = invoke(seeded, "case", "cover", ref, "--reason", given(REASON), *extra, "--as", who)
    assert result.exit_code in (1, 2) and code in result.stderr, result
    assert seeded.run(lambda uow: uow.session.scalars(select(CaseCover)).all()) == []


def test_one_cover_at_a_time_and_the_longest_allowed(seeded: App, ref: str) -> None:
    ok(seeded, "case", "cover", ref, "--reason", given(REASON), "--hours", "72", "--as", "cw2")
    twice = invoke(seeded, "case", "cover", ref, "--reason", given(REASON), "--as", "cw2")
    assert twice.exit_code == 1 and "cover_covering" in twice.stderr


def test_a_coordinator_sees_the_summary_once_the_case_is_assigned(
    seeded: App, tmp_path: Path
) -> None:
    # A referral is assigned in its own transaction; this one is as if the agency had had no
    # caseworker to give it then (the initial-contact step assigns it later): intake's case.
    ref = intake.refer(seeded, "coord", referral(MARKER), None).reference
    seeded.run(
        lambda uow: setattr(
            uow.session.scalar(select(Case).where(Case.reference == ref)), "caseworker_id", None
        )
    )
    full = ok(seeded, "case", "show", ref, "--as", "coord")
    assert full["summary_only"] is False and full["people"][0]["name"] == f"{MARKER}youthname"
    ok(seeded, "assign", ref, "cw1", "--as", "coord")
    path = answers_file(seeded, tmp_path, "first")
    ok(seeded, "assess", ref, "--point", "initial_contact", "--answers", path, "--as", "cw1")
    ok(seeded, "case", "cover", ref, "--reason", given(REASON), "--as", "cw2")
    summary = invoke(seeded, "case", "show", ref, "--as", "coord", "--json")
    assert summary.exit_code == 0 and MARKER not in summary.stdout
    shown = summary.json()
    assert shown["summary_only"] is True
    assert (shown["status"], shown["caseworker"]) == ("active", "cw1")
    assert shown["next_due"] and shown["risk_level"]
    assert shown["people"] == [] and shown["threats"] == [] and shown["situation"] is None
    assert [(c["caseworker"], "reason" in c) for c in shown["covers"]] == [("cw2", False)]
    text = invoke(seeded, "case", "show", ref, "--as", "coord")
    assert "caseworker cw1" in text.stdout and "its details and plan are for" in text.stdout
    assert ok(seeded, "schedule", ref, "--as", "coord")  # due dates: what intake needs
    for args in (["plan", "show", ref], ["plan", "versions", ref]):
        refused = invoke(seeded, *args, "--as", "coord")
        assert refused.exit_code == 1 and "not_permitted" in refused.stderr, args
        assert "coordinators see its summary" in refused.stderr
    actions = [(a, o) for a, o, _ in _audit(seeded, "coord", case_id=_case_id(seeded, ref))]
    assert ("case.summary", "ok") in actions and ("case.read", "denied") in actions
    # The listing is the agency's, as intake needs.
    assert [row["case"] for row in ok(seeded, "cases", "--as", "coord")] == [ref]


def _case_id(app: App, ref: str) -> str:
    found: str = app.run(
        lambda uow: uow.session.scalar(select(Case.id).where(Case.reference == ref))
    )
    return found
