"""The one place the console calls Harbour's services and turns their results into what the
templates show (plain values). When a service's result type changes, only this file follows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from harbour.app import App
from harbour.cases import missing, report, visits
from harbour.cases.caseload import caseload_page
from harbour.cases.reads import AuditRow, audit_trail, show_case, system_audit
from harbour.clock import local_time
from harbour.domain import refs
from harbour.domain.steps import not_recordable
from harbour.domain.vocab import MissingStepKind, PlanSection, Role
from harbour.errors import Conflict, InvalidInput
from harbour.notify import alerts
from harbour.orchestration.pipeline import after_commit
from harbour.plans.overview import case_overview, identifying

if TYPE_CHECKING:
    from collections.abc import Callable

    from harbour.cases.details import Change
    from harbour.domain.policy import Interval
    from harbour.plans.store import PastItsDate, Unsettled


def caseload(
    app: App, handle: str, *, page: int, due: bool, overdue: bool, escalated: bool
) -> dict[str, Any]:
    found = caseload_page(app, handle, page=page, due=due, overdue=overdue, escalated=escalated)
    now = app.clock.now()
    rows = []
    for entry in found.entries:
        row = entry.row
        missing = row.missing_since
        flags = [
            name
            for name, on in (
                ("imminent alert", entry.imminent),
                (f"missing {age(now - missing)}" if missing else "", missing is not None),
                ("overdue", row.overdue),
                ("escalated", row.escalated),
            )
            if on
        ]
        rows.append(
            {
                "case": refs.short_form(row.reference),
                "status": row.status.replace("_", " "),
                "risk": row.risk_level or "-",
                "next_due": local_time(row.next_due, row.zone) or "-",
                "caseworker": row.caseworker or "-",
                "flags": flags,
                "urgent": entry.urgency <= 1,
            }
        )
    return {
        "rows": rows,
        "counts": found.counts,
        "matching": found.matching,
        "page": found.page,
        "pages": found.pages,
    }


ALERTS_LISTED = 50


def open_alerts(app: App, handle: str) -> dict[str, Any]:
    """``harbour alerts``, those someone is in danger in first: the first ``ALERTS_LISTED``
    (``alerts``), and whether more wait (``more``)."""
    now = app.clock.now()
    found = alerts.list_alerts(app, handle, limit=ALERTS_LISTED + 1, urgent_first=True)
    listed = [_alert(row, now) for row in found[:ALERTS_LISTED]]
    return {"alerts": listed, "more": len(found) > ALERTS_LISTED}


def one_alert(
    app: App, handle: str, alert_id: str, seen_within: timedelta | None = None
) -> dict[str, Any]:
    """``harbour alerts`` for one alert; ``seen_within``: a page's refresh (see show_alert)."""
    found = alerts.show_alert(app, handle, alert_id, seen_within=seen_within)
    return _alert(found, app.clock.now())


def paged(app: App, handle: str, alert_id: str) -> bool:
    """Whether the alert reached anyone (a page sent, or taken): a page says so when not, as
    the command prints NOBODY WAS PAGED."""
    return alerts.reached_anyone(app, handle, alert_id)


def take_alert(app: App, handle: str, alert_id: str) -> str:
    """``harbour ack``: the alert's full id."""
    return alerts.acknowledge(app, handle, alert_id).id


def _alert(row: alerts.AlertRow, now: datetime) -> dict[str, Any]:
    return {
        "reach": _reach(row),
        "id": row.id,
        "short_id": row.id[:12],
        "case": refs.short_form(row.case_reference) if row.case_reference else "-",
        "kind": row.kind.replace("_", " "),
        "tier": row.tier,
        "age": age(now - row.opened_at),
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_age": age(now - row.acknowledged_at) if row.acknowledged_at else None,
        "may_take": row.may_take,
    }


def _reach(row: alerts.AlertRow) -> dict[str, Any]:
    """Whom the alert has paged and, while nobody has taken it, who is paged next and when, in
    plain words (``alerts.TIER_WORDS``); ``nobody``: it reached the top with nobody to page
    there, and tries again at ``next_at``."""
    words = alerts.TIER_WORDS[row.kind]
    at_top = row.tier == alerts.top_tier(row.kind)
    waiting = row.acknowledged_at is None and row.next_escalation_at is not None
    return {
        "paged": words[row.tier],
        "next": words[row.tier + 1] if waiting and not at_top else None,
        "next_at": local_time(row.next_escalation_at, row.zone) if waiting else None,
        "nobody": waiting and at_top,
    }


