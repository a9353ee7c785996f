"""What the form tests share: a referral document as the console's form posts it, and counts of
what a refused form must not have written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from harbour.app import App
from harbour.db.models import Assessment, AuditEvent, Case, LifecycleEvent, Person, Plan, PlanItem


def flat(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A referral document as form fields: ``youth.name``, ``family.0.phone``, checkboxes "on"."""
    fields: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            fields.update(flat(value, f"{name}."))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for number, row in enumerate(value):
                fields.update(flat(row, f"{name}.{number}."))
        elif isinstance(value, bool):
            if value:
                fields[name] = "on"
        elif not isinstance(value, list):
            fields[name] = str(value)
    return fields


def counts(app: App) -> dict[str, int]:
    """Rows a form could write: none of them may change when it is refused (the page shown
    again is a read, audited as one: those rows are not counted)."""
    tables = {
        "cases": Case,
        "people": Person,
        "assessments": Assessment,
        "plans": Plan,
        "items": PlanItem,
        "events": LifecycleEvent,
    }

    def work(uow: Any) -> dict[str, int]:
        found = {
            name: int(uow.session.scalar(select(func.count()).select_from(table)))
            for name, table in tables.items()
        }
        found["audit_ok"] = int(
            uow.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.outcome == "ok",
                    AuditEvent.action.not_like("%.read"),
                    AuditEvent.action != "staff.list",  # the assign form's list of staff
                )
            )
        )
        return found

    return app.run(work)
