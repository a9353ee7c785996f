"""Run the demo against a fresh store under ``home``; every name in it is obviously fictional."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from harbour.app import App
from harbour.cases import caseload
from harbour.domain.vocab import Role
from harbour.intake import refer
from harbour.settings import load_settings
from harbour.setup import init
from harbour.staffing import add_staff

STAFF = [
    ("casey-coord", Role.COORDINATOR),
    ("wren-cw", Role.CASEWORKER),
    ("rowan-cw", Role.CASEWORKER),
    ("sam-sup", Role.SUPERVISOR),
]


def run_demo(home: Path, reset: bool, say: Callable[[str], None]) -> dict[str, object]:
    if reset and home.exists():
        shutil.rmtree(home)
    app = App(load_settings(home=home, database_url=None, key_file=None))
    init(app, "demo-agency", "demo-admin")
    for handle, role in STAFF:
        if not _exists(app, handle):
            add_staff(app, "demo-admin", handle=handle, agency="demo-agency", role=role)
    say("store ready, agency demo-agency with a coordinator, two caseworkers and a supervisor")
    case = refer(app, "casey-coord", _fictional_referral(), "demo-referral-1")
    say(f"referred a fictional youth: case {case.reference}")
    rows = caseload(app, "sam-sup")
    app.dispose()
    return {"home": str(home), "cases": [r.as_json() for r in rows]}


def _exists(app: App, handle: str) -> bool:
    from sqlalchemy import select

    from harbour.db.models import Staff

    with app.uow() as uow:
        return uow.session.scalar(select(Staff.id).where(Staff.handle == handle)) is not None


def _fictional_referral() -> dict[str, object]:
    return {
        "youth": {"name": "Demo Youth Alpha", "date_of_birth": "2009-06-15"},
        "situation": "considering_leaving",
        "threats": [{"kind": "trafficker", "name": "Fictional Person X"}],
    }
