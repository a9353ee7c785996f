"""A command sends the urgent lane before its own follow-through (rendering the plan's
documents, the other steps): an imminent alert waits for nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbour.app import App
from harbour.demo.receivers import MAIL_DOMAIN, RouteBook
from harbour.orchestration import pipeline
from tests.cli.helpers import answers_file, referred_case
from tests.support import invoke


@pytest.mark.parametrize("mode", ["inline", "prefect"])
def test_the_alert_is_out_before_the_steps_run(
    napp: App, routes: RouteBook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    routes.email("sup").chat("sup")
    ref = referred_case(napp, tmp_path)
    seen_by_steps: list[int] = []
    real = pipeline.process_pending

    def steps(app: App) -> int:
        seen_by_steps.append(len(routes.smtp.to(f"sup@{MAIL_DOMAIN}")))
        return real(app)

    monkeypatch.setattr(pipeline, "process_pending", steps)
    napp.settings = napp.settings.model_copy(update={"orchestration": mode})
    danger = answers_file(napp, tmp_path, "danger", immediate_danger="yes")
    result = invoke(napp, "assess", ref, "--point", "incident", "--answers", danger, "--as", "cw1")
    assert result.exit_code == 0, result.stderr
    assert len(routes.smtp.to(f"sup@{MAIL_DOMAIN}")) >= 1
    assert seen_by_steps == ([1] if mode == "inline" else [])  # already there when steps began