def age(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days"


def case_audit(app: App, handle: str, ref: str) -> list[dict[str, Any]]:
    """``harbour audit REF`` (supervisors)."""
    return [_audit(row) for row in audit_trail(app, handle, ref)]


def agency_audit(app: App, handle: str) -> list[dict[str, Any]]:
    """``harbour audit --system`` (admins): newest first on the page."""
    return [_audit(row) for row in reversed(system_audit(app, handle, limit=200))]


def program_report(app: App, handle: str) -> dict[str, Any]:
    """``harbour report --json``: the agency's program figures."""
    return report.program_report(app, handle).as_json()


def _audit(row: AuditRow) -> dict[str, Any]:
    details = ", ".join(f"{key} {value}" for key, value in sorted(row.details.items()))
    return {
        "at": row.at_local,
        "actor": row.actor or "-",
        "action": row.action,
        "outcome": row.outcome,
        "details": details,
    }


def case_page(app: App, handle: str, ref: str) -> dict[str, Any]:
    """A case as its page opens: nothing identifying (that waits for ``case_details``)."""
    found = case_overview(app, handle, ref)
    plan = found.plan
    sections = []
    if plan is not None:
        for section in PlanSection:
            items = [
                {
                    "text": item.staff_text,
                    "withheld": identifying(item),
                    "state": item.state.value,
                    "owner": item.owner.value if item.owner else None,
                    "due_on": item.due_on.isoformat() if item.due_on else None,
                    "done": item.done_at is not None,
                }
                for item in plan.section(section, include_rejected=True)
            ]
            if items:
                sections.append({"name": section.value, "items": items})
    return {
        "case": refs.short_form(found.case),
        "case_status": found.status.replace("_", " "),
        "risk": found.risk_level or "-",
        "reasons": [text for _, text in found.reasons],
        "caseworker": found.caseworker or "-",
        "next_due": found.next_due_local or "-",
        "flags": [
            n
            for n, on in (
                ("overdue", found.overdue),
                ("escalated", found.escalated),
                ("protective order expired", found.expired_orders > 0),
                (f"missing {found.missing_hours} h", found.missing_hours is not None),
            )
            if on
        ],
        "timeline": [
            {
                "at": e.at_local,
                "what": e.what,
                "details": ", ".join(f"{k} {v}" for k, v in e.details),
            }
            for e in found.timeline
        ],
        "plan": None
        if plan is None
        else {"version": plan.version_number, "status": plan.status, "sections": sections},
        "summary_only": found.summary_only,
        "alerts": [
            {"id": alert_id, "short_id": alert_id[:12], "kind": kind.replace("_", " ")}
            for alert_id, kind in found.waiting_alerts
        ],
        "covers": [
            {"caseworker": c.caseworker, "until": c.ends_local, "mine": c.caseworker == handle}
            for c in found.covers
        ],
        "drafts": [
            {
                "point": d.point,
                "point_shown": d.point.replace("_", " "),
                "saved": d.saved_local,
                "by": d.author,
                "mine": d.mine,
            }
            for d in found.drafts
        ],
    }


def case_details(app: App, handle: str, ref: str) -> dict[str, Any]:
    """``harbour case show``: the people and threat sources, identifying fields unsealed."""
    found = show_case(app, handle, ref, or_summary=False)

    def fields(entry: Any, skip: str) -> list[tuple[str, str]]:
        return [(k.replace("_", " "), _shown(v)) for k, v in entry.items() if k != skip]

    return {
        "case": refs.short_form(found.case),
        "referral_source": found.referral_source or "-",
        "persons_at_risk": ", ".join(found.persons_at_risk),
        "people": [fields(p, "person") for p in found.people],
        "threats": [fields(t, "threat") for t in found.threats],
        "numbers": {
            "people": [p["person"] for p in found.people],
            "threats": [t["threat"] for t in found.threats],
        },
    }


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).replace("_", " ") if value is not None else "-"


# Changes: each is the CLI command's service call, then what the CLI does once it committed
# (the urgent lane at once; inline, the lifecycle steps it set off; in Prefect mode the flows).


def refer(
    app: App, handle: str, data: dict[str, Any], key: str, allow_duplicate: bool = False
) -> str:
    """``harbour refer``: the new (or, repeated with the key, the same) case's short form."""
    from harbour.cases.intake import refer as do_refer

    case = do_refer(app, handle, data, key, allow_duplicate=allow_duplicate)
    after_commit(app)
    return refs.short_form(case.reference)


def instrument_form(app: App) -> list[dict[str, Any]]:
    """The instrument's groups and questions as the assessment form draws them: an agency's own
    instrument file renders without code."""
    groups = []
    for group in app.reference.instrument.groups:
        questions = []
        for q in group.questions:
            if q.type == "yes_no":
                options = [("yes", "Yes"), ("no", "No")]
            elif q.type == "choice":
                options = [(c.value, c.text) for c in q.choices]
            elif q.type == "scale":
                assert q.min is not None and q.max is not None
                options = [(str(n), str(n)) for n in range(q.min, q.max + 1)]
            else:
                options = []
            questions.append(
                {
                    "id": q.id,
                    "name": f"answers.{q.id}",
                    "text": q.text,
                    "type": q.type,
                    "options": options,
                    "required": q.is_required,
                }
            )
        groups.append({"id": group.id, "title": group.title, "questions": questions})
    return groups


