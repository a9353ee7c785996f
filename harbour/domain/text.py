"""Validated text for everything people type: NFC, bounded, no control or direction-override marks.

The rules run in the application, so SQLite (which ignores lengths and keeps NUL) and PostgreSQL
(which rejects NUL) see only the same, already-clean values.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

# Bidirectional overrides and isolates can make text read differently from what is stored.
_BIDI_CONTROLS = frozenset(
    "\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
)
# Joiners are part of how some scripts and names are written; other format marks are invisible.
_ALLOWED_FORMAT = frozenset("\u200c\u200d")
# Control, surrogate, private-use, unassigned, line and paragraph separators, format marks.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp", "Cf"})


def escaped(value: str) -> str:
    """``value`` with every control, format or direction mark (a terminal escape, say) written
    as a visible ``\\x..``/``\\u....`` escape: for text stored or shown as it was typed.
    Escaping twice changes nothing, so rows stored escaped are shown as they are."""
    return "".join(_visible(c) for c in value)


def _visible(char: str) -> str:
    if char in _BIDI_CONTROLS or unicodedata.category(char) in _REFUSED_CATEGORIES:
        return char.encode("unicode_escape").decode("ascii")
    return char


def _clean(value: object, *, max_len: int, multiline: bool) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    if multiline:
        value = value.replace("\r\n", "\n")
    text = unicodedata.normalize("NFC", value).strip()
    allowed = {"\n", "\t"} if multiline else set()
    for ch in text:
        if ch in _BIDI_CONTROLS:
            raise ValueError("contains a text-direction control character")
        if ch in allowed or ch in _ALLOWED_FORMAT:
            continue
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise ValueError("contains a control, invisible or unassigned character")
    if not text:
        raise ValueError("must not be empty")
    if len(text) > max_len:
        raise ValueError(f"must be at most {max_len} characters")
    return text


def _line(max_len: int) -> BeforeValidator:
    return BeforeValidator(lambda v: _clean(v, max_len=max_len, multiline=False))


def _block(max_len: int) -> BeforeValidator:
    return BeforeValidator(lambda v: _clean(v, max_len=max_len, multiline=True))


def _has_letter(value: str) -> str:
    if not any(c.isalnum() for c in value):
        raise ValueError("must have a letter or a digit (write what the person is called)")
    return value


# A person's name: one of punctuation alone would be any other such name to the duplicate check.
Name = Annotated[str, _line(120), AfterValidator(_has_letter)]
ShortText = Annotated[str, _line(200)]
Phone = Annotated[str, _line(40)]
Address = Annotated[str, _line(300)]
Note = Annotated[str, _block(4000)]
Title = Annotated[str, _line(60)]  # fits a wallet card


def _past_date(value: date, info: ValidationInfo) -> date:
    """Today is the App clock's (``harbour.validation.parse(..., today=)``), so a frozen or
    simulated clock decides; the machine's date only where no App is at hand."""
    today = (info.context or {}).get("today") or date.today()
    if value.year < 1900:
        raise ValueError("must be a real date (1900 or later)")
    if value > today:
        raise ValueError(f"must be in the past: it is after today ({today.isoformat()})")
    return value


_WRITTEN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _written_date(value: object) -> object:
    """A date written out (``YYYY-MM-DD``, or a YAML date); a number is refused, not read as
    seconds since 1970."""
    if isinstance(value, str) and _WRITTEN_DATE.fullmatch(value.strip()):
        return value.strip()  # a string of digits alone pydantic reads as seconds since 1970
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


def _plausible_date(value: date, info: ValidationInfo) -> date:
    """From 1900 to a hundred years after today: 0001-01-01 and 9999-12-31 are typing slips."""
    today = (info.context or {}).get("today") or date.today()
    latest = date(min(today.year + 100, date.max.year), 12, 31)
    if not date(1900, 1, 1) <= value <= latest:
        raise ValueError(f"must be between 1900-01-01 and {latest.isoformat()}")
    return value


PastDate = Annotated[date, BeforeValidator(_written_date), AfterValidator(_past_date)]
PlausibleDate = Annotated[date, BeforeValidator(_written_date), AfterValidator(_plausible_date)]


def is_digits(text: str) -> bool:
    """Whether ``text`` is one or more of the digits 0-9. ``str.isdigit`` alone also takes
    superscripts and other scripts' digits, which ``int`` refuses or reads as numbers."""
    return text.isascii() and text.isdigit()


HANDLE_MAX = 64  # characters


def check_handle(value: str) -> str:
    """Staff and agency handles double as routing tags: lower-case letters, digits, - _ ."""
    text = _clean(value, max_len=HANDLE_MAX, multiline=False)
    if not all(c.isascii() and (c.isalnum() or c in "-_.") for c in text) or text != text.lower():
        raise ValueError("use lower-case letters, digits, '-', '_' or '.'")
    return text


def is_handle(typed: str) -> bool:
    """Whether ``typed`` is a handle exactly as ``check_handle`` keeps one. Anything else names
    no one, and is never sent to a query (PostgreSQL refuses a NUL that SQLite would compare)."""
    try:
        return check_handle(typed) == typed
    except ValueError:
        return False


Handle = Annotated[str, BeforeValidator(check_handle)]


def check_email(value: object) -> str:
    """An email address: one ``@``, a dotted domain, no spaces (the mail server judges the rest)."""
    text = _clean(value, max_len=254, multiline=False)
    local, _, domain = text.rpartition("@")
    labels = domain.split(".")
    if not local or len(labels) < 2 or not all(labels) or any(c.isspace() for c in text):
        raise ValueError("must be an email address (name@example.org)")
    return text


def check_chat_address(value: object) -> str:
    """A chat address (a user id, ``@name``, a channel, a webhook's own path): one word."""
    text = _clean(value, max_len=200, multiline=False)
    if any(c.isspace() for c in text):
        raise ValueError("must be one word (a user id, @name or a channel), without spaces")
    return text


Email = Annotated[str, BeforeValidator(check_email)]
ChatAddress = Annotated[str, BeforeValidator(check_chat_address)]
SettingsUrl = Annotated[str, _line(2000)]  # an Apprise URL of an agency's mail or chat


def check_timezone(value: str) -> str:
    """An IANA zone name that exists on this machine (tzdata is a dependency)."""
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("not a known IANA time zone")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("not a known IANA time zone") from None
    return value


TimeZoneName = Annotated[str, BeforeValidator(check_timezone)]


def check_line(value: object, max_len: int) -> str:
    """One line of typed text, cleaned as every field is (``ValueError`` with a reason)."""
    return _clean(value, max_len=max_len, multiline=False)
