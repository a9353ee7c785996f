"""The whole lifecycle under Prefect with a marker in every identifying field and one injected
task failure quoting one: Prefect's database, its home folder, the logs, the captured output
and every notification received hold none of it. Safety in the field too: a visit's place and a
missing episode's report numbers, typed at the command line (from files) and in the console's
forms, with the visit's overdue alert and the episode's events going through Prefect."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import pickle
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from prefect.events import emit_event
from sqlalchemy import select

from flows import lifecycle, publisher
from flows.local_server import drain_clients
from flows.relay import deliver_notifications
from flows.sweep import reassessment_sweep
from flows.tasks import StepFailed
from harbour.app import App, UnitOfWork
from harbour.clock import FixedClock
from harbour.db.models import Agency, Alert
from harbour.demo.receivers import RouteBook
from harbour.documents import render
from tests.cli.helpers import safest
from tests.flows.conftest import PrefectServer
from tests.flows.scan import database_hits, folder_hits, hits_in, settled
from tests.orchestration.helpers import assess, case_by_reference, refer
from tests.support import given, invoke

M = "Zq7canary"  # every identifying field starts with it


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: Prefect is handed the same ids whichever database Harbour keeps."""
    target = tmp_path / "harbour.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


def _answers(app: App, folder: Path, name: str, **changed: object) -> str:
    path = folder / f"{name}.json"
    free = {"youth_worries": f"{M}worries", "staff_notes": f"{M}staffnotes"}
    path.write_text(json.dumps(safest(app) | free | changed))
    return str(path)


def _publish(app: App) -> None:
    asyncio.run(publisher.publish_all(app))


