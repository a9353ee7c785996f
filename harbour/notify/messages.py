"""What a notification says: templates rendered with the allowlisted context, and nothing more.

Each kind has ``notifications/<kind>.subject.txt``, ``<kind>.txt`` (chat and other text channels)
and ``<kind>.html`` (email). Subjects are one line: CR, LF and runs of spaces collapse.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harbour import templating
from harbour.domain.vocab import NotificationKind as K
from harbour.notify.context import ITEM_KEYS, KEYS
from harbour.notify.routes import EMAIL, email_text_part

if TYPE_CHECKING:
    from harbour.settings import Settings

SUBJECT_MAX = 120
FOLDER = "notifications"
BASES = ("_base.txt", "_base.html")

# Bland on purpose: subjects and chat previews are read on lock screens.
LABELS: dict[str, str] = {
    K.CASE_ASSIGNED: "Case assigned to you",
    K.COVER_STARTED: "Cover started",
    K.ASSESSMENT_DUE_SOON: "Assessment due soon",
    K.ASSESSMENT_DUE_TODAY: "Assessment due today",
    K.ASSESSMENT_OVERDUE: "Assessment overdue",
    K.OVERDUE_ESCALATION: "Overdue assessment for supervisor review",
    K.FOLLOW_UP_DUE: "Follow-up due",
    K.RISK_RAISED: "Case level raised, please review",
    K.IMMINENT_THREAT: "Urgent alert, please acknowledge",
    K.ALERT_ESCALATED: "Urgent alert not yet acknowledged",
    K.REMINDER_DIGEST: "Reminders",
    K.ESCALATION_DIGEST: "Overdue assessments to review",
    K.DEAD_LETTER: "A notification could not be delivered",
    K.EVENT_STUCK: "Background work keeps failing",
    K.ENROLMENT: "Set up your sign-in",
    K.TEST: "Test message",
    K.VISIT_OVERDUE: "Visit check-in overdue",
    K.VISIT_BACK: "Visit check-in: back safe",
    # The word "missing" stays off lock screens (``LOCK_SCREEN_UNSAID``): it says what happened
    # to a youth; the body, read once unlocked, says "missing-youth steps due".
    K.MISSING_STEPS_DUE: "Urgent steps due",
    K.MISSING_STEPS_OVERDUE: "Urgent steps overdue",
    "protective_order_expiring": "Protective order expiring",  # a digest item
    "plan_step_overdue": "Plan steps overdue",  # a digest item (harbour.notify.digests)
}


# How urgent a kind is, as Apprise names it (chat tools colour "failure" and "warning"):
# a page about a youth in danger must not look like routine information.
URGENCY: dict[str, str] = {
    K.IMMINENT_THREAT: "failure",
    K.VISIT_OVERDUE: "failure",
    K.MISSING_STEPS_OVERDUE: "failure",
    K.ALERT_ESCALATED: "failure",
    K.VISIT_BACK: "success",  # the stand-down of a "failure": someone feared for is safe
    K.MISSING_STEPS_DUE: "warning",
    K.OVERDUE_ESCALATION: "warning",
    K.ESCALATION_DIGEST: "warning",
    K.RISK_RAISED: "warning",
    K.DEAD_LETTER: "warning",
    K.EVENT_STUCK: "warning",
}

# Words a subject line or a chat preview's first line never carries (a lock screen shows them),
# though a message's body may: "missing" beside a case reference tells anyone near the phone
# that a youth has gone. tests/notify/test_messages.py checks every kind.
LOCK_SCREEN_UNSAID = ("missing",)


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    body_format: str  # "html" or "text", as Apprise names them
    text: str = ""  # the text template: the plain-text part of an email
    notify_type: str = "info"  # Apprise's info, success, warning or failure

    def send(self, sender: Any, timeout: float | None = None) -> Any:
        """Send through an Apprise ``sender``; an email's text part is our own text template."""
        extra = {"timeout": timeout} if timeout is not None else {}
        with email_text_part(self.body, self.text) if self.body_format == "html" else nullcontext():
            return sender.notify(
                body=self.body,
                title=self.title,
                body_format=self.body_format,
                notify_type=self.notify_type,
                **extra,
            )


def template_names(kind: str) -> tuple[str, str, str]:
    """(subject, text, html) template names of one kind."""
    stem = f"{FOLDER}/{K(kind).value}"
    return f"{stem}.subject.txt", f"{stem}.txt", f"{stem}.html"


def all_template_names() -> list[str]:
    names = [f"{FOLDER}/{base}" for base in BASES]
    return names + [name for kind in K for name in template_names(kind)]


templating.register(*all_template_names())


def compose(settings: Settings, kind: str, context: Mapping[str, Any], channel: str) -> Message:
    """The rendered message of one outbox row; HTML for email, text elsewhere."""
    subject, text, html = template_names(kind)
    values = template_context(settings, kind, context)
    as_html = channel == EMAIL
    plain = templating.render(settings.templates_dir, text, values)
    body = templating.render(settings.templates_dir, html, values) if as_html else plain
    title = subject_line(templating.render(settings.templates_dir, subject, values))
    urgency = URGENCY.get(K(kind).value, "info")
    return Message(title, body, "html" if as_html else "text", plain, urgency)


def subject_line(text: str) -> str:
    """One line, no CR/LF (no header injection, no second line on a lock screen)."""
    return " ".join(text.split())[:SUBJECT_MAX]


def template_context(settings: Settings, kind: str, context: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {key: None for key in KEYS} | {"count": 0, "more": 0}
    values |= {key: value for key, value in context.items() if key in KEYS}
    values["items"] = [_item(settings, item) for item in context.get("items") or []]
    values |= {"kind": K(kind).value, "label": LABELS[kind], "link": _link(settings, values)}
    return values


def _item(settings: Settings, item: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {key: item.get(key) for key in ITEM_KEYS}
    values["label"] = LABELS.get(values["kind"] or "", "Reminder")
    values["link"] = _link(settings, values)
    return values


def _link(settings: Settings, values: Mapping[str, Any]) -> str | None:
    path = values.get("path")
    return f"{settings.base_url}{path}" if path else None
