"""What the form tests share: a referral document as the console's form posts it, a form as a
browser sends it, and counts of what a refused form must not have written."""

from __future__ import annotations

from html.parser import HTMLParser
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


class _Forms(HTMLParser):
    """Each form of a page, as the fields a browser would send: inputs (checked boxes and
    radios only), the selected option of each select (else its first), and textareas."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self.fields: list[tuple[str, str]] | None = None
        self.select: tuple[str, list[str], list[str]] | None = None  # name, options, selected
        self.textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.fields = []
            self.forms.append((a.get("action", ""), self.fields))
        elif self.fields is None or "disabled" in a:
            return
        elif tag == "input" and "name" in a and a.get("type") not in ("submit", "button"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.fields.append((a["name"], a.get("value", "on")))
        elif tag == "select" and "name" in a:
            self.select = (a["name"], [], [])
        elif tag == "option" and self.select:
            self.select[1].append(a.get("value", ""))
            if "selected" in a:
                self.select[2].append(a.get("value", ""))
        elif tag == "textarea" and "name" in a:
            self.textarea = (a["name"], [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.fields = None
        elif tag == "select" and self.select and self.fields is not None:
            name, options, selected = self.select
            self.fields.extend((name, value) for value in (selected or options[:1]))
            self.select = None
        elif tag == "textarea" and self.textarea and self.fields is not None:
            name, text = self.textarea
            self.fields.append((name, "".join(text).removeprefix("\n")))
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.textarea[1].append(data)


def form_fields(html: str, action: str) -> dict[str, Any]:
    """The first form of ``html`` posting to ``action``, as a browser sends it unchanged: each
    field's value, a repeated field's (ticked boxes of one group) as a list."""
    reader = _Forms()
    reader.feed(html)
    for posts_to, fields in reader.forms:
        if posts_to == action:
            sent: dict[str, Any] = {}
            for name, value in fields:
                if name not in sent:
                    sent[name] = value
                elif isinstance(sent[name], list):
                    sent[name].append(value)
                else:
                    sent[name] = [sent[name], value]
            return sent
    raise AssertionError(f"no form posting to {action}: {[f for f, _ in reader.forms]}")


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
