"""An imminent alert that reached nobody (issue 13, item 10): the assessment is recorded all the
same, and the command says plainly that nobody was paged and what to do, names on stderr whom the
alert did not reach and how to fix it (no content), and exits 3 (``nobody_paged``), apart from a
refusal's 1 and bad input's 2. A store with no routes file at all counts: an alert that waits in
the outbox has paged nobody. Reached means one of its pages was sent."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Assessment, Case, MissingEpisode
from harbour.demo.receivers import RouteBook
from harbour.domain.vocab import Lane, OutboxStatus
from tests.cli.helpers import answers_file, referred_case
from tests.notify.helpers import rows
from tests.support import CliResult, invoke

MARK = "UNROUTED"


def _assess_imminent(app: App, tmp_path: Path, *extra: str) -> tuple[str, CliResult]:
    ref = referred_case(app, tmp_path, MARK)
    danger = answers_file(app, tmp_path, "danger", immediate_danger="yes")
    args = ("assess", ref, "--point", "incident", "--answers", danger, "--as", "cw1", *extra)
    return ref, invoke(app, *args)


def _assert_no_content(stderr: str, ref: str) -> None:
    assert MARK not in stderr and ref[:8] not in stderr
    assert "URGENT" not in stderr and "acknowledge" not in stderr


def _assert_loud_and_kept(app: App, ref: str, result: CliResult) -> None:
    """Nobody paged: exit 3, said plainly with what to do, and the assessment kept."""
    assert result.exit_code == 3, result
    assert "NOBODY WAS PAGED" in result.stdout and "raised for on-call" not in result.stdout
    assert "Call the on-call staff and a supervisor yourself now" in result.stdout
    assert "harbour notify check" in result.stdout and "harbour ack" in result.stdout
    assert "error: nobody_paged:" in result.stderr and "assessment is recorded" in result.stderr
    with app.engine.connect() as conn:
        case = conn.execute(select(Case).where(Case.reference == ref)).one()
        points = conn.scalars(select(Assessment.point).where(Assessment.case_id == case.id))
        assert case.risk_level == "imminent" and "incident" in list(points)


def test_no_routes_file_is_loud_names_the_recipients_and_keeps_the_assessment(
    seeded: App, tmp_path: Path
) -> None:
    ref, result = _assess_imminent(seeded, tmp_path)
    _assert_loud_and_kept(seeded, ref, result)
    urgent = rows(seeded, lane=Lane.URGENT)
    assert urgent and {r.status for r in urgent} == {OutboxStatus.PENDING}
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "no notification routes are configured" in warning
    for tag in {r.recipient for r in urgent}:
        assert tag in warning
    assert "HARBOUR_APPRISE_CONFIG" in warning and "harbour notify check --as ADMIN" in warning
    # routes come from staff records first: the fix names them, not only the routes file
    assert "harbour staff contact" in warning and "harbour agency delivery" in warning
    _assert_no_content(result.stderr, ref)


def test_no_route_for_a_recipient_is_loud_naming_that_tag(
    napp: App, routes: RouteBook, tmp_path: Path
) -> None:
    routes.chat("adm")  # a routes file, but no route for anyone tier 0 pages
    ref, result = _assess_imminent(napp, tmp_path)
    _assert_loud_and_kept(napp, ref, result)
    urgent = rows(napp, lane=Lane.URGENT)
    assert urgent and {r.last_error for r in urgent} == {"no_route"}
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "no route has these tags" in warning
    for tag in {r.recipient for r in urgent}:
        assert tag in warning
    assert "adm" not in warning.split(":")[1]
    assert "harbour notify check --as ADMIN" in warning
    _assert_no_content(result.stderr, ref)


def test_a_route_that_fails_is_loud_too(napp: App, routes: RouteBook, tmp_path: Path) -> None:
    routes.email("sup", port=1)  # the only route tier 0 has: nothing listens there
    ref, result = _assess_imminent(napp, tmp_path, "--json")
    assert result.exit_code == 3, result
    shown = json.loads(result.stdout)
    assert shown["paged"] is False and shown["risk_level"] == "imminent" and shown["alert"]
    error = json.loads(result.stderr.splitlines()[-1])
    assert error["error"] == "nobody_paged"
    assert {r.status for r in rows(napp, lane=Lane.URGENT)} <= {OutboxStatus.PENDING}
    # Named on stderr as the unrouted are, with the channel that failed and how to test it.
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "not sent to sup by email: the send failed; it is tried again" in warning
    assert "harbour notify test --to TAG" in warning
    _assert_no_content(result.stderr, ref)
    # And `harbour notify check` lists the alert until one of its pages is sent.
    check = invoke(napp, "notify", "check", "--as", "sup", "--json")
    assert check.exit_code == 2 and "nobody_to_page" in check.stderr
    [stuck] = check.json()["alerts_paging_nobody"]
    assert stuck["alert"] == shown["alert"] and stuck["why"] == "sends_failed"
    text = invoke(napp, "notify", "check", "--as", "sup").stdout
    assert f"alert {shown['alert']} (imminent_threat, " in text and "every send failed" in text


def test_routed_alert_pages_and_says_so(napp: App, routes: RouteBook, tmp_path: Path) -> None:
    routes.chat("sup").chat("cw1").chat("cw2").chat("adm")
    _, result = _assess_imminent(napp, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "raised for on-call staff and supervisors" in result.stdout
    assert "NOBODY" not in result.stdout
    urgent = rows(napp, lane=Lane.URGENT)
    assert urgent and {r.status for r in urgent} == {OutboxStatus.SENT}
    assert "warning:" not in result.stderr


def test_a_missing_youth_whose_deadline_passed_alert_reached_nobody_is_loud(
    seeded: App, tmp_path: Path, clock: FixedClock
) -> None:
    """Last seen 30 hours ago: the reporting deadline has passed and its alert goes at once on
    the urgent lane. With no routes it paged nobody: said plainly, exit 3, the episode kept."""
    ref = referred_case(seeded, tmp_path, MARK)
    since = (clock.now() - timedelta(hours=30)).isoformat()
    result = invoke(seeded, "missing", ref, "--since", since, "--as", "cw1")
    assert result.exit_code == 3, result
    assert "NOBODY WAS PAGED" in result.stdout and "Call the on-call staff" in result.stdout
    assert "error: nobody_paged:" in result.stderr and "recorded missing" in result.stderr
    _assert_no_content(result.stderr, ref)
    shown = invoke(seeded, "missing", ref, "--since", since, "--as", "cw1", "--json")
    assert shown.exit_code == 1  # already missing: refused, nothing new
    with seeded.engine.connect() as conn:
        episodes = conn.scalar(select(func.count()).select_from(MissingEpisode))
    assert episodes == 1


def test_a_missing_youth_whose_alert_was_sent_is_told_as_raised(
    napp: App, mail: RouteBook, tmp_path: Path, clock: FixedClock
) -> None:
    ref = referred_case(napp, tmp_path, MARK)
    since = (clock.now() - timedelta(hours=30)).isoformat()
    result = invoke(napp, "missing", ref, "--since", since, "--as", "cw1", "--json")
    assert result.exit_code == 0, result
    assert result.json()["unpaged_alerts"] == []
    text = invoke(napp, "missing-step", ref, "ncmec", "--as", "cw1").stdout
    assert "NOBODY" not in text
