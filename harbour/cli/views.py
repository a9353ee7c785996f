"""How the domain commands print for people, and the interactive assessment prompts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from harbour.cases.schedule import ScheduleView
    from harbour.domain.catalogue import Catalogue
    from harbour.domain.instrument import Instrument, Question
    from harbour.domain.plan_view import PlanItemView, PlanSnapshot


def instrument_text(shown: dict[str, Any]) -> str:
    lines = [f"{shown['title']} (version {shown['version']})"]
    for group in shown["groups"]:
        lines.append(f"\n{group['title']} [{group['concern']}]")
        for q in group["questions"]:
            kind = q["type"]
            if kind == "choice":
                kind += ": " + " | ".join(c["value"] for c in q["choices"])
            if kind == "scale":
                kind += f" {q['min']}-{q['max']}"
            lines.append(f"  {q['id']:<22} {q['text']}  ({kind})")
    return "\n".join(lines)


def catalogue_json(catalogue: Catalogue) -> dict[str, Any]:
    return {
        "version": catalogue.version,
        "strategies": [s.model_dump(mode="json") for s in catalogue.strategies.values()],
        "emergency_protocol": [
            e.model_dump(mode="json") for e in catalogue.emergency_protocol.values()
        ],
        "resources_version": catalogue.resources_version,
        "resources": [r.model_dump(mode="json") for r in catalogue.resources],
    }


def catalogue_text(data: dict[str, Any]) -> str:
    from harbour.domain.vocab import Phase

    lines = [f"Strategy catalogue {data['version']}"]
    phases = [p.value for p in Phase]
    phases += sorted({s["phase"] for s in data["strategies"]} - set(phases))
    for phase in phases:  # one heading per phase, in the documented order
        strategies = [s for s in data["strategies"] if s["phase"] == phase]
        if strategies:
            lines.append(f"\n{phase}")
        for s in strategies:
            lines.append(f"  {s['code']:<28} {s['staff_text']}")
            lines.append(f"  {'':<28} youth: {s['youth_text']}")
    lines.append(f"\nResources {data['resources_version']}")
    for r in data["resources"]:
        contact = ", ".join(f"{k} {r[k]}" for k in ("call", "text") if r.get(k))
        lines.append(f"  {r['code']:<28} {r['name']}: {contact} (verified {r['verified_on']})")
    return "\n".join(lines)


def assessment_text(out: dict[str, Any]) -> str:
    level = out["risk_level"].upper()
    lines = [f"{out['case']}: {out['point']} assessment recorded; risk {level}"]
    if out["computed_level"] != out["risk_level"]:
        lines[0] += f" (computed {out['computed_level']}, overridden)"
    if out["emergency_steps"]:
        lines.append("IMMEDIATE DANGER: follow the emergency protocol now:")
        lines += [f"  - {step['text']}  [{step['code']}]" for step in out["emergency_steps"]]
        lines.append(f"  Record each step taken: harbour plan done {out['case'][:12]} CODE")
    unpaged = bool(out["alert"]) and out.get("paged") is False
    if out["alert"] and not unpaged:
        lines.append(
            f"Alert {out['alert'][:12]} raised for on-call staff and supervisors; "
            f"to take it: harbour ack {out['alert'][:12]}"
        )
    lines += [f"  [{r['level']}] {r['text']}" for r in out["reasons"]]
    if out.get("superseded_version"):
        lines.append(
            f"Plan version {out['superseded_version']} was still a draft: superseded by the new "
            f"version (still readable: harbour plan show --version {out['superseded_version']})."
        )
    if out["plan_version"]:
        lines.append(f"Plan version {out['plan_version']} drafted (harbour plan show).")
    lines.append(f"Next assessment due: {out['next_due_local'] or '-'}")
    if unpaged:  # last, where it is seen
        lines += nobody_paged(out["alert"])
    return "\n".join(lines)


def nobody_paged(alert: str) -> list[str]:
    return [
        f"NOBODY WAS PAGED: alert {alert[:12]} could not be sent to anyone.",
        "  Call the on-call staff and a supervisor yourself now, and tell them the alert id.",
        "  The page stays in the outbox and is tried again (harbour outbox); to see what is",
        f"  missing: harbour notify check. To take the alert once someone has it: harbour ack {alert[:12]}",
    ]


def override_text(out: dict[str, Any]) -> str:
    """An override says what it changed, not what an assessment would: no new assessment was
    made, and the reason is sealed (its length only; ``case show`` shows it)."""
    change = out["override"]
    lines = [
        f"{out['case']}: risk level overridden from {change['from'] or '-'} to {change['to']} "
        f"by {change['by']}, on the {out['point']} assessment (computed {change['computed']}).",
        f"  Reason kept encrypted ({change['reason_length']} characters; harbour case show shows it).",
    ]
    if out["emergency_steps"]:
        lines.append("IMMEDIATE DANGER: follow the emergency protocol now:")
        lines += [f"  - {step['text']}  [{step['code']}]" for step in out["emergency_steps"]]
        lines.append(f"  Record each step taken: harbour plan done {out['case'][:12]} CODE")
    if change["emergency_protocol_on"]:
        lines.append(_protocol_placed(change["emergency_protocol_on"]))
    unpaged = bool(out["alert"]) and out.get("paged") is False
    raised = out["alert"] and change["to"] == "imminent" and change["from"] != "imminent"
    if raised and not unpaged:
        lines.append(
            f"Alert {out['alert'][:12]} raised for on-call staff and supervisors; "
            f"to take it: harbour ack {out['alert'][:12]}"
        )
    lines.append(f"Next assessment due: {out['next_due_local'] or '-'}")
    if unpaged:
        lines += nobody_paged(out["alert"])
    return "\n".join(lines)


def _protocol_placed(on: dict[str, Any]) -> str:
    """Which plan version holds the emergency protocol an override to imminent calls for."""
    version = on["version"]
    if on["how"] == "drafted":
        return (
            f"Plan version {version} drafted with the emergency protocol (the version before "
            "is final): decide and finalize it with the youth (harbour plan show)."
        )
    if on["how"] == "added":
        return (
            f"The emergency protocol is added to draft plan version {version} (harbour plan show)."
        )
    return f"Plan version {version} holds the emergency protocol (harbour plan show)."


def plan_text(view: PlanSnapshot) -> str:
    from harbour.domain.vocab import PlanSection

    lines = [
        f"Plan {view.case_reference} version {view.version_number} ({view.status}), "
        f"risk {view.risk_level or '-'}, point {view.point or '-'}"
    ]
    for section in PlanSection:  # one heading per section, in plan order
        items = [item for item in view.items if item.section == section]
        if items:
            lines.append(f"\n{section.value.upper()}")
        lines += [_item_line(item, view.timezone) for item in items]
    return "\n".join(lines)


def _item_line(item: PlanItemView, zone: str) -> str:
    """One numbered item; the day a step was done is the agency's day, as the documents show it."""
    from harbour.documents.common import local_day

    details = [item.state.value]
    details += [f"owner {item.owner.value}"] if item.owner else []
    details += [f"due {item.due_on.isoformat()}"] if item.due_on else []
    details += [f"DONE {local_day(item.done_at, zone).isoformat()}"] if item.done_at else []
    details += [_flagged(item.contact_flag)] if item.contact_flag else []
    return f"{item.number:>3}. {item.staff_text}  [{item.key}; {', '.join(details)}]"


