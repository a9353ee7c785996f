"""Case references: random (140 bits), readable aloud, never derived from anything about the youth.

Full form ``HB-7K3Q-9XTM-ABCD-EFGH-JKMN-PQRS-TVWX``; staff may type any prefix of at least one
group (``HB-7K3Q``) that is unambiguous within their agency (the short form, two groups, is what
messages show), in any case, with O for 0 and I or L for 1.
"""

from __future__ import annotations

import base64
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
GROUPS = 7
GROUP_LEN = 4
PREFIX = "HB"
MIN_TYPED = 4  # one group: 20 bits; a prefix two cases share is refused as ambiguous

_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


# Base32's own alphabet, letter for letter into Crockford's: each character of a base32
# encoding of random bytes is as random as a choice of the alphabet, 5 bits each.
_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)


def new_reference() -> str:
    length = GROUPS * GROUP_LEN  # 28 characters, 140 bits
    random_bytes = secrets.token_bytes((length * 5 + 7) // 8)
    chars = base64.b32encode(random_bytes).decode()[:length].translate(_CROCKFORD)
    return format_reference(chars)


def format_reference(chars: str) -> str:
    groups = [chars[i : i + GROUP_LEN] for i in range(0, len(chars), GROUP_LEN)]
    return "-".join([PREFIX, *groups])


def short_form(reference: str) -> str:
    return "-".join(reference.split("-")[:3])


def normalise_typed(typed: str) -> str | None:
    """The canonical prefix of what staff typed, or None if it cannot be a reference."""
    text = typed.strip().upper().replace(" ", "").replace("-", "")
    if text.startswith(PREFIX):
        text = text[len(PREFIX) :]
    text = text.translate(_READ_AS)
    if not (MIN_TYPED <= len(text) <= GROUPS * GROUP_LEN) or any(c not in ALPHABET for c in text):
        return None
    return format_reference(text)