def assessment_draft(app: App, handle: str, ref: str, point: str) -> dict[str, Any] | None:
    """Before the questions open: may this person assess this case at this point? Then their
    own saved draft of it, as the form's typed values, or None."""
    from harbour.assessments.drafts import open_draft

    return _draft(open_draft(app, handle, ref, point))


def save_draft(
    app: App, handle: str, ref: str, point: str, answers: dict[str, str]
) -> dict[str, Any] | None:
    """Save the answers given so far as the person's draft (nothing else happens: no flow, no
    lifecycle event, no notification); the draft as saved, as ``assessment_draft`` gives it."""
    from harbour.assessments.drafts import save_draft as save

    return _draft(save(app, handle, ref, point, answers))


def _draft(found: Any) -> dict[str, Any] | None:
    if found is None:
        return None
    typed = {f"answers.{qid}": value for qid, value in found.answers}
    return {"typed": typed, "saved": found.saved_local, "answered": found.answered}


def assess(
    app: App, handle: str, ref: str, point: str, answers: dict[str, str], key: str
) -> dict[str, Any]:
    """``harbour assess``: the level, its reasons, the plan version and, at imminent risk, the
    emergency protocol and the alert, which the urgent lane has sent before this returns, and
    whether it reached anyone (``paged``: None without an alert), as the command says."""
    from harbour.assessments.submit import submit_assessment

    outcome = submit_assessment(app, handle, ref, point, answers, key)
    after_commit(app)
    found = outcome.as_json()
    reached = paged(app, handle, outcome.alert_id) if outcome.alert_id else None
    return {
        "case": refs.short_form(outcome.case_reference),
        "point": outcome.point.replace("_", " "),
        "level": outcome.risk_level,
        "computed_level": outcome.computed_level,
        "previous_level": outcome.previous_level or "-",
        "reasons": [r.text for r in outcome.reasons],
        "plan_version": outcome.plan_version,
        "next_due": found["next_due_local"] or "-",
        "alert_id": outcome.alert_id,
        "paged": reached,
        "emergency": [{"key": code, "text": text} for code, text in outcome.emergency_steps],
        "replayed": outcome.replayed,
    }


def emergency_steps(app: App, handle: str, ref: str) -> list[dict[str, Any]]:
    """The emergency steps of the newest plan version holding them (a later assessment may
    have drafted one without), each with whether it is done and its version."""
    from harbour.plans.actions import emergency_protocol

    plan = emergency_protocol(app, handle, ref)
    if plan is None:
        return []
    return [
        {
            "key": item.key,
            "text": item.staff_text,
            "done": item.done_at is not None,
            "version": plan.version_number,
        }
        for item in plan.section(PlanSection.EMERGENCY)
    ]


def mark_step(
    app: App, handle: str, ref: str, item: str, done: bool, version: int | None = None
) -> str:
    """``harbour plan done|undo [--version N]``: the step's key."""
    from harbour.plans.actions import mark_done

    key = mark_done(app, handle, ref, item, done=done, version=version).key
    after_commit(app)
    return key


# The plan workbench


def workbench(app: App, handle: str, ref: str, version: int | None) -> dict[str, Any]:
    """``harbour plan show`` and ``plan versions``: a version's items by section, with what
    staff can do to each (the text staff wrote is shown: this is the deliberate plan view)."""
    from harbour.plans.actions import show, versions

    plan = show(app, handle, ref, version)
    lines = versions(app, handle, ref)
    latest = plan.version_number == lines[-1].number
    draft = plan.status == "draft" and latest
    sections: list[dict[str, Any]] = []
    for section in PlanSection:
        items = [
            {
                "key": item.key,
                "number": item.number,  # what its URLs name it by: never its key (see casework)
                "text": item.staff_text,
                "state": item.state.value,
                "owner": item.owner.value if item.owner else "",
                "due_on": item.due_on.isoformat() if item.due_on else "",
                "done": item.done_at is not None,
                "written": item.written,
                # a contact whose person may no longer be one (``ContactFlag``), or ""
                "flag": item.contact_flag.value if item.contact_flag else "",
                "required": section == PlanSection.EMERGENCY,
                # ``harbour plan done`` records it on this version (the same rule refuses)
                "recordable": not_recordable(section, item.state, latest=latest) is None,
            }
            for item in plan.section(section, include_rejected=True)
        ]
        if items:
            sections.append({"name": section.value, "items": items})
    return {
        "case": refs.short_form(plan.case_reference),
        "version": plan.version_number,
        "plan_status": plan.status,
        "draft": draft,
        "risk": plan.risk_level or "-",
        "sections": sections,
        "undecided": [
            {"key": i["key"], "text": i["text"], "required": i["required"]}
            for s in sections
            for i in s["items"]
            if i["state"] == "suggested"
        ],
        "own_title": plan.youth_title is not None,
        "hide_hotlines": plan.hide_hotlines,
        "versions": [
            {
                "number": line.number,
                "point": (line.point or "-").replace("_", " "),
                "status": line.status,
                "risk": line.risk_level or "-",
                "at": line.at_local,
                "by": line.by or "-",
            }
            for line in lines
        ],
    }


