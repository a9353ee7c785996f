"""The console and the CLI are two doors to the same services (issue 15: "both record the same
audit rows and lifecycle events"): a short casework sequence (refer, assess at initial contact,
accept an item, finalize) once through the console's endpoints and once through the commands
leaves the same audit actions and the same lifecycle events on its case, in the same order.
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, Case, LifecycleEvent, Plan, PlanItem
from harbour.plans.opaque import shown_key
from tests.cli.helpers import safest
from tests.support import invoke, referral
from tests.web.forming import flat
from tests.web.helpers import signed_in
from tests.web.test_assessment import opened

STEP = timedelta(minutes=5)  # between the steps: each step's rows have their own time
LOOKS = (".read", ".check")  # audit rows of looking (see the test), not of doing


def trail(app: App, reference: str) -> tuple[list[str], list[str]]:
    """The case's audit actions (with their outcome) in the order recorded, and its lifecycle
    event names in the order they occurred (one step's events, at one time, by name)."""

    def work(uow: Any) -> tuple[list[str], list[str]]:
        case_id = uow.session.scalars(select(Case.id).where(Case.reference == reference)).one()
        audit = uow.session.execute(
            select(AuditEvent.action, AuditEvent.outcome)
            .where(AuditEvent.case_id == case_id)
            .order_by(AuditEvent.seq)
        ).all()
        events = uow.session.scalars(
            select(LifecycleEvent.name)
            .where(LifecycleEvent.case_id == case_id)
            .order_by(LifecycleEvent.occurred_at, LifecycleEvent.name)
        ).all()
        return [f"{action} {outcome}" for action, outcome in audit], list(events)

    return app.run(work)


def a_suggestion(app: App, reference: str) -> str:
    """The key of a suggested item of the case's draft (read from the store: no audit row)."""

    def work(uow: Any) -> str:
        query = (
            select(PlanItem)
            .join(Plan, Plan.id == PlanItem.plan_id)
            .join(Case, Case.id == Plan.case_id)
            .where(Case.reference == reference, PlanItem.state == "suggested")
            .order_by(PlanItem.id)
        )
        return shown_key(uow, uow.session.scalars(query).first())

    return app.run(work)


def hidden(html: str, *names: str) -> dict[str, str]:
    found = dict(re.findall(r'name="([a-z_]+)" value="([^"]+)"', html))
    return {name: found[name] for name in names}


def by_console(app: App, clock: FixedClock) -> str:
    coord, _ = signed_in(app, clock, "coord")
    cw1, _ = signed_in(app, clock, "cw1")
    form = hidden(coord.get("/refer").text, "csrf", "idempotency_key")
    fields = flat(referral("MKWEB", caseworker="cw1")) | form
    referred = coord.post("/refer", data=fields | {"persons_at_risk": ["youth", "family"]})
    assert referred.status_code == 303, referred.text[-800:]
    case = referred.headers["location"].removeprefix("/cases/")
    reference = app.run(
        lambda uow: uow.session.scalars(
            select(Case.reference).where(Case.reference.startswith(case))
        ).one()
    )
    clock.advance(STEP)
    case_page = cw1.get(f"/cases/{case}")
    assert case_page.status_code == 200
    csrf = hidden(case_page.text, "csrf")["csrf"]
    form = hidden(
        opened(cw1, case, "initial_contact", csrf).text, "csrf", "idempotency_key", "point"
    )
    answers = {f"answers.{k}": str(v) for k, v in safest(app).items()}
    assert cw1.post(f"/cases/{case}/assess", data=form | answers).status_code == 200
    clock.advance(STEP)
    base = {"csrf": form["csrf"], "version": "1"}
    assert cw1.get(f"/cases/{case}/plan").status_code == 200
    item = a_suggestion(app, reference)
    accepted = cw1.post(f"/cases/{case}/plan/accept", data=base | {"item": item})
    assert accepted.status_code == 303
    clock.advance(STEP)
    finalized = cw1.post(f"/cases/{case}/plan/finalize", data=base | {"choice": "accept_rest"})
    assert finalized.status_code == 303, finalized.text[-800:]
    return reference


def by_cli(app: App, clock: FixedClock, tmp_path: Path) -> str:
    document = tmp_path / "referral.json"
    document.write_text(json.dumps(referral("MKCLI", caseworker="cw1")))
    referred = invoke(app, "refer", "--file", str(document), "--as", "coord", "--json")
    assert referred.exit_code == 0, referred.stderr
    reference = referred.json()["case"]
    clock.advance(STEP)
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(safest(app)))
    point = ("--point", "initial_contact", "--answers", str(answers))
    assessed = invoke(app, "assess", reference, *point, "--as", "cw1")
    assert assessed.exit_code == 0, assessed.stderr
    clock.advance(STEP)
    item = a_suggestion(app, reference)
    assert invoke(app, "plan", "accept", reference, item, "--as", "cw1").exit_code == 0
    clock.advance(STEP)
    finalized = invoke(app, "plan", "finalize", reference, "--accept-rest", "--as", "cw1")
    assert finalized.exit_code == 0, finalized.stderr
    return reference


def test_the_console_and_the_cli_leave_the_same_trail(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    web_audit, web_events = trail(seeded, by_console(seeded, clock))
    cli_audit, cli_events = trail(seeded, by_cli(seeded, clock, tmp_path))
    assert web_events == cli_events and "harbour.plan.finalized" in web_events
    # The one good difference: the console shows a page before each change, and a page is a
    # look, recorded as one (the case page and the plan: case.read; the assessment form: the
    # check that this person may assess at this point, which `harbour assess` records too when
    # it asks the questions itself rather than take an answers file). The CLI records the same
    # looks when someone runs the commands that show the same (`case show`, `plan show`).
    web_looks = [row for row in web_audit if row.split()[0].endswith(LOOKS)]
    assert web_looks == ["case.read ok", "case.assess.check ok", "case.read ok", "case.read ok"]
    assert [row for row in web_audit if row not in web_looks] == cli_audit
    assert cli_audit[:2] == ["case.refer ok", "case.assess ok"] and "plan.finalize ok" in cli_audit
