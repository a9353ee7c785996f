"""What messages say: every template with every kind, against the banned list; the allowlist."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbour import templating
from harbour.domain.vocab import NotificationKind
from harbour.notify.context import ContextError, clean_context
from harbour.notify.messages import (
    LOCK_SCREEN_UNSAID,
    all_template_names,
    compose,
    subject_line,
    template_context,
)
from harbour.settings import Settings
from tests.notify.helpers import AGENCY_WORDS, BANNED_WORDS

SETTINGS = Settings(base_url="https://harbour.test")
SAMPLE = {
    "case_ref": "HB-7K3Q-9XTM",
    "due_date": "2026-03-05",
    "alert_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "path": "/cases/HB-7K3Q-9XTM-ABCD-EFGH-JKMN-PQRS-TVWX",
    "tier": 2,
    "count": 2,
    "more": 1,
    "failed_kind": "imminent_threat",
    "outbox_id": "00112233445566778899aabbccddeeff",
    "event": "harbour.case.referred",
    "error": "render_failed",
    "handle": "wes",
    "items": [
        {"case_ref": "HB-7K3Q-9XTM", "kind": "assessment_due_soon", "due_date": "2026-03-05"},
        {"case_ref": "HB-ABCD-EFGH", "kind": "follow_up_due", "path": "/cases/HB-ABCD"},
    ],
}


def test_every_template_file_is_registered_and_every_kind_has_its_three() -> None:
    folder = SETTINGS.templates_dir / "notifications"
    on_disk = {f"notifications/{p.name}" for p in Path(folder).iterdir()}
    assert on_disk == set(all_template_names())
    assert set(all_template_names()) <= templating.ALLOWED


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_every_template_with_every_kind_says_nothing_it_should_not(kind: NotificationKind) -> None:
    for context in (SAMPLE, {}):
        values = template_context(SETTINGS, kind, context)
        for name in all_template_names():
            if name.rsplit("/", 1)[1].startswith("_"):
                continue
            text = templating.render(SETTINGS.templates_dir, name, values)
            _check(text, subject=name.endswith(".subject.txt"))


@pytest.mark.parametrize("kind", list(NotificationKind))
@pytest.mark.parametrize("channel", ["email", "chat", "any"])
def test_composed_messages_point_and_say_nothing_else(kind: NotificationKind, channel: str) -> None:
    message = compose(SETTINGS, kind, SAMPLE, channel)
    _check(message.title, subject=True)
    _check(message.body, subject=False)
    assert message.body_format == ("html" if channel == "email" else "text")
    # The chat preview is the title and the body's first line.
    _check(message.body.strip().splitlines()[0], subject=True)


def _check(text: str, *, subject: bool) -> None:
    lowered = text.lower()
    for word in (*BANNED_WORDS, *AGENCY_WORDS):
        assert word.lower() not in lowered, word
    if subject:
        assert "\n" not in text.strip() and "\r" not in text
        assert len(text) <= 120


def test_links_are_built_from_the_base_url() -> None:
    message = compose(SETTINGS, NotificationKind.CASE_ASSIGNED, SAMPLE, "chat")
    assert "https://harbour.test/cases/HB-7K3Q-9XTM-ABCD" in message.body
    assert "HB-7K3Q-9XTM" in message.title


def test_subject_lines_lose_cr_and_lf() -> None:
    assert subject_line("Harbour:\r\nBcc: someone\n  x") == "Harbour: Bcc: someone x"


@pytest.mark.parametrize(
    "context",
    [
        {"name": "Jane"},
        {"case_ref": "Jane Doe"},  # a space: free text does not pass
        {"due_date": "12 Elm Street"},
        {"note": "x"},
        {"items": [{"case_ref": "HB-1", "name": "x"}]},
        {"items": "HB-1"},
        {"case_ref": "a\nb"},
        {"tier": True},
        {"case_ref": {"nested": "x"}},
    ],
)
def test_context_outside_the_allowlist_is_refused(context: dict[str, object]) -> None:
    with pytest.raises(ContextError) as caught:
        clean_context(context)
    assert "Jane" not in str(caught.value) and "Elm" not in str(caught.value)


def test_allowlisted_context_passes_unchanged() -> None:
    assert clean_context(SAMPLE) == SAMPLE


@pytest.mark.parametrize("kind", list(NotificationKind))
@pytest.mark.parametrize("channel", ["email", "chat"])
def test_lock_screens_never_show_the_words_kept_off_them(
    kind: NotificationKind, channel: str
) -> None:
    """A subject and a chat preview's first line never say "missing" (``LOCK_SCREEN_UNSAID``);
    the missing-youth steps' body, read once the phone is unlocked, says what is due."""
    message = compose(SETTINGS, kind, SAMPLE, channel)
    first_line = message.body.strip().splitlines()[0] if channel == "chat" else ""
    for word in LOCK_SCREEN_UNSAID:
        assert word not in message.title.lower() and word not in first_line.lower()
    if kind in (NotificationKind.MISSING_STEPS_DUE, NotificationKind.MISSING_STEPS_OVERDUE):
        assert "Missing-youth steps due" in message.body
        assert "HB-7K3Q-9XTM" in message.title and SAMPLE["alert_id"][:8] in message.title


def test_an_overdue_visit_says_whose_and_nothing_of_where() -> None:
    context = {"alert_id": SAMPLE["alert_id"], "handle": "wes", "tier": 1}
    message = compose(SETTINGS, NotificationKind.VISIT_OVERDUE, context, "chat")
    assert message.title.startswith("Harbour: URGENT, visit check-in overdue: wes, alert")
    assert "escalation level 1" in message.body


def test_back_safe_says_whose_visit_stands_down_and_asks_nothing() -> None:
    context = {"alert_id": SAMPLE["alert_id"], "handle": "wes", "path": "/alerts/0f1e2d3c"}
    for channel in ("chat", "email"):
        message = compose(SETTINGS, NotificationKind.VISIT_BACK, context, channel)
        assert message.title == "Harbour: visit check-in, back safe: wes, alert 0f1e2d3c"
        assert "stands down" in message.body and "harbour ack" not in message.body
        assert message.notify_type == "success"


@pytest.mark.parametrize(
    ("kind", "urgency"),
    [
        (NotificationKind.IMMINENT_THREAT, "failure"),
        (NotificationKind.VISIT_OVERDUE, "failure"),  # a colleague not back from a visit
        (NotificationKind.MISSING_STEPS_OVERDUE, "failure"),  # a youth missing, not yet reported
        (NotificationKind.MISSING_STEPS_DUE, "warning"),
        (NotificationKind.ASSESSMENT_DUE_SOON, "info"),
    ],
)
def test_a_page_about_someone_in_danger_is_coloured_as_urgent_in_chat(
    kind: NotificationKind, urgency: str
) -> None:
    assert compose(SETTINGS, kind, dict(SAMPLE), "chat").notify_type == urgency