def plan_change(app: App, handle: str, ref: str, what: str, **values: Any) -> dict[str, str]:
    """One change to the draft, as the ``harbour plan`` command of the same name makes it:
    accept, reject, add, edit, youth-copy or finalize. Returns what to tell the person
    (``said``) and the key of the item changed or added (``key``; "" for the plan's own)."""
    from harbour.domain.vocab import ItemState
    from harbour.plans import actions
    from harbour.plans.store import PastItsDate, Undecided, Unsettled

    version = values.pop("expect_version")
    key = ""
    if what in ("accept", "reject"):
        state = ItemState.ACCEPTED if what == "accept" else ItemState.REJECTED
        try:
            key = actions.decide(app, handle, ref, values["item"], state, version)
        except PastItsDate as exc:
            raise InvalidInput(_past_its_date_words(app, handle, ref, exc)) from None
        said = f"{key}: {state.value}."
    elif what == "add":
        key = actions.add(app, handle, ref, version, **values)
        said = "Added."
    elif what == "edit":
        if values.get("keep_due") and values["owner"] is None:  # in the form's words
            raise InvalidInput([("owner", "nothing changed: choose another owner or due date")])
        key = actions.edit_step(app, handle, ref, expect_version=version, **values).key
        said = f"{key}: owner and due date saved."
    elif what == "youth-copy":
        if values.pop("neutral_title"):  # "" is the neutral title (``--title ""``)
            if values["title"]:
                raise InvalidInput([("title", "their own title, or the neutral one: not both")])
            values["title"] = ""
        copy = actions.youth_copy(app, handle, ref, expect_version=version, **values)
        said = "Youth copy: " + ("their own title" if copy.own_title else "the neutral title")
        said += ", hotlines " + ("hidden." if copy.hide_hotlines else "shown.")
    else:
        try:
            done = actions.finalize(app, handle, ref, Undecided(**values), version)
        except Unsettled as exc:
            raise InvalidInput(_unsettled_words(app, handle, ref, exc)) from None
        said = f"Plan version {done.version} is final."
        if done.accepted:
            said += f" Accepted {len(done.accepted)} undecided."
        if done.left_out:
            said += f" Left out {len(done.left_out)} (suggested again next version)."
    after_commit(app)
    return {"said": said, "key": key}


def _as_shown(app: App, handle: str, ref: str) -> Callable[[str], str]:
    """An item of the draft named by the wording the page shows it with (quoted), where the
    command line names it by its key."""
    from harbour.plans.actions import show

    texts = {item.key: item.staff_text for item in show(app, handle, ref).items}
    return lambda key: f"“{texts.get(key, key)}”"


def _past_its_date_words(
    app: App, handle: str, ref: str, exc: PastItsDate
) -> list[tuple[str, str]]:
    """Accepting a step whose date went by refused, said beside the due date of the step's own
    form (which opens with it) in the page's terms: the step by its wording and what to do in
    that form, where the command line names its key and ``plan edit``'s flags."""
    named = _as_shown(app, handle, ref)
    return [
        (
            "due",
            f"{named(step.key)} {step.late()}: give it a new due date, or none, and save, "
            "then accept it",
        )
        for step in exc.late
    ]


def _unsettled_words(app: App, handle: str, ref: str, exc: Unsettled) -> list[tuple[str, str]]:
    """Finalising refused over undecided suggestions, said beside the finalize form's choice (or
    its ticks, for those ticked that cannot be left out) in the page's terms: each item by the
    wording the page shows it with, and what the page offers (its buttons, the form's choices),
    where the command line names its keys and its flags."""
    named = _as_shown(app, handle, ref)
    if exc.kept:
        return [("leave_out", f"{named(key)}: {why}") for key, why in exc.kept]
    if exc.undecided:
        listed = "; ".join(named(key) for key in exc.undecided)
        return [
            (
                "choice",
                f"still undecided: {listed}. Accept or reject each above, tick those to leave "
                "out below, or choose to accept them or to leave them all out",
            )
        ]
    late = "; ".join(f"{named(step.key)} was due {step.due_on.isoformat()}" for step in exc.late)
    today = exc.late[0].today.isoformat()
    each, them = ("it", "it") if len(exc.late) == 1 else ("each", "them")
    return [
        (
            "choice",
            f"{late}, before today ({today}): give {each} a new due date, or none, first "
            f"(change owner or due date, above), or tick {them} below to leave {them} out",
        )
    ]


