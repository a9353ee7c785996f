"""An imminent threat at the command line: the protocol in words, the alert id, `harbour alerts`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from harbour.app import App
from harbour.clock import FixedClock
from tests.cli.helpers import answers_file, ok, referred_case
from tests.support import invoke


def test_assess_names_the_protocol_and_the_alert_to_acknowledge(
    seeded: App, tmp_path: Path
) -> None:
    ref = referred_case(seeded, tmp_path)
    danger = answers_file(seeded, tmp_path, "danger", immediate_danger="yes")
    result = invoke(
        seeded, "assess", ref, "--point", "incident", "--answers", danger, "--as", "cw1"
    )
    assert result.exit_code == 3, result.stderr  # recorded; no routes here, so nobody paged
    assert "Arrange emergency shelter" in result.stdout  # the step in words, not only its code
    assert "[emergency.shelter]" in result.stdout
    [alert] = ok(seeded, "alerts", "--as", "sup")
    assert f"harbour ack {alert['alert'][:12]}" in result.stdout
    assert (alert["case"], alert["kind"], alert["tier"]) == (ref, "imminent_threat", 0)


def test_alerts_lists_what_waits_and_drops_what_was_taken(
    seeded: App, clock: FixedClock, tmp_path: Path
) -> None:
    ref = referred_case(seeded, tmp_path)
    safe = answers_file(seeded, tmp_path, "safe")
    danger = answers_file(seeded, tmp_path, "danger", immediate_danger="yes")
    ok(seeded, "assess", ref, "--point", "initial_contact", "--answers", safe, "--as", "cw1")
    assert ok(seeded, "assess", ref, "--point", "incident", "--answers", danger, "--as", "cw1")[
        "alert"
    ]
    assert (
        ok(seeded, "assess", ref, "--point", "just_left", "--answers", safe, "--as", "cw1")["alert"]
        is None
    )
    [waiting] = ok(seeded, "alerts", "--as", "sup")
    assert "No open alerts." not in invoke(seeded, "alerts", "--as", "sup").stdout

    clock.advance(timedelta(minutes=1))
    ok(seeded, "ack", waiting["alert"][:12], "--as", "sup")
    assert ok(seeded, "alerts", "--as", "sup") == []
    assert invoke(seeded, "alerts", "--as", "sup").stdout.strip() == "No open alerts."
    [taken] = ok(seeded, "alerts", "--all", "--as", "sup")
    assert taken["acknowledged_by"] == "sup"


def test_another_agency_sees_none_of_them(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    danger = answers_file(seeded, tmp_path, "danger", immediate_danger="yes")
    ok(seeded, "assess", ref, "--point", "incident", "--answers", danger, "--as", "cw1")
    assert ok(seeded, "alerts", "--all", "--as", "sup2") == []


def test_a_caseworker_lists_the_alerts_of_their_cases_not_the_agencys(
    seeded: App, tmp_path: Path
) -> None:
    """Which cases are in danger is not every caseworker's to know: a caseworker lists the alerts
    paged to them and those of the cases assigned to them or that they cover; supervisors and
    admins every alert of the agency. The console's alerts page asks the same service."""
    from tests.support import given

    ref = referred_case(seeded, tmp_path)
    ok(seeded, "assign", ref, "cw1", "--as", "coord")
    danger = answers_file(seeded, tmp_path, "danger", immediate_danger="yes")
    ok(seeded, "assess", ref, "--point", "incident", "--answers", danger, "--as", "cw1")
    [alert] = ok(seeded, "alerts", "--as", "sup")
    assert [a["alert"] for a in ok(seeded, "alerts", "--as", "cw1")] == [alert["alert"]]
    assert [a["alert"] for a in ok(seeded, "alerts", "--as", "adm")] == [alert["alert"]]
    assert ok(seeded, "alerts", "--all", "--as", "cw2") == []
    assert invoke(seeded, "alerts", "--as", "cw2").stdout.strip() == "No open alerts."
    reason = given("covering while cw1 is away")
    assert invoke(seeded, "case", "cover", ref, "--reason", reason, "--as", "cw2").exit_code == 0
    assert [a["alert"] for a in ok(seeded, "alerts", "--as", "cw2")] == [alert["alert"]]


def test_a_page_whose_template_fails_says_so_not_that_the_send_failed(
    seeded: App, tmp_path: Path
) -> None:
    """An agency's own templates (HARBOUR_TEMPLATES_DIR) with an imminent page that does not
    render: the warning said "the send failed ... test their route", sending the operator to
    a route that works; it names the template instead."""
    import shutil

    from harbour.shipped import shipped_templates

    own = tmp_path / "templates"
    shutil.copytree(shipped_templates(), own)
    for name in ("imminent_threat.txt", "imminent_threat.html", "imminent_threat.subject.txt"):
        (own / "notifications" / name).write_text("{{ no_such_value }}\n")
    routes = tmp_path / "routes.yaml"
    routes.write_text("version: 1\nurls:\n  - json://127.0.0.1:1/hook:\n      - tag: sup, chat\n")
    routes.chmod(0o600)
    settings = seeded.settings.model_copy(update={"templates_dir": own, "apprise_config": routes})
    app = App(settings, seeded.clock)
    try:
        ref = referred_case(app, tmp_path)
        danger = answers_file(app, tmp_path, "danger", immediate_danger="yes")
        result = invoke(
            app, "assess", ref, "--point", "incident", "--answers", danger, "--as", "cw1"
        )
    finally:
        app.dispose()
    assert result.exit_code == 3, result.stderr  # recorded, and nobody paged
    assert "the send failed" not in result.stderr and "notify test" not in result.stderr
    assert "could not be rendered" in result.stderr and "HARBOUR_TEMPLATES_DIR" in result.stderr
