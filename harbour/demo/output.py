"""The demo's output folder: every plan version's documents as the lifecycle stored them, the plan
diffs for each planning meeting, and every message as the local servers received it.

    plans/<case>-<youth>/v<N>/{staff,youth,family}.{html,txt}
    plans/<case>-<youth>/diffs/v<N-1>-v<N>-<point>.{txt,html}
    messages/<NNNN>-<channel>-<to>.txt, messages/index.tsv
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from harbour.app import App, UnitOfWork
from harbour.clock import local_time
from harbour.db.models import Case, Plan, PlanDocument
from harbour.demo.cast import SUPERVISOR, ZONE
from harbour.demo.failure import DemoFailure
from harbour.demo.inbox import Delivered
from harbour.domain import refs
from harbour.domain.plan_view import AUDIENCES
from harbour.plans import actions as plans
from harbour.plans.rendering import format_diff

EXTENSIONS = {"html": "html", "text": "txt"}
DIFF_FORMATS = ("text", "html")


@dataclass(frozen=True)
class Version:
    number: int
    point: str
    documents: dict[tuple[str, str], str]  # (audience, format) -> the stored document


def write_plans(app: App, folder: Path, cases: dict[str, str]) -> tuple[int, int]:
    """Every case's documents and diffs under ``folder``; (documents, diffs) written."""
    documents = diffs = 0
    for label, case_id in cases.items():
        reference, versions = app.run(functools.partial(_versions, case_id=case_id))
        home = folder / f"{refs.short_form(reference)}-{label}"
        for version in versions:
            for (audience, fmt), text in sorted(version.documents.items()):
                _write(home / f"v{version.number}" / f"{audience}.{EXTENSIONS[fmt]}", text)
                documents += 1
        for old, new in itertools.pairwise(versions):
            change = plans.diff(app, SUPERVISOR, reference, old.number, new.number)
            stem = f"v{old.number}-v{new.number}-{new.point}"
            for fmt in DIFF_FORMATS:
                text = format_diff(change, fmt, settings=app.settings)
                _write(home / "diffs" / f"{stem}.{EXTENSIONS[fmt]}", text)
                diffs += 1
    return documents, diffs


def _versions(uow: UnitOfWork, case_id: str) -> tuple[str, list[Version]]:
    """The stored documents of every version; a version whose documents the lifecycle did not
    render (for its current status) fails the demo."""
    case = uow.session.get_one(Case, case_id)
    rows = uow.session.scalars(
        select(Plan).where(Plan.case_id == case_id).order_by(Plan.version_number)
    ).all()
    versions = []
    for plan in rows:
        stored = {
            (doc.audience, doc.format): doc
            for doc in uow.session.scalars(
                select(PlanDocument).where(PlanDocument.plan_id == plan.id)
            )
        }
        wanted = [(audience, fmt) for audience in AUDIENCES for fmt in EXTENSIONS]
        missing = [k for k in wanted if k not in stored or stored[k].plan_status != plan.status]
        if missing:
            raise DemoFailure(
                "documents_missing", f"plan version {plan.version_number} not rendered"
            )
        texts = {key: uow.unseal(stored[key], "content") or "" for key in wanted}
        versions.append(Version(plan.version_number, str(plan.point), texts))
    return case.reference, versions


def write_messages(folder: Path, messages: list[Delivered]) -> None:
    zone = ZoneInfo(ZONE)
    index = ["number\tdelivered (simulated)\tchannel\tto\tsubject"]
    for message in messages:
        when = local_time(message.at, zone)
        name = f"{message.number:04d}-{message.channel}-{message.to.replace('/', '_')}.txt"
        header = f"channel: {message.channel}\nto: {message.to}\ndelivered: {when}\n"
        _write(folder / name, f"{header}subject: {message.subject}\n\n{message.text.rstrip()}\n")
        index.append(
            f"{message.number}\t{when}\t{message.channel}\t{message.to}\t{message.subject}"
        )
    _write(folder / "index.tsv", "\n".join(index) + "\n")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