def plan_diff(app: App, handle: str, ref: str, v1: int, v2: int) -> dict[str, Any]:
    """``harbour plan diff``: by section, what was only before, only after, or changed."""
    from harbour.plans.actions import diff

    found = diff(app, handle, ref, v1, v2)

    def shown(item: Any) -> dict[str, str]:
        meta = [item.state.value]
        if item.owner:
            meta.append(item.owner.value)
        if item.due_on:
            meta.append(f"due {item.due_on.isoformat()}")
        if item.done_at:
            meta.append("done")
        return {"text": item.staff_text, "meta": "; ".join(meta)}

    return {
        "from": found.from_version,
        "to": found.to_version,
        "risk_before": found.risk_before or "-",
        "risk_after": found.risk_after or "-",
        "empty": found.empty,
        "sections": [
            {
                "name": s.section.value,
                "rows": [{"before": shown(i), "after": None, "what": "removed"} for i in s.removed]
                + [
                    {
                        "before": shown(c.before),
                        "after": shown(c.after),
                        "what": "changed: " + ", ".join(f.replace("_", " ") for f in c.fields),
                    }
                    for c in s.changed
                ]
                + [{"before": None, "after": shown(i), "what": "added"} for i in s.added],
            }
            for s in found.sections
        ],
    }


def plan_document(
    app: App, handle: str, ref: str, audience: str, fmt: str, version: int | None
) -> tuple[int, str]:
    """``harbour plan render``: (version, the document), the same bytes the CLI writes."""
    from harbour.plans.rendering import plan_document as render_document

    return render_document(app, handle, ref, audience=audience, fmt=fmt, version=version)


# A case's lifecycle, assignment, override and schedule


def follow_up_days(app: App) -> list[int]:
    """The policy's follow-ups after discharge, in days (30, 90, 180 by default)."""
    return [i.delta.days for i in app.reference.policy.follow_ups_after_discharge]


def lifecycle(app: App, handle: str, ref: str, action: str) -> dict[str, Any]:
    """``harbour discharge|close|reopen``."""
    from harbour.cases.transitions import run_action

    done = run_action(app, handle, ref, action)
    after_commit(app)
    return {"status": done.status.replace("_", " "), "follow_ups": done.follow_ups_remaining}


def cover_hours(app: App) -> tuple[int, int]:
    """The policy's cover: (default hours, most hours)."""
    policy = app.reference.policy.cover
    return policy.default_hours, policy.max_hours


def missing_deadlines(app: App) -> dict[str, str]:
    """The policy's missing-youth deadlines, in words: the reports and telling the supervisor
    fall due ``report`` after the youth was last seen, the return screening ``screening``
    after the return."""
    policy = app.reference.policy
    return {
        "report": span_words(policy.missing_report_within),
        "screening": span_words(policy.return_assessment_within),
    }


def span_words(span: Interval) -> str:
    """A policy interval as a page says it: "24 hours", "2 days and 6 hours"."""
    units = ((span.days, "day"), (span.hours, "hour"), (span.minutes, "minute"))
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in units if n] or ["0 minutes"]
    *first, last = parts
    return f"{', '.join(first)} and {last}" if first else last


def start_cover(app: App, handle: str, ref: str, reason: str, hours: int | None, key: str) -> str:
    """``harbour case cover REF --reason - --hours N``: until when (the agency's time); sent
    again with the form's key, the cover it started."""
    from harbour.cases.cover import start_cover as start

    cover = start(app, handle, ref, reason, hours, key)
    after_commit(app)
    return cover.ends_local


def assignable(app: App, handle: str) -> list[tuple[str, str]]:
    """``harbour staff list`` as coordinators and supervisors see it: who can take a case."""
    from harbour.admin.staffing import list_staff

    _, rows = list_staff(app, handle)
    return [
        (r.handle, f"{r.handle} ({r.role})") for r in rows if r.role in ("caseworker", "supervisor")
    ]


def assign(app: App, handle: str, ref: str, to: str) -> str:
    """``harbour assign``."""
    from harbour.cases.reads import assign as do_assign

    done = do_assign(app, handle, ref, to)
    after_commit(app)
    return done.caseworker


def override(
    app: App, handle: str, ref: str, level: str, reason: str, key: str
) -> tuple[int | None, str | None]:
    """``harbour override``: at imminent, the plan version holding the emergency protocol, and
    the alert it raised (if it raised one); sent again with the form's key, the same."""
    from harbour.assessments.overrides import override_level

    done = override_level(app, handle, ref, level, reason, key)
    after_commit(app)
    return (done.protocol_on.version if done.protocol_on else None), done.outcome.alert_id


def schedule(app: App, handle: str, ref: str, weeks: int) -> list[dict[str, Any]]:
    """``harbour schedule``: the dry run as a timeline."""
    from harbour.cases.schedule import preview

    return [
        {
            "at": e.local,
            "what": e.what.replace("_", " "),
            "point": (e.point or "").replace("_", " "),
            "threshold": (e.threshold or "").replace("_", " "),
            "projected": e.projected,
        }
        for e in preview(app, handle, ref, weeks).entries
    ]


# A case's people and threat sources after referral (``harbour case person|threat``)


