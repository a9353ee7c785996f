"""The assessment form over HTTP: drawn from the instrument, submitted as ``harbour assess``
submits (same rows, same audit), refusals beside their question with nothing written; at
imminent danger the alert has reached the mail server before the page answers, the page shows
who has taken it (its own status URL, polled), and each emergency step is recorded done. Each
test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Assessment, AuditEvent, Case
from harbour.demo.receivers import MAIL_DOMAIN, RouteBook, smtp_server, webhook_receiver
from harbour.domain.refs import short_form
from tests.cli.helpers import safest
from tests.notify.helpers import new_case
from tests.support import invoke
from tests.web.forming import counts
from tests.web.helpers import COMMAND_WORDS, OTHER_TWOS, client, csrf_of, notices, signed_in
from tests.web.test_console import refer_south


def opened(web: Any, case: str, point: str, csrf: str | None = None) -> Any:
    """The assessment at ``point`` as the case page's "Assess at" opens it: by a POST, so the
    point (what the youth's situation is) is in no URL."""
    data = {"csrf": csrf or csrf_of(web), "point": point, "open": "1"}
    return web.post(f"/cases/{case}/assess", data=data)


def form_of(web: Any, case: str, point: str) -> dict[str, str]:
    page = opened(web, case, point)
    assert page.status_code == 200, page.text[-500:]
    found = dict(re.findall(r'name="(csrf|idempotency_key|point)" value="([^"]+)"', page.text))
    assert set(found) == {"csrf", "idempotency_key", "point"}
    return found


def answered(app: App, **changed: str) -> dict[str, str]:
    return {f"answers.{k}": str(v) for k, v in (safest(app) | changed).items()}


def actions_of(app: App, case_id: str) -> list[str]:
    return list(
        app.run(
            lambda uow: uow.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.case_id == case_id, AuditEvent.outcome == "ok")
                .order_by(AuditEvent.seq)
            ).all()
        )
    )


def test_the_form_is_the_instrument_and_submits_as_the_cli_does(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    by_web, by_cli = new_case(seeded, "MKW"), new_case(seeded, "MKC")
    web, _ = signed_in(seeded, clock, "cw1")
    case = short_form(by_web.reference)
    chooser = web.get(f"/cases/{case}/assess")
    assert chooser.status_code == 200 and 'name="point"' in chooser.text
    fields = form_of(web, case, "initial_contact")
    page = opened(web, case, "initial_contact", fields["csrf"]).text
    for question in seeded.reference.instrument.questions.values():
        assert f'name="answers.{question.id}"' in page
        assert str(escape(question.text)) in page
    before = actions_of(seeded, by_web.id)
    done = web.post(f"/cases/{case}/assess", data=fields | answered(seeded))
    assert done.status_code == 200, done.text[-800:]
    text = done.text
    assert "Assessment recorded" in text and "<strong>low</strong>" in text
    assert "version 1 drafted" in text
    again = web.post(f"/cases/{case}/assess", data=fields | answered(seeded))
    assert "already been submitted" in again.text  # a double submit: one assessment

    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(safest(seeded)))
    cli_before = actions_of(seeded, by_cli.id)
    ref = by_cli.reference
    result = invoke(
        seeded,
        "assess",
        ref,
        "--point",
        "initial_contact",
        "--answers",
        str(answers),
        "--as",
        "cw1",
    )
    assert result.exit_code == 0, result.stderr
    web_actions = actions_of(seeded, by_web.id)[len(before) :]
    cli_actions = actions_of(seeded, by_cli.id)[len(cli_before) :]
    assert web_actions[0] == cli_actions[0] == "case.assess"

    def shape(case_id: str) -> tuple[Any, ...]:
        def work(uow: Any) -> tuple[Any, ...]:
            rows = uow.session.scalars(
                select(Assessment).where(
                    Assessment.case_id == case_id, Assessment.status == "completed"
                )
            ).all()
            c = uow.session.get_one(Case, case_id)
            return (
                tuple((a.point, uow.unseal(a, "answers"), a.computed_level) for a in rows),
                c.status,
                c.risk_level,
            )

        return seeded.run(work)

    assert shape(by_web.id) == shape(by_cli.id)


