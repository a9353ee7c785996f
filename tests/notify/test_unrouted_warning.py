"""An imminent alert nobody has a route for: the command still succeeds (the assessment is
recorded), and says on stderr whom the alert did not reach and how to fix it, with no content."""

from __future__ import annotations

from pathlib import Path

from harbour.app import App
from harbour.demo.receivers import RouteBook
from harbour.domain.vocab import Lane, OutboxStatus
from tests.cli.helpers import answers_file, referred_case
from tests.notify.helpers import rows
from tests.support import CliResult, invoke

MARK = "UNROUTED"


def _assess_imminent(app: App, tmp_path: Path) -> tuple[str, CliResult]:
    ref = referred_case(app, tmp_path, MARK)
    danger = answers_file(app, tmp_path, "danger", immediate_danger="yes")
    args = ("assess", ref, "--point", "incident", "--answers", danger, "--as", "cw1")
    return ref, invoke(app, *args)


def _assert_no_content(stderr: str, ref: str) -> None:
    assert MARK not in stderr and ref[:8] not in stderr
    assert "URGENT" not in stderr and "acknowledge" not in stderr


def test_no_routes_file_warns_naming_the_recipients_and_the_fix(
    seeded: App, tmp_path: Path
) -> None:
    ref, result = _assess_imminent(seeded, tmp_path)
    assert result.exit_code == 0, result.stderr
    urgent = rows(seeded, lane=Lane.URGENT)
    assert urgent and {r.status for r in urgent} == {OutboxStatus.PENDING}
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "no notification routes are configured" in warning
    for tag in {r.recipient for r in urgent}:
        assert tag in warning
    assert "HARBOUR_APPRISE_CONFIG" in warning and "harbour notify check --as ADMIN" in warning
    _assert_no_content(result.stderr, ref)


def test_no_route_for_a_recipient_warns_naming_that_tag(
    napp: App, routes: RouteBook, tmp_path: Path
) -> None:
    routes.chat("adm")  # a routes file, but no route for anyone tier 0 pages
    ref, result = _assess_imminent(napp, tmp_path)
    assert result.exit_code == 0, result.stderr
    urgent = rows(napp, lane=Lane.URGENT)
    assert urgent and {r.last_error for r in urgent} == {"no_route"}
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "no route has these tags" in warning
    for tag in {r.recipient for r in urgent}:
        assert tag in warning
    assert "adm" not in warning.split(":")[1]
    assert "harbour notify check --as ADMIN" in warning
    _assert_no_content(result.stderr, ref)


def test_routed_alert_warns_nothing(napp: App, routes: RouteBook, tmp_path: Path) -> None:
    routes.chat("sup").chat("cw1").chat("cw2").chat("adm")
    _, result = _assess_imminent(napp, tmp_path)
    assert result.exit_code == 0, result.stderr
    urgent = rows(napp, lane=Lane.URGENT)
    assert urgent and {r.status for r in urgent} == {OutboxStatus.SENT}
    assert "warning:" not in result.stderr
