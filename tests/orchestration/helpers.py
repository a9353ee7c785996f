"""Helpers for the orchestration tests: referrals through the CLI, the event log, modes."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from harbour.app import App
from harbour.db.models import Case, LifecycleEvent
from tests.support import invoke, recorded_unpaged, referral


def refer(app: App, folder: Path, marker: str = "MK", **extra: Any) -> Case:
    """Refer a case through the CLI as ``coord``; the committed Case row."""
    path = folder / f"referral-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(referral(marker, **extra)))
    result = invoke(app, "refer", "--file", str(path), "--as", "coord", "--json")
    assert result.exit_code == 0, result.stderr
    return case_by_reference(app, result.json()["case"])


def case_by_reference(app: App, reference: str) -> Case:
    with app.sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        return case


def lifecycle_events(app: App, name: str | None = None) -> list[LifecycleEvent]:
    with app.sessions() as session:
        query = select(LifecycleEvent).order_by(LifecycleEvent.occurred_at)
        if name is not None:
            query = query.where(LifecycleEvent.name == name)
        return list(session.scalars(query))


def in_mode(app: App, orchestration: str) -> App:
    """The same store, keys and clock with another orchestration mode."""
    settings = app.settings.model_copy(update={"orchestration": orchestration})
    return replace(app, settings=settings, keyring=app.cipher.keyring)


def assess(app: App, ref: str, point: str, answers: str, actor: str = "cw1") -> dict[str, Any]:
    """`harbour assess` through the CLI; its JSON output."""
    result = invoke(
        app, "assess", ref, "--point", point, "--answers", answers, "--as", actor, "--json"
    )
    assert result.exit_code == 0 or recorded_unpaged(result), result.stderr
    data: dict[str, Any] = result.json()
    return data


def counts(app: App) -> dict[str, int]:
    """Rows of the tables a repeated step could duplicate."""
    from sqlalchemy import func

    from harbour.db.models import Alert, Assessment, OutboxMessage, Plan, PlanDocument

    tables = (Assessment, Plan, PlanDocument, OutboxMessage, Alert, LifecycleEvent)
    with app.sessions() as session:
        return {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0
            for t in tables
        }