BAD: list[tuple[dict[str, str], str, str]] = [
    ({"answers.immediate_danger": ""}, "answers.immediate_danger", "required"),
    ({"answers.immediate_danger": "maybe"}, "answers.immediate_danger", "yes or no"),
    ({"answers.network_reach": "9"}, "answers.network_reach", "whole number"),
    ({"answers.network_reach": "\x00"}, "answers.network_reach", ""),
    *(
        ({"answers.network_reach": two}, "answers.network_reach", "whole number")
        for two in OTHER_TWOS
    ),
]


@pytest.mark.parametrize(("changed", "field", "says"), BAD)
def test_bad_answers_are_refused_beside_their_question_and_write_nothing(
    seeded: App, clock: FixedClock, changed: dict[str, str], field: str, says: str
) -> None:
    case = short_form(new_case(seeded).reference)
    web, _ = signed_in(seeded, clock, "cw1")
    fields = form_of(web, case, "initial_contact")
    before = counts(seeded)
    answer = web.post(f"/cases/{case}/assess", data=fields | answered(seeded) | changed)
    assert answer.status_code == 400, answer.text[-500:]
    fid = "f-" + field.replace(".", "-")
    error = re.search(rf'<span class="error" id="{fid}-error">([^<]+)</span>', answer.text)
    assert error and says in error.group(1), answer.text[-1500:]
    assert 'value="yes" checked' in answer.text or 'value="no" checked' in answer.text  # kept
    assert counts(seeded) == before


def test_text_too_long_an_unknown_point_another_agencys_case_and_a_closed_point(
    seeded: App, clock: FixedClock
) -> None:
    case = short_form(new_case(seeded).reference)
    web, _ = signed_in(seeded, clock, "cw1")
    fields = form_of(web, case, "initial_contact")
    text_ids = [q.id for q in seeded.reference.instrument.questions.values() if q.type == "text"]
    before = counts(seeded)
    long = web.post(
        f"/cases/{case}/assess",
        data=fields | answered(seeded) | {f"answers.{text_ids[0]}": "x" * 1_000_000},
    )
    assert long.status_code == 400 and f"f-answers-{text_ids[0]}-error" in long.text
    bad_point = web.post(
        f"/cases/{case}/assess", data=fields | answered(seeded) | {"point": "moon"}
    )
    assert bad_point.status_code == 400
    moon = opened(web, case, "moon", fields["csrf"])
    assert moon.status_code == 400
    for page in (bad_point, moon):  # it said "--point: one of: initial_contact, ..."
        said = re.sub(r"<[^>]+>", " ", page.text.split("<main", 1)[1])
        assert "“Assess at”" in said and not COMMAND_WORDS.search(said), said
    # A discharge assessment of a case not yet worked with: the case's state refuses it.
    assert opened(web, case, "follow_up", fields["csrf"]).status_code == 409
    theirs = short_form(refer_south(seeded).reference)
    before = counts(seeded)
    assert opened(web, theirs, "initial_contact", fields["csrf"]).status_code == 404
    refused = web.post(f"/cases/{theirs}/assess", data=fields | answered(seeded))
    assert refused.status_code == 404
    assert counts(seeded) == before


