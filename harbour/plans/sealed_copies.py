"""Each plan version's documents (staff, youth, family; HTML and text), rendered and kept sealed.

Rendered when a version is composed and again when it is finalised, so the agency holds what
each reader was given without any plaintext file on disk; ``harbour plan render`` writes a
file on demand. Idempotent: a version already rendered in its current status is left alone.
"""

from __future__ import annotations

from sqlalchemy import select

from harbour.access import audit
from harbour.app import UnitOfWork
from harbour.db.models import Plan, PlanDocument
from harbour.domain.plan_view import AUDIENCES
from harbour.plans.snapshot import snapshot

FORMATS = ("html", "text")


def store_documents(uow: UnitOfWork, plan: Plan) -> int:
    """Render and seal the version's documents unless done for its status; how many written."""
    stored = {
        (row.audience, row.format): row
        for row in uow.session.scalars(select(PlanDocument).where(PlanDocument.plan_id == plan.id))
    }
    stale = [
        (audience, fmt)
        for audience in AUDIENCES
        for fmt in FORMATS
        if (row := stored.get((audience, fmt))) is None or row.plan_status != plan.status
    ]
    if not stale:
        return 0
    from harbour.documents.render import render_copies  # Jinja only where a plan is rendered

    view = snapshot(uow, plan)
    for audience in AUDIENCES:
        formats = tuple(fmt for stale_audience, fmt in stale if stale_audience == audience)
        copies = render_copies(
            view, audience, formats, templates_dir=uow.app.settings.templates_dir
        )
        for fmt, text in copies.items():
            row = stored.get((audience, fmt)) or _new_row(uow, plan, audience, fmt)
            uow.seal(row, "content", text)
            row.plan_status, row.rendered_at = plan.status, uow.now()
    details = {"version": plan.version_number, "status": plan.status, "documents": len(stale)}
    audit(uow, None, "plan.documents.stored", plan.case_id, **details)
    return len(stale)


def _new_row(uow: UnitOfWork, plan: Plan, audience: str, fmt: str) -> PlanDocument:
    row = PlanDocument(plan_id=plan.id, audience=audience, format=fmt)
    uow.session.add(row)
    return row


def stored_document(uow: UnitOfWork, plan: Plan, audience: str, fmt: str) -> str | None:
    """A stored document, unsealed (the caller has checked the reader may see it)."""
    row = uow.session.scalar(
        select(PlanDocument).where(
            PlanDocument.plan_id == plan.id,
            PlanDocument.audience == audience,
            PlanDocument.format == fmt,
        )
    )
    return uow.unseal(row, "content") if row is not None else None