def entry_of(app: App, handle: str, ref: str, what: str, number: int) -> dict[str, Any]:
    """One person or threat source as ``case show`` has it (an audited read), or NotFound."""
    from harbour.errors import NotFound

    found = show_case(app, handle, ref)
    entries = found.people if what == "person" else found.threats
    for entry in entries:
        if entry[what] == number:
            return dict(entry)
    raise NotFound(f"{what}_not_found", f"no such {what} on the case")


def required_fields(what: str, kind: str) -> tuple[str, ...]:
    """The fields a threat source, or a person of ``kind``, cannot be without: as the models the
    services check them with say (the kind itself aside: it is the form's choice)."""
    from pydantic import BaseModel

    from harbour.cases.intake import ContactIn, FamilyIn, ThreatIn, YouthIn

    models: dict[str, type[BaseModel]] = {"youth": YouthIn, "trusted_contact": ContactIn}
    model = ThreatIn if what == "threat" else models.get(kind, FamilyIn)
    return tuple(n for n, f in model.model_fields.items() if f.is_required() and n != "kind")


def add_entry(app: App, handle: str, ref: str, what: str, fields: dict[str, Any], key: str) -> int:
    """``harbour case person|threat add``: the new (or, repeated with the key, the same)
    entry's number."""
    from harbour.cases import details

    adding = details.add_person if what == "person" else details.add_threat
    change = adding(app, handle, ref, fields, key)
    after_commit(app)
    return change.number


def edit_entry(
    app: App,
    handle: str,
    ref: str,
    what: str,
    number: int,
    fields: dict[str, Any],
    clear: list[str],
) -> Change:
    """``harbour case person|threat edit``: the fields given change, ``clear`` empties."""
    from harbour.cases import details

    editing = details.edit_person if what == "person" else details.edit_threat
    change = editing(app, handle, ref, number, fields, clear or None)
    after_commit(app)
    return change


# Admin: the agency's staff (``harbour staff list|add|reset|deactivate``)


def staff_page(app: App, handle: str) -> dict[str, Any]:
    """``harbour staff list``: an admin sees the whole account (``full``); coordinators and
    supervisors the active colleagues' handles and roles, as the command shows them."""
    from harbour.admin.staffing import list_staff

    actor, rows = list_staff(app, handle)
    agency = next((r.agency for r in rows if r.handle == actor.handle), "")
    full = actor.role == Role.ADMIN
    return {
        "agency": agency,
        "full": full,
        "staff": [r.as_json(full) | {"me": r.handle == actor.handle} for r in rows],
    }


def add_staff(app: App, handle: str, agency: str, fields: dict[str, Any]) -> dict[str, Any]:
    """``harbour staff add``: the new account and its enrolment link (None when it went to the
    person's own route)."""
    from harbour.admin.staffing import add_staff as do_add

    added = do_add(app, handle, enrol=True, agency=agency, **fields)
    after_commit(app)
    link = added.enrolment
    return {"handle": added.handle, "role": added.role, "link": link.url if link else None}


def reset_staff(
    app: App, handle: str, whom: str, unless_since: datetime | None = None
) -> dict[str, Any]:
    """``harbour staff reset``; ``unless_since``: when the page asking for it was shown (a
    reset since is refused, ``reset_since``)."""
    from harbour.auth.enrolment import reset

    link = reset(app, handle, whom, unless_since=unless_since)
    after_commit(app)
    return {"handle": link.handle, "role": "", "link": link.url}


def deactivate_staff(app: App, handle: str, whom: str, reassign_to: str | None) -> dict[str, Any]:
    """``harbour staff deactivate``: how many open cases moved, and who is paged instead when
    they were the last on call or supervisor (``warning``)."""
    from harbour.admin.staffing import deactivate_staff as do_deactivate

    done = do_deactivate(app, handle, whom, reassign_to)
    after_commit(app)
    return {"handle": done.handle, "reassigned": done.reassigned, "warning": done.warning}


def change_role(app: App, handle: str, whom: str, role: str) -> dict[str, Any]:
    """``harbour staff role``."""
    from harbour.admin.staffing import change_role as do_change

    done = do_change(app, handle, whom, role)
    after_commit(app)
    shown = {"handle": done.handle, "role": done.role, "previous": done.previous}
    return shown | {"warning": done.warning}


def set_on_call(app: App, handle: str, whom: str, on_call: bool) -> dict[str, Any]:
    """``harbour staff on-call [--off]``, and who is paged instead when nobody is left on call
    (``warning``)."""
    from harbour.admin.staffing import set_on_call as do_set

    done = do_set(app, handle, whom, on_call)
    after_commit(app)
    shown = {"handle": done.handle, "on_call": done.on_call, "changed": done.changed}
    return shown | {"warning": done.warning}


# Admin: agencies (``harbour agency list|add``), routes (``notify check|test``), keys


def agencies_page(app: App, handle: str) -> dict[str, Any]:
    """``harbour agency list``: every agency for an operator, their own for another admin."""
    from harbour.admin.staffing import list_agencies

    actor, rows = list_agencies(app, handle)
    return {"operator": actor.operator, "agencies": [r.as_json() for r in rows]}


