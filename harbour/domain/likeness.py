"""What makes two referrals likely the same youth: the same name, written loosely, and birth date.

The text is what the blind index is computed over (``harbour.cases.duplicates``); it is never
stored or shown. Names match whatever their case, accents, spacing and punctuation ("José
Ortiz-Ruiz" and "jose  ortiz ruiz"), so that a referral typed differently still matches.
"""

from __future__ import annotations

import unicodedata
from datetime import date


def loose_name(name: str) -> str:
    """``name`` compatibility-folded (NFKD), casefolded, its letters and digits alone: without
    accents, punctuation or spacing, so "O'Neil", "ONeil" and "O Neil" are one name
    (punctuation made a space, "o neil" and "oneil" were two youth)."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if c.isalnum()).casefold()


def identity_text(name: str, date_of_birth: date | str | None) -> str:
    """The text two referrals of the same youth share: loose name and birth date (or nothing
    when it is unknown, so that two referrals without one match on the name)."""
    born = date_of_birth.isoformat() if isinstance(date_of_birth, date) else date_of_birth or ""
    return f"youth|{loose_name(name)}|{born}"