def _flagged(flag: str) -> str:
    """A contact whose person may no longer be one, in the staff copy's words."""
    from harbour.documents.strings import strings

    return str(strings()["staff"][flag])


def diff_text(data: dict[str, Any]) -> str:
    risk = data["risk_level"]
    lines = [f"Plan {data['case']}: version {data['from_version']} -> {data['to_version']}"]
    if risk["before"] != risk["after"]:
        lines.append(f"risk level: {risk['before']} -> {risk['after']}")
    for s in data["sections"]:
        lines.append(f"\n{s['section'].upper()}")
        lines += [f"  + {i['text']}  [{i['key']}]" for i in s["added"]]
        lines += [f"  - {i['text']}  [{i['key']}]" for i in s["removed"]]
        lines += [f"  ~ {c['text']}  [{c['key']}: {', '.join(c['fields'])}]" for c in s["changed"]]
    if len(lines) == 1:
        lines.append("No changes.")
    return "\n".join(lines)


def schedule_text(view: ScheduleView) -> str:
    from harbour.domain.refs import short_form

    lines = [
        f"{short_form(view.case_reference)}: the next {view.weeks} weeks, to {view.until_local} "
        f"({view.zone}).",
        "Real: the assessments open now and their reminders, as they stand.",
        "Projected (marked): the assessments that would follow if each were done on its due "
        f"date, at the current level ({view.risk_level or 'not yet assessed'}).",
    ]
    if not view.entries:
        lines.append("Nothing falls due in that time.")
    for e in view.entries:
        what = e.what + (f" ({e.threshold})" if e.threshold else "")
        lines.append(f"{e.local:<22} {what}{'  (projected)' if e.projected else ''}")
    if view.left_out:
        lines.append(
            f"... {view.left_out} more after the window, the first at {view.next_left_out} "
            f"(--weeks {min(view.weeks * 2, 104)} shows more)."
        )
    return "\n".join(lines)


def prompt_answers(instrument: Instrument) -> dict[str, Any]:
    """Ask each question of the instrument in turn (free text may be left empty). Input that
    ends first (a pipe, Ctrl-D, Ctrl-C) is said to be so, before anything is recorded: the
    click package's ``Abort`` is not typer's own, so it would otherwise read as an internal
    error."""
    import click  # only when prompting: typer carries its own, a command's start need not load it

    from harbour.errors import HarbourError

    answers: dict[str, Any] = {}
    try:
        for group in instrument.groups:
            typer.echo(f"\n{group.title}", err=True)
            for question in group.questions:
                value = _ask(question)
                if value not in (None, ""):
                    answers[question.id] = value
    except click.exceptions.Abort:
        typer.echo("", err=True)  # the prompt's line ends before the error's
        raise HarbourError(
            "answers_incomplete",
            "the prompts ended before every question was answered; nothing was recorded "
            "(answer each prompt, or give them in a file with --answers FILE)",
        ) from None
    return answers


def _ask(question: Question) -> Any:
    import click  # only when prompting: typer carries its own, a command's start need not load it

    if question.type == "text":
        return click.prompt(question.text, default="", show_default=False, err=True)
    if question.type == "scale":
        assert question.min is not None and question.max is not None
        return click.prompt(
            question.text, type=click.IntRange(question.min, question.max), err=True
        )
    values = ["yes", "no"] if question.type == "yes_no" else [c.value for c in question.choices]
    return click.prompt(question.text, type=click.Choice(values), err=True)
