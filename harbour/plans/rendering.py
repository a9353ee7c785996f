"""Plan documents for a case: load the version (agency-scoped, audited), then render it.

The read and its audit row happen in one transaction; rendering is pure and happens after.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from harbour.access import Actor, audit, on_case
from harbour.documents.diff import diff_view
from harbour.documents.render import DIFF_FORMATS, FORMATS, check, render_diff, render_plan
from harbour.documents.strings import BASE, strings
from harbour.domain.plan_view import AUDIENCES
from harbour.errors import InvalidInput, NotFound
from harbour.plans import store as planning
from harbour.plans.snapshot import snapshot

if TYPE_CHECKING:
    from harbour.app import App, UnitOfWork
    from harbour.db.models import Case
    from harbour.domain.plan_diff import PlanDiff
    from harbour.domain.plan_view import PlanSnapshot
    from harbour.settings import Settings


def plan_document(
    app: App,
    actor_handle: str | None,
    ref: str,
    *,
    audience: str,
    fmt: str,
    version: int | None = None,
    lang: str = BASE,
) -> tuple[int, str]:
    """(version number, document) of the case's plan as ``audience`` may see it."""
    check(audience, AUDIENCES, "--audience")
    check(fmt, tuple(FORMATS), "--format")
    strings(lang)  # refuses an unknown language before anything is read
    if version is not None and version < 1:
        raise InvalidInput([("--version", "must be 1 or more")])
    plan = on_case(
        app,
        actor_handle,
        ref,
        "case.read",
        partial(_snapshot, version=version, audience=audience, fmt=fmt),
    )
    document = render_plan(plan, audience, fmt, templates_dir=app.settings.templates_dir, lang=lang)
    return plan.version_number, document


def _snapshot(
    uow: UnitOfWork, actor: Actor, case: Case, *, version: int | None, audience: str, fmt: str
) -> PlanSnapshot:
    plan = planning.latest_plan(uow, case, version)
    if plan is None:
        raise NotFound("no_plan", "the case has no plan yet: submit an assessment first")
    detail = {"audience": audience, "format": fmt, "version": plan.version_number}
    audit(uow, actor, "plan.render", case.id, **detail)
    return snapshot(uow, plan)


def format_diff(diff: PlanDiff, fmt: str, *, settings: Settings, lang: str = BASE) -> str:
    """``plan diff --format``: the diff as a document for a planning meeting (staff only).

    Times (emergency steps done) are shown in the case's agency's zone, which the diff carries.
    """
    check(fmt, DIFF_FORMATS, "--format")
    view = diff_view(diff, diff.timezone)
    return render_diff(view, fmt, templates_dir=settings.templates_dir, lang=lang)
