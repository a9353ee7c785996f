"""Time-based one-time codes (RFC 6238, 30 s steps, 6 digits): one step of drift either way, and
no step accepted twice for the same account."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

from harbour.domain.text import is_digits

ISSUER = "Harbour"
WINDOW = 1


def new_secret() -> str:
    return pyotp.random_base32()


def accepted_step(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The step ``code`` belongs to, if it is current (give or take one) and newer than
    ``last_step``; otherwise None, as for anything but six digits 0-9 (other scripts' digits
    too: ``compare_digest`` takes ASCII text only)."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and is_digits(code)):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def provisioning_uri(secret: str, handle: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=handle, issuer_name=ISSUER)