def add_agency(app: App, handle: str, fields: dict[str, Any]) -> dict[str, Any]:
    """``harbour agency add`` (operators), with its first admin if named, and that admin's
    enrolment link (``link``: None when it went to their own route; ``enrolled``: whether a
    link was issued), as ``add_staff`` gives it."""
    from harbour.admin.staffing import add_agency as do_add

    done = do_add(app, handle, enrol=True, **fields)
    after_commit(app)
    link = done.enrolment
    return {
        "name": done.name,
        "timezone": done.timezone,
        "admin": fields.get("admin"),
        "enrolled": link is not None,
        "link": link.url if link else None,
    }


def agency_delivery(app: App, handle: str, agency: str) -> dict[str, Any]:
    """One agency's row of ``harbour agency list`` (its mail and chat settings as scheme and
    host): an operator's any, another admin's their own; any other answers NotFound."""
    from harbour.errors import NotFound

    for row in agencies_page(app, handle)["agencies"]:
        if row["name"] == agency:
            return dict(row)
    raise NotFound("agency_not_found", "no agency with that name")


def set_delivery(
    app: App, handle: str, agency: str, fields: dict[str, Any], clear: list[str]
) -> dict[str, Any]:
    """``harbour agency delivery [--agency NAME]``: the settings now, as scheme and host."""
    from harbour.admin.contacts import set_delivery as do_set

    done = do_set(app, handle, fields, clear, agency=agency)
    after_commit(app)
    return done.as_json()


def notify_check(app: App, handle: str) -> dict[str, Any]:
    """``harbour notify check``: the routes (privacy form, where each comes from), who has none,
    whom an imminent alert would not reach, the routes that keep failing while another route
    of the same person works, and the cases whose background work keeps failing."""
    from harbour.notify.console import check
    from harbour.notify.routes import explained

    report = check(app, handle)
    shown = report.as_json()
    shown["problems"] = [explained(p) for p in shown["problems"]]
    for route in shown["routes"]:
        route["source"] = route["source"].replace("_", " ")
    return shown


def notify_test(app: App, handle: str, to: str) -> list[dict[str, Any]]:
    """``harbour notify test --to TAG``: how each route of the tag took the test message."""
    from harbour.notify.console import send_test

    return [r.as_json() for r in send_test(app, handle, to)]


def key_status(app: App, handle: str) -> dict[str, Any]:
    """``harbour keys status`` (operators): read-only; rotation stays a CLI job."""
    from harbour.admin.keys import key_status as status

    return status(app, handle).as_json()


# Covers (``harbour case cover REF --end``)


def end_cover(app: App, handle: str, ref: str) -> list[dict[str, Any]]:
    """``harbour case cover REF --end``: the actor's cover of the case ends now (a supervisor's
    call ends every cover of it); who covered it, and when it ended (the agency's time)."""
    from harbour.cases.cover import end_cover as end

    ended = end(app, handle, ref)
    after_commit(app)
    return [{"caseworker": c.caseworker, "ended": c.ends_local} for c in ended]


# ---------------------------------------------------------------------------------------------
# Safety in the field (``harbour visit ...``, ``harbour missing|missing-step|returned``): the
# calls and conversions harbour/web/field.py's pages make. Kept together at the end of this file.

# The steps of a missing-youth episode, as the missing page names them.
STEP_NAMES = {
    MissingStepKind.LAW_ENFORCEMENT: "Law-enforcement report",
    MissingStepKind.NCMEC: "Report to NCMEC",
    MissingStepKind.SUPERVISOR_TOLD: "Supervisor told",
}


def _visit(view: visits.VisitView) -> dict[str, Any]:
    return {
        "id": view.id,
        "short_id": view.id[:12],
        "visitor": view.visitor,
        "buddy": view.buddy or "the supervisors",
        "case": view.case_reference,
        "escort": view.escort,
        "started": view.local(view.started_at),
        "back_by": view.local(view.expected_back_at),
        "alert_after": view.local(view.deadline_at),
        "back_at": view.local(view.back_at) if view.back_at else None,
        "overdue": view.overdue,
        "may_see_where": view.may_see_where,
        "alert": view.alert_id,
        "where": view.location,
        "recorded_by": view.recorded_by,
        "back_reason": view.back_reason,
        "may_record_back": view.may_record_back,
    }


def visits_of(app: App, handle: str) -> dict[str, Any]:
    """``harbour visit list``: the actor's own visit still out, and the others they may see."""
    shown = [_visit(v) for v in visits.list_visits(app, handle)]
    mine = next((v for v in shown if v["visitor"] == handle), None)
    return {"mine": mine, "others": [v for v in shown if v["visitor"] != handle]}


def buddy_choices(app: App, handle: str) -> dict[str, Any]:
    """Whom a visit may name as its buddy: ``handles``, and the ``default`` (or None)."""
    found = visits.buddy_choices(app, handle)
    return {"handles": list(found.handles), "default": found.default}


