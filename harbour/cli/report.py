"""`harbour report`: the agency's program figures (supervisors, admins), for funders' reporting."""

from __future__ import annotations

from typing import Any

from harbour.cli.base import As, Json, cli, emit, get_app


@cli.command("report")
def report(actor: As = None, as_json: Json = False) -> None:
    """The agency's program figures now: open cases by status and risk level, final plans,
    overdue assessments, referral to first assessment, imminent alerts, reminders and
    escalations sent, missing youth. Counts only; --json for funders' reporting."""
    from harbour.cases.report import program_report

    emit(program_report(get_app(), actor).as_json(), as_json, report_text)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _figure(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:g} {unit}"


def report_text(data: dict[str, Any]) -> str:
    cases, plans = data["open_cases"], data["final_plans"]
    overdue, first = data["overdue_assessments"], data["referral_to_first_assessment"]
    alerts, sent, missing = (
        data["imminent_alerts"],
        data["notifications_sent"],
        data["missing_episodes"],
    )
    window = f"last {data['window_days']} days"
    risks = list(cases["by_risk"])
    lines = [
        f"Program report, agency {data['agency']}, as of {data['as_of_local']}",
        "",
        f"Open cases: {cases['total']}",
        f"  {'status':<18}" + "".join(f"{risk:>9}" for risk in risks) + f"{'all':>7}",
    ]
    for status, by_risk in cases["by_status_and_risk"].items():
        row = "".join(f"{by_risk[risk]:>9}" for risk in risks)
        lines.append(f"  {status:<18}{row}{cases['by_status'][status]:>7}")
    totals = "".join(f"{cases['by_risk'][risk]:>9}" for risk in risks)
    lines.append(f"  {'all':<18}{totals}{cases['total']:>7}")
    percent = "-" if plans["percent"] is None else f"{plans['percent']:g}%"
    days = ", ".join(f"{k.replace('_', ' ')}: {n}" for k, n in overdue["by_days_overdue"].items())
    lines += [
        "",
        f"Active cases with a final plan of their latest assessment: "
        f"{plans['with_final_plan_of_latest_assessment']} of {plans['active_cases']} ({percent})",
        f"Overdue assessments: {overdue['total']} ({days}; longest "
        f"{_figure(overdue['longest_days'], 'days')})",
        f"Referral to first assessment, median: {_figure(first['median_days'], 'days')} "
        f"({_count(first['cases'], 'case')})",
        f"Imminent alerts: {alerts['open']} open now; {alerts['raised']} raised in the {window}, "
        f"{alerts['acknowledged']} acknowledged, median "
        f"{_figure(alerts['median_minutes_to_acknowledge'], 'minutes')} to acknowledge",
        f"Sent in the {window}: {_count(sent['reminders'], 'reminder')}, "
        f"{_count(sent['escalations'], 'escalation')}",
        f"Missing youth: {_count(missing['open'], 'open episode')} (oldest "
        f"{_figure(missing['oldest_hours'], 'hours')})",
    ]
    return "\n".join(lines)