def test_immediate_danger_alerts_before_the_page_answers_and_the_steps_are_recorded(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    case_row = new_case(seeded)
    case = short_form(case_row.reference)
    web, _ = signed_in(seeded, clock, "cw1")
    with smtp_server() as smtp, webhook_receiver() as receiver:
        book = RouteBook(tmp_path / "apprise.yaml", smtp, receiver).email("sup").email("cw1")
        app = App(seeded.settings.model_copy(update={"apprise_config": book.path}), clock)
        routed = client(app)  # the same session, on a console whose alerts go out by mail
        routed.cookies.update(web.cookies)
        fields = form_of(routed, case, "incident")
        page = routed.post(
            f"/cases/{case}/assess", data=fields | answered(app, immediate_danger="yes")
        )
        mails = smtp.to(f"sup@{MAIL_DOMAIN}")  # read as soon as the page answered
        app.dispose()
    assert page.status_code == 200, page.text[-800:]
    assert "Imminent danger" in page.text and "Emergency protocol" in page.text
    assert "were alerted before this page opened" in page.text
    assert "Nobody was paged" not in page.text
    alert_id = re.search(r'data-poll="/alerts/([0-9a-f]+)/status"', page.text)
    assert alert_id, page.text
    assert any(alert_id.group(1) in mail.text for mail in mails)
    assert '<script src="/static/poll.js" defer></script>' in page.text
    assert "Not taken yet" in page.text

    status = f"/alerts/{alert_id.group(1)}/status"
    assert "Not taken yet" in web.get(status).text
    sup, _ = signed_in(seeded, clock, "sup")
    took = sup.post(f"/alerts/{alert_id.group(1)}/ack", data={"csrf": csrf_of(sup)})
    assert took.status_code == 303
    fresh = web.get(status).text
    assert "Taken by sup" in fresh and "data-poll" not in fresh  # the polling stops

    steps = re.findall(rf'action="/cases/{case}/steps/([A-Za-z0-9_.:-]+)/done"', page.text)
    assert steps
    back = f"/cases/{case}/emergency?alert={alert_id.group(1)}"
    csrf = csrf_of(web, back)
    for key in steps:
        marked = web.post(f"/cases/{case}/steps/{key}/done", data={"csrf": csrf, "back": back})
        assert marked.status_code == 303 and marked.headers["location"] == back
    emergency = web.get(back).text
    assert emergency.count('<span class="done">done</span>') == len(steps)
    assert "Taken by sup" in emergency
    assert actions_of(seeded, case_row.id).count("plan.step.done") == len(steps)
    evil = web.post(
        f"/cases/{case}/steps/{steps[0]}/undo", data={"csrf": csrf, "back": "https://evil.test/"}
    )
    assert evil.headers["location"] == f"/cases/{case}"
    assert (
        web.post(f"/cases/{case}/steps/{steps[0]}/explode", data={"csrf": csrf}).status_code == 404
    )
    assert client(seeded).get(status).status_code == 303  # signed out: to sign-in


def test_an_imminent_alert_that_reached_nobody_says_so_rather_than_that_people_were_alerted(
    seeded: App, clock: FixedClock
) -> None:
    """With no route at all the page must not claim the supervisor and on-call were alerted:
    it says nobody was paged and what to do, as ``harbour assess`` does (exit 3)."""
    case = short_form(new_case(seeded).reference)
    web, _ = signed_in(seeded, clock, "cw1")
    fields = form_of(web, case, "incident")
    page = web.post(f"/cases/{case}/assess", data=fields | answered(seeded, immediate_danger="yes"))
    assert page.status_code == 200, page.text[-800:]
    assert "Emergency protocol" in page.text
    shown = " ".join(page.text.split())  # as a browser shows it
    assert "the supervisor sees it on the case. They are on plan version " in shown
    assert "Nobody was paged" in page.text
    assert "Call the on-call staff and a supervisor yourself now" in page.text
    said = notices(page.text)  # it named `harbour notify check` for what is missing
    assert "tell a supervisor or an admin" in said and not COMMAND_WORDS.search(said), said
    assert "were alerted before this page opened" not in page.text
    assert ", raised 0 min ago." in shown and "sent 0 min ago" not in shown  # not sent to anyone


def test_the_return_screening_of_a_discharged_case_is_taken_on_the_console(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    # The youth of a discharged case came back from being missing: the console's assess page
    # refused the return screening (just_left) its return had opened (409), as the CLI did.
    from tests.cli.helpers import answers_file, ok, referred_case

    ref = referred_case(seeded, tmp_path)
    safe = answers_file(seeded, tmp_path, "safe")
    for point in ("initial_contact", "discharge"):
        ok(seeded, "assess", ref, "--point", point, "--answers", safe, "--as", "cw1")
    ok(seeded, "plan", "finalize", ref, "--leave-out-rest", "--as", "cw1")
    ok(seeded, "discharge", ref, "--as", "cw1")
    case = short_form(ref)
    web, _ = signed_in(seeded, clock, "cw1")
    assert opened(web, case, "just_left").status_code == 409  # not yet
    ok(seeded, "missing", ref, "--since", (clock.now() - timedelta(hours=5)).isoformat(),
       "--as", "cw1")  # fmt: skip
    ok(seeded, "returned", ref, "--at", clock.now().isoformat(), "--as", "cw1")
    fields = form_of(web, case, "just_left")
    done = web.post(f"/cases/{case}/assess", data=fields | answered(seeded, situation="just_left"))
    assert done.status_code == 200 and "Assessment recorded" in done.text, done.text[-800:]
    assert ok(seeded, "case", "show", ref, "--as", "cw1")["status"] == "discharged"
