"""What the demo's weeks came to, read back from the store and the local servers: counts only,
the same for the same seed (no wall-clock times, no paths)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from harbour.app import App, UnitOfWork
from harbour.db.models import Alert, Assessment, Case, OutboxMessage, Plan, ReminderMark, Staff
from harbour.demo.cast import AGENCY, ON_CALL, YOUTH, ZONE
from harbour.demo.inbox import Delivered
from harbour.domain import refs
from harbour.domain.vocab import AssessmentStatus, NotificationKind, OutboxStatus, PlanStatus


def summarize(app: App, cases: dict[str, str], messages: list[Delivered]) -> dict[str, Any]:
    found: dict[str, Any] = app.run(lambda uow: _from_store(uow, cases))
    received: Counter[str] = Counter(m.channel for m in messages)
    found["notifications"]["received_by_local_servers"] = dict(sorted(received.items()))
    return found


def _from_store(uow: UnitOfWork, cases: dict[str, str]) -> dict[str, Any]:
    s = uow.session
    label_of = {case_id: label for label, case_id in cases.items()}
    rows = s.scalars(select(Case).where(Case.id.in_(cases.values()))).all()
    story = {youth.label: youth for youth in YOUTH}
    case_list = []
    for case in sorted(rows, key=lambda c: list(cases).index(label_of[c.id])):
        label = label_of[case.id]
        worker = s.get(Staff, case.caseworker_id) if case.caseworker_id else None
        case_list.append(
            {
                "youth": label,
                "case": refs.short_form(case.reference),
                "referred_as": story[label].situation,
                "status": case.status,
                "risk_level": case.risk_level,
                "caseworker": worker.handle if worker else None,
                "escalated": case.escalated,
                "assessments": _count(
                    s,
                    Assessment,
                    Assessment.case_id == case.id,
                    Assessment.status == AssessmentStatus.COMPLETED,
                ),
                "plan_versions": _count(s, Plan, Plan.case_id == case.id),
                "story": story[label].story,
            }
        )
    return {
        "agency": {
            "name": AGENCY,
            "timezone": ZONE,
            "staff": dict(sorted(Counter(str(r) for r in s.scalars(select(Staff.role))).items())),
            "on_call_route": f"{ON_CALL}/{AGENCY} (chat)",
        },
        "cases": {
            "by_status": _tally(c["status"] for c in case_list),
            "by_risk_level": _tally(c["risk_level"] for c in case_list),
            "list": case_list,
        },
        "assessments": {
            "completed_by_point": _grouped(
                s, Assessment.point, Assessment.status == AssessmentStatus.COMPLETED
            ),
            "open": _count(s, Assessment, Assessment.status == AssessmentStatus.OPEN),
            "cancelled": _count(s, Assessment, Assessment.status == AssessmentStatus.CANCELLED),
        },
        "plans": {
            "versions": _count(s, Plan),
            "final": _count(s, Plan, Plan.status == PlanStatus.FINAL),
        },
        "notifications": _notifications(uow),
        "reminders": _reminders(uow),
        "alerts": _alerts(uow),
    }


def _notifications(uow: UnitOfWork) -> dict[str, Any]:
    sent = OutboxMessage.status == OutboxStatus.SENT
    by_channel: dict[str, dict[str, int]] = {}
    rows = uow.session.execute(
        select(OutboxMessage.channel, OutboxMessage.kind, func.count())
        .where(sent)
        .group_by(OutboxMessage.channel, OutboxMessage.kind)
        .order_by(OutboxMessage.channel, OutboxMessage.kind)
    ).all()
    for channel, kind, n in rows:
        by_channel.setdefault(channel, {})[kind] = n
    return {
        "delivered_by_channel_and_kind": by_channel,
        "delivered": sum(n for _, _, n in rows),
        "by_status": _grouped(uow.session, OutboxMessage.status),
        "digest_items": _digest_items(uow),
    }


def _digest_items(uow: UnitOfWork) -> dict[str, int]:
    """What the reminder digests carried, by kind of item."""
    contexts = uow.session.scalars(
        select(OutboxMessage.context).where(
            OutboxMessage.kind == NotificationKind.REMINDER_DIGEST,
            OutboxMessage.status == OutboxStatus.SENT,
        )
    )
    return _tally(
        str(item.get("kind")) for context in contexts for item in context.get("items", [])
    )


def _reminders(uow: UnitOfWork) -> dict[str, dict[str, int]]:
    rows = uow.session.execute(
        select(ReminderMark.threshold, ReminderMark.outcome, func.count()).group_by(
            ReminderMark.threshold, ReminderMark.outcome
        )
    ).all()
    found: dict[str, dict[str, int]] = {}
    for threshold, outcome, n in sorted(rows):
        found.setdefault(threshold, {})[outcome] = n
    return found


def _alerts(uow: UnitOfWork) -> dict[str, Any]:
    alerts = uow.session.scalars(select(Alert).order_by(Alert.kind, Alert.opened_at)).all()
    return {
        "opened": _tally(a.kind for a in alerts),
        "acknowledged": _tally(a.kind for a in alerts if a.acknowledged_at is not None),
        "escalation_steps": _tally(a.kind for a in alerts for _ in range(a.tier)),
        "acknowledged_by": _tally(a.acknowledged_by for a in alerts if a.acknowledged_by),
        "minutes_to_acknowledge": [
            {
                "kind": a.kind,
                "minutes": int((a.acknowledged_at - a.opened_at).total_seconds() // 60),
                "tier_reached": a.tier,
            }
            for a in alerts
            if a.acknowledged_at is not None
        ],
    }


def _count(session: Any, table: Any, *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def _grouped(session: Any, column: Any, *where: Any) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).where(*where).group_by(column)).all()
    return {str(key): int(n) for key, n in sorted(rows)}


def _tally(values: Any) -> dict[str, int]:
    return dict(sorted(Counter(str(v) for v in values).items()))


def as_text(summary: dict[str, Any]) -> str:
    """The summary for people: a few aligned blocks."""
    lines = [
        f"Harbour demo (seed {summary['seed']}, orchestration {summary['orchestration']}): "
        f"{summary['simulated']['from']} to {summary['simulated']['to']} simulated "
        f"({summary['simulated']['days']} days, {summary['simulated']['zone']})",
        "",
        "Cases",
    ]
    for case in summary["cases"]["list"]:
        lines.append(
            f"  {case['youth']:<8} {case['case']:<13} referred {case['referred_as']:<20} "
            f"now {case['status']:<11} {case['risk_level']!s:<9} "
            f"{case['assessments']:>2} assessments, {case['plan_versions']:>2} plan versions"
        )
    lines += _block("  by status", summary["cases"]["by_status"])
    lines += _block("  by risk level", summary["cases"]["by_risk_level"])
    lines += ["", "Assessments completed, by point"]
    lines += _rows(summary["assessments"]["completed_by_point"])
    notes = summary["notifications"]
    lines += ["", f"Notifications delivered through Apprise: {notes['delivered']}"]
    for channel, kinds in notes["delivered_by_channel_and_kind"].items():
        lines.append(f"  {channel}: " + ", ".join(f"{k} {n}" for k, n in kinds.items()))
    lines += _block("  received by the local servers", notes["received_by_local_servers"])
    lines += _block("  reminder digest items", notes["digest_items"])
    lines += ["", "Reminder thresholds (sent / skipped)"]
    for threshold, outcomes in summary["reminders"].items():
        lines.append(f"  {threshold:<12} {outcomes.get('sent', 0)} / {outcomes.get('skipped', 0)}")
    alerts = summary["alerts"]
    lines += ["", "Alerts"]
    lines += _block("  opened", alerts["opened"])
    lines += _block("  escalation steps (not acknowledged in time)", alerts["escalation_steps"])
    lines += _block("  acknowledged", alerts["acknowledged"])
    for ack in alerts["minutes_to_acknowledge"]:
        lines.append(
            f"  {ack['kind']}: acknowledged after {ack['minutes']} min at tier {ack['tier_reached']}"
        )
    run = summary["run"]
    lines += ["", "Run"]
    lines += _rows({k: v for k, v in run.items() if not isinstance(v, dict)})
    for name, block in ((k, v) for k, v in run.items() if isinstance(v, dict)):
        lines += _block(f"  {name}", block)
    check = summary["leak_check"]
    lines += [
        "",
        f"Leak check: {check['messages']} messages searched for {check['values']} identifying "
        f"values of the fictional youth: {check['leaks']} found",
    ]
    if check.get("prefect_home_searched"):
        lines.append(
            f"  and every file of Prefect's home (its database, logs): {check['prefect_leaks']} found"
        )
    lines += ["", "Output"]
    lines += [f"  {name:<22} {what}" for name, what in summary["output"].items()]
    return "\n".join(lines) + "\n"


def _block(title: str, counts: dict[str, int]) -> list[str]:
    return [f"{title}: " + (", ".join(f"{k} {n}" for k, n in counts.items()) or "none")]


def _rows(counts: dict[str, Any]) -> list[str]:
    return [f"  {key:<24} {value}" for key, value in counts.items()]