def start_visit(app: App, handle: str, **fields: Any) -> dict[str, Any]:
    """``harbour visit start``: ``back_at``, ``location``, ``buddy``, ``case_ref``, ``escort``;
    sent again with the form's ``idempotency_key``, the visit it started. Whom a missed
    check-in would page first (``alerted_as``: their tier; none: nobody), and from when."""
    view = visits.start_visit(app, handle, **fields)
    after_commit(app)
    return {
        "alerted_as": view.alerted_as or None,
        "alerted": list(view.alerted),
        "alert_after": view.local(view.deadline_at),
    }


def visit_back(app: App, handle: str, key: str | None, of_visit: str | None) -> None:
    """``harbour visit back``; sent again with the form's key, the check-in it recorded; only
    while ``of_visit``, the visit the form was shown for, is the one out."""
    visits.check_in(app, handle, key, of_visit)
    after_commit(app)


def visit_extend(
    app: App, handle: str, minutes: int, key: str | None, of_visit: str | None
) -> None:
    """``harbour visit extend --minutes N``; sent again with the form's key, the extend it
    made; only while ``of_visit``, the visit the form was shown for, is the one out."""
    visits.extend(app, handle, minutes, key, of_visit)
    after_commit(app)


def visit_to_record_back(app: App, handle: str, visit_id: str) -> dict[str, Any]:
    """The visit a supervisor's "record them back" page is for (never where it went)."""
    return _visit(visits.visit_to_record_back(app, handle, visit_id))


def record_back(app: App, handle: str, visit_id: str, reason: str, key: str) -> dict[str, Any]:
    """``harbour visit record-back VISIT --reason -``: the visit as it ended."""
    done = visits.record_back(app, handle, visit_id, reason, key)
    after_commit(app)
    return _visit(done)


def visit_where(app: App, handle: str, visit_id: str) -> dict[str, Any]:
    """``harbour visit show``: one visit, where it went included (an audited read)."""
    return _visit(visits.show_visit(app, handle, visit_id))


def alert_visit(app: App, handle: str, alert_id: str) -> dict[str, Any] | None:
    """The visit a visit's overdue alert is about, as the visits page shows it (or None)."""
    found = visits.visit_of_alert(app, handle, alert_id)
    return _visit(found) if found is not None else None


def episode_of(app: App, handle: str, ref: str) -> dict[str, Any] | None:
    """The case's open episode as the page shows it (report numbers: recorded or not)."""
    view = missing.current_episode(app, handle, ref)
    if view is None:
        return None
    owner = view.owner or "the supervisors"
    steps = [(s.step, STEP_NAMES[MissingStepKind(s.step)]) for s in view.steps if not s.done_at]
    unpaged = alerts.urgent_unreached(app, handle, view.alerts)  # as `harbour missing` says
    return {
        "choices": steps,
        "since": view.local(view.last_seen_at),
        "alerts": [a[:12] for a in view.alerts],
        "unpaged": [a[:12] for a in unpaged],
        "steps": [
            {
                "step": s.step,
                "name": STEP_NAMES[MissingStepKind(s.step)],
                "owner": owner,
                "due": view.local(s.due_at),
                "done": view.local(s.done_at) if s.done_at else None,
                "by": s.done_by or "-",
                "number_recorded": s.has_report_number,
            }
            for s in view.steps
        ],
    }


def report_missing(app: App, handle: str, ref: str, since: str) -> None:
    """``harbour missing REF --since``."""
    missing.report_missing(app, handle, ref, since)
    after_commit(app)


def missing_step(app: App, handle: str, ref: str, step: str, number: str | None) -> None:
    """``harbour missing-step REF STEP --report-number``. A number for a step that takes none,
    and a step recorded already (from a page shown before), are refused beside their field with
    the steps as the page names them, where the service names them by their keys."""
    kind = next((k for k in MissingStepKind if k.value == step), None)
    if number is not None and kind is not None and kind not in missing.REPORTED:
        taking = " and ".join(f"“{STEP_NAMES[k]}”" for k in missing.REPORTED)
        said = f"only for {taking}: leave it empty for “{STEP_NAMES[kind]}”"
        raise InvalidInput([("report_number", said)])
    try:
        missing.record_step(app, handle, ref, step, number)
    except Conflict as exc:
        if exc.code != "step_done" or kind is None:
            raise
        said = (
            f"“{STEP_NAMES[kind]}” was recorded done already (the steps above say when, and by "
            "whom); nothing changed"
        )
        raise InvalidInput([("step", said)], code=exc.code) from exc
    after_commit(app)


def report_return(app: App, handle: str, ref: str, at: str) -> None:
    """``harbour returned REF --at``."""
    missing.report_return(app, handle, ref, at)
    after_commit(app)


def withdraw_missing(app: App, handle: str, ref: str, reason: str | None) -> None:
    """``harbour missing-withdraw REF --reason``: the episode recorded in error."""
    missing.withdraw_episode(app, handle, ref, reason)
    after_commit(app)


# (end of the field-safety section)
