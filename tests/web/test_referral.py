"""The referral form over HTTP: what the CLI's referral file holds, posted as a form, makes the
same case; twice with the form's key makes one; every refusal says why beside its field, keeps
what was typed in the page only, and writes nothing. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from harbour.app import App
from harbour.cases import intake
from harbour.cases.reads import show_case
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, Case
from tests.support import invoke, referral
from tests.web.forming import counts, flat
from tests.web.helpers import (
    COMMAND_WORDS,
    OTHER_TWOS,
    autofocused,
    csrf_of,
    refusals,
    signed_in,
)

MARKER = "MKREF"


def form_of(web: object) -> tuple[str, str]:
    page = web.get("/refer")  # type: ignore[attr-defined]
    assert page.status_code == 200, page.text[-500:]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page.text)
    assert csrf and key
    return csrf.group(1), key.group(1)


def case_actions(app: App, case_id: str) -> list[str]:
    return list(
        app.run(
            lambda uow: uow.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.case_id == case_id)
                .order_by(AuditEvent.seq)
            ).all()
        )
    )


def case_of(app: App, short: str) -> Case:
    return app.run(
        lambda uow: uow.session.scalars(select(Case).where(Case.reference.startswith(short))).one()
    )


def test_a_referral_through_the_form_is_the_cases_the_cli_makes(
    seeded: App, clock: FixedClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    document = referral(MARKER, caseworker="cw1")
    web, _ = signed_in(seeded, clock, "coord")
    csrf, key = form_of(web)
    fields = flat(document) | {"csrf": csrf, "idempotency_key": key}
    fields["trusted_contacts.0.approved_by_youth"] = "on"  # the form's row starts checked
    posted = web.post("/refer", data=fields | {"persons_at_risk": ["youth", "family"]})
    assert posted.status_code == 303, posted.text[-800:]
    where = posted.headers["location"]
    assert re.fullmatch(r"/cases/HB-[0-9A-Z]+-[0-9A-Z]+", where) and MARKER not in where
    again = web.post("/refer", data=fields | {"persons_at_risk": ["youth", "family"]})
    assert again.headers["location"] == where  # a double submit: one case

    page = web.get(where)
    assert page.status_code == 200 and "case referred" in page.text and MARKER not in page.text
    made = case_of(seeded, where.removeprefix("/cases/"))

    path = tmp_path / "referral.json"
    path.write_text(json.dumps(document))
    # The same youth through the command, as the other case of this youth it is.
    cli = invoke(
        seeded, "refer", "--file", str(path), "--allow-duplicate", "--as", "coord", "--json"
    )
    assert cli.exit_code == 0, cli.stderr
    by_cli = case_of(seeded, cli.json()["case"][:12])
    web_case = show_case(seeded, "sup", made.reference).as_json()
    cli_case = show_case(seeded, "sup", by_cli.reference).as_json()
    for shown in (web_case, cli_case):
        shown.pop("case")
        for entry in shown["people"] + shown["threats"]:
            entry.pop("person", None)
            entry.pop("threat", None)
    assert web_case == cli_case
    web_actions = case_actions(seeded, made.id)
    assert web_actions[:2] == ["case.refer", "case.refer.replayed"]
    assert case_actions(seeded, by_cli.id)[0] == "case.refer"
    assert MARKER not in caplog.text


def test_the_same_youth_again_is_refused_until_staff_say_it_is_another(
    seeded: App, clock: FixedClock
) -> None:
    document = referral(MARKER, caseworker="cw1")
    intake_case = intake.refer(seeded, "coord", document, None)
    pending = update(Case).where(Case.id == intake_case.id).values(status="discharge_pending")
    seeded.run(lambda uow: uow.session.execute(pending))
    web, _ = signed_in(seeded, clock, "coord")
    csrf, key = form_of(web)
    fields = flat(document) | {"csrf": csrf, "idempotency_key": key}
    refused = web.post("/refer", data=fields | {"persons_at_risk": ["youth"]})
    assert refused.status_code == 400 and intake_case.reference in refused.text
    assert 'name="allow_duplicate"' in refused.text
    said = refusals(refused.text)  # its status was said by its key, "discharge_pending"
    assert f"{intake_case.reference} (discharge pending)" in said, said
    assert "“This is a different youth: refer anyway”" in said, said
    assert not COMMAND_WORDS.search(said), said
    made = web.post("/refer", data=fields | {"persons_at_risk": ["youth"], "allow_duplicate": "on"})
    assert made.status_code == 303 and made.headers["location"] != f"/cases/{intake_case.reference}"


def test_a_refused_referral_takes_the_focus_to_its_error_summary(
    seeded: App, clock: FixedClock
) -> None:
    """The page a refusal answers with focuses its summary (no script: the console's policy
    allows none inline), so a screen reader says at once that the form was refused; a form as
    first shown takes no focus. Found by review: focus stayed at the top of the page."""
    web, _ = signed_in(seeded, clock, "coord")
    assert autofocused(web.get("/refer").text) == []
    csrf, key = form_of(web)
    refused = web.post("/refer", data={"csrf": csrf, "idempotency_key": key})
    assert refused.status_code == 400
    [summary] = autofocused(refused.text)
    assert 'class="error-summary"' in summary and 'tabindex="-1"' in summary, summary


def test_what_staff_type_is_kept_from_the_browsers_spell_check(
    seeded: App, clock: FixedClock
) -> None:
    """Every free-text field of the referral form (the youth's name, address, notes, the threat
    sources) says spellcheck="false": an enhanced spell check (Chrome's, Edge's) sends what is
    typed to its vendor to check it. And autocomplete="off": nothing typed kept for later."""
    web, _ = signed_in(seeded, clock, "coord")
    page = web.get("/refer").text
    typed_in = re.findall(
        r"<textarea[^>]*>|<input(?![^>]*type=\"(?:hidden|checkbox|radio))[^>]*>", page
    )
    assert len(typed_in) > 10
    for field in typed_in:
        assert 'spellcheck="false"' in field and 'autocomplete="off"' in field, field


def test_a_coordinator_form_without_a_caseworker_or_extra_rows(
    seeded: App, clock: FixedClock
) -> None:
    web, _ = signed_in(seeded, clock, "coord")
    csrf, key = form_of(web)
    minimal = {
        "csrf": csrf,
        "idempotency_key": key,
        "youth.name": "MKMIN",
        "situation": "in_situation",
    }
    # A row numbered in other digits than 0-9 is no row, as one numbered "x" is none.
    stray = {f"family.{two}.name": "MKSTRAY" for two in OTHER_TWOS}
    more = web.post("/refer", data=minimal | {"more": "1", "family.0.name": "MKAUNT"} | stray)
    assert more.status_code == 200 and 'name="family.1.name"' in more.text
    assert 'name="family.3.name"' not in more.text and "MKSTRAY" not in more.text
    assert 'value="MKAUNT"' in more.text and 'value="MKMIN"' in more.text  # kept
    assert counts(seeded)["cases"] == 0
    done = web.post("/refer", data=minimal | {"trusted_contacts.0.approved_by_youth": "on"} | stray)
    assert done.status_code == 303
    assert counts(seeded)["people"] == 1  # an untouched row is no one


BAD = [
    ({"youth.name": ""}, "youth.name", "required"),
    ({"situation": "on_the_moon"}, "situation", ""),
    ({"youth.name": "x" * 1_000_000}, "youth.name", ""),
    ({"youth.name": "MK\x00NUL"}, "youth.name", ""),
    ({"youth.date_of_birth": "not a date"}, "youth.date_of_birth", ""),
    ({"youth.date_of_birth": "2999-01-01"}, "youth.date_of_birth", ""),
    ({"caseworker": "cw3"}, "caseworker", "no active caseworker"),  # another agency's
    ({"family.0.relationship": "aunt"}, "family.0.name", "required"),
    ({"threats.0.kind": "dragon"}, "threats.0.kind", ""),
    (
        {"threats.0.kind": "trafficker", "threats.0.protective_order_expires_on": "1066-10-14"},
        "threats.0.protective_order_expires_on",
        "",
    ),
    (  # an expiry without the order ticked: shown, yet never reminded of
        {"threats.0.kind": "trafficker", "threats.0.protective_order_expires_on": "2027-01-31"},
        "threats.0.protective_order_expires_on",
        "describes a protective order",
    ),
]


@pytest.mark.parametrize(("changed", "field", "says"), BAD)
def test_bad_input_is_refused_beside_its_field_and_writes_nothing(
    seeded: App,
    clock: FixedClock,
    changed: dict[str, str],
    field: str,
    says: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    web, _ = signed_in(seeded, clock, "coord")
    csrf, key = form_of(web)
    good = {
        "csrf": csrf,
        "idempotency_key": key,
        "youth.name": "MKKEPT",
        "youth.preferred_name": "MKPREF",
        "situation": "just_left",
    }
    before = counts(seeded)
    answer = web.post("/refer", data=good | changed)
    assert answer.status_code == 400, answer.text[-500:]
    fid = "f-" + field.replace(".", "-")
    error = re.search(rf'<span class="error" id="{fid}-error">([^<]+)</span>', answer.text)
    assert error, answer.text[-2000:]
    assert says in error.group(1)
    assert f'id="{fid}"' in answer.text and re.search(
        rf'aria-describedby="[^"]*{fid}-error"', answer.text
    )
    assert 'value="MKPREF"' in answer.text  # what was typed is kept, in the page
    assert counts(seeded) == before
    assert "MKPREF" not in caplog.text and "MKKEPT" not in caplog.text


def test_a_rows_refusal_is_said_in_the_forms_words(seeded: App, clock: FixedClock) -> None:
    # Beside the date: "describes a protective order: say threats.0.protective_order: true too",
    # the file's key; and the summary at the top named each row's field as the file does.
    web, _ = signed_in(seeded, clock, "coord")
    csrf, key = form_of(web)
    document = flat(referral(MARKER, caseworker="cw1")) | {"csrf": csrf, "idempotency_key": key}
    before = counts(seeded)
    for left_out, field, label, says in (
        (
            "threats.0.protective_order",
            "threats.0.protective_order_expires_on",
            "Threat sources, row 1, Order expires on",
            "describes a protective order: tick “There is a protective order” too",
        ),
        (
            "family.0.relationship",
            "family.0.relationship",
            "Family members and caretakers, row 1, Relationship",
            "is required",
        ),
    ):
        answer = web.post("/refer", data={k: v for k, v in document.items() if k != left_out})
        assert answer.status_code == 400, answer.text[-800:]
        fid = "f-" + field.replace(".", "-")
        beside = re.search(rf'id="{fid}-error">([^<]+)<', answer.text)
        assert beside and beside.group(1) == says, answer.text[-3000:]
        summary = re.search(r'<div class="error-summary".*?</div>', answer.text, re.S)
        assert summary, answer.text[-3000:]
        said = " ".join(re.sub(r"<[^>]+>", "", summary.group(0)).split())
        assert f"{label}: {says}" in said and field not in said, said
    assert counts(seeded) == before


def test_only_those_who_refer_see_the_form_and_a_forged_post_writes_nothing(
    seeded: App, clock: FixedClock
) -> None:
    web, _ = signed_in(seeded, clock, "cw1")
    coord, _ = signed_in(seeded, clock, "coord")
    assert 'href="/refer"' not in web.get("/").text
    csrf = csrf_of(web)
    before = counts(seeded)
    refused = web.post("/refer", data={"csrf": csrf, "youth.name": "MKX", "situation": "just_left"})
    assert refused.status_code == 403
    forged = coord.post(
        "/refer", data={"csrf": "forged", "youth.name": "MKX", "situation": "just_left"}
    )
    assert forged.status_code == 403
    assert counts(seeded) == before