def _lifecycle(app: App, folder: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> str:
    """Referral to the second follow-up, as the triggers would run it; the case id."""
    _mark_agencies(app)
    case = refer(app, folder, M)
    _publish(app)
    lifecycle.initial_contact(case.id)
    imminent = assess(
        app, case.reference, "initial_contact", _answers(app, folder, "i", immediate_danger="yes")
    )

    def leaky(*args: object, **kwargs: object) -> str:
        raise ValueError(f"template failed near {M}youthname")  # as a library might say

    monkeypatch.setattr(render, "render_copies", leaky)
    with pytest.raises(StepFailed):
        lifecycle.safety_assessment(imminent["assessment"])
    monkeypatch.undo()
    lifecycle.safety_assessment(imminent["assessment"])
    _acknowledge(app)
    invoke(
        app,
        "override",
        case.reference,
        "--level",
        "high",
        "--reason",
        given(f"{M}reason"),
        "--as",
        "sup",
    )
    meeting = assess(app, case.reference, "planning_meeting", _answers(app, folder, "m"))
    lifecycle.planning_meeting(meeting["assessment"])
    leaving = assess(app, case.reference, "discharge", _answers(app, folder, "d"))
    invoke(app, "plan", "finalize", case.reference, "--leave-out-rest", "--as", "cw1")
    lifecycle.discharge(leaving["assessment"])
    for number in range(2):
        clock.set(case_by_reference(app, case.reference).next_due_at)  # type: ignore[arg-type]
        follow = assess(app, case.reference, "follow_up", _answers(app, folder, f"f{number}"))
        lifecycle.follow_up(follow["assessment"])
    _in_the_field(app, case.reference, clock)
    reassessment_sweep()
    deliver_notifications()
    _publish(app)
    return case.id


def _in_the_field(app: App, reference: str, clock: FixedClock) -> None:
    """A visit's place and report numbers, from the CLI and from the console's pages; the
    visit not back in time (its alert raised and sent by the relay flow), the youth missing
    and back (the episode's events published)."""
    from datetime import timedelta

    from tests.web.helpers import csrf_of

    back = (clock.now() + timedelta(hours=1)).isoformat()
    place = given(f"{M}visitplace")
    done = invoke(app, "visit", "start", "--back-at", back, "--where", place, "--as", "cw1")
    assert done.exit_code == 0, done.stderr
    since = (clock.now() - timedelta(hours=1)).isoformat()
    assert invoke(app, "missing", reference, "--since", since, "--as", "cw1").exit_code == 0
    number = given(f"{M}reportnumber")
    step = ("missing-step", reference, "law_enforcement", "--report-number", number)
    assert invoke(app, *step, "--as", "cw1").exit_code == 0

    web = _signed_in(app, "cw2")
    csrf = csrf_of(web, "/visits")
    form = {"csrf": csrf, "where": f"{M}webvisitplace", "back_at": back, "buddy": "sup"}
    assert web.post("/visits", data=form).status_code == 303
    sup = _signed_in(app, "sup")
    page = f"/cases/{reference[:12]}/missing"
    form = {"csrf": csrf_of(sup, page), "step": "ncmec", "report_number": f"{M}webnumber"}
    assert sup.post(f"{page}/step", data=form).status_code == 303
    refused = sup.post(f"{page}/step", data=form | {"step": "supervisor_told"})
    assert refused.status_code == 400  # a number for a step that has none: never shown back

    clock.advance(timedelta(hours=2))  # neither visitor is back: both alerts go out
    assert deliver_notifications() >= 2
    at = clock.now().isoformat()
    assert invoke(app, "returned", reference, "--at", at, "--as", "cw1").exit_code == 0
    assert invoke(app, "visit", "back", "--as", "cw1").exit_code == 0


def _signed_in(app: App, handle: str) -> Any:
    """A console session for ``handle`` (staff here have routes of their own, so enrolment
    links go there, not to the test): the session a sign-in would have started."""
    from harbour.auth import sessions
    from harbour.db.models import Staff
    from harbour.web import cookies
    from tests.web.helpers import client

    def work(uow: UnitOfWork) -> str:
        staff = uow.session.scalars(select(Staff).where(Staff.handle == handle)).one()
        return sessions.start(uow, staff)[0]

    web = client(app)
    web.cookies.set(cookies.name(app.settings, cookies.SESSION), app.run(work))
    return web


def _mark_agencies(app: App) -> None:
    """The agency's address and direct number are confidential too (rule 1)."""

    def work(uow: UnitOfWork) -> None:
        for agency in uow.session.scalars(select(Agency)):
            uow.seal(agency, "address", f"{M}agencyaddress")
            uow.seal(agency, "phone", f"{M}agencyphone")

    app.run(work)


def _acknowledge(app: App) -> None:
    with app.sessions() as session:
        alert_id = session.scalars(select(Alert.id)).first()
    assert alert_id is not None
    assert invoke(app, "ack", alert_id, "--as", "sup").exit_code == 0


def test_nothing_identifying_reaches_prefect(
    flow_app: App,
    prefect_server: PrefectServer,
    mail: RouteBook,
    tmp_path: Path,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        _lifecycle(flow_app, tmp_path / "in", clock, monkeypatch) if (
            tmp_path / "in"
        ).mkdir() is None else None
        # Prefect's logs and events sent, then written (the server writes in batches) before
        # its database is searched: an event sent last, and then three intervals with no write.
        last = f"harbour.test.canary-sent-last.{uuid.uuid4().hex}"
        emit_event(event="harbour.test.sent-last", resource={"prefect.resource.id": last})
        drain_clients()
        settled(prefect_server.database, last, quiet=3 * prefect_server.flush_seconds)
    out, err = capfd.readouterr()
    assert "step_failed" in out + err + caplog.text  # the failure did reach Prefect, as a code
    assert database_hits(prefect_server.database, M) == []
    assert folder_hits(prefect_server.home, M) == []
    assert M.lower() not in (out + err + caplog.text).lower()
    mails = mail.smtp.received
    assert mails and all(M.lower() not in (m.subject + m.text).lower() for m in mails)
    assert all(M not in json.dumps(body) for _, body in mail.receiver.received)
    store = sorted(tmp_path.glob("harbour.db*"))  # Harbour's own file and its WAL: sealed only
    assert store and [p.name for p in store if hits_in(p.read_bytes(), M.encode())] == []


def test_the_search_finds_a_marker_however_it_is_wrapped(tmp_path: Path) -> None:
    wrapped = base64.b64encode(pickle.dumps(ValueError(f"{M}youthname")))
    (tmp_path / "blob").write_bytes(b'{"data": "' + wrapped + b'"}')
    assert hits_in(wrapped, M.encode()) and folder_hits(tmp_path, M)
