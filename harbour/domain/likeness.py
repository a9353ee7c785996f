"""What makes two referrals likely the same youth: the same name, written loosely, and birth date.

The text is what the blind index is computed over (``harbour.cases.duplicates``); it is never
stored or shown. Names match whatever their case, accents, spacing and punctuation ("José
Ortiz-Ruiz" and "jose  ortiz ruiz"), so that a referral typed differently still matches.
"""

from __future__ import annotations

import unicodedata
from datetime import date


def loose_name(name: str) -> str:
    """``name`` compatibility-folded (NFKD), without accents or punctuation, casefolded, its
    words separated by single spaces."""
    decomposed = unicodedata.normalize("NFKD", name)
    kept = (c for c in decomposed if not unicodedata.combining(c))
    words = "".join(c if c.isalnum() else " " for c in kept).casefold().split()
    return " ".join(words)


def identity_text(name: str, date_of_birth: date | str | None) -> str:
    """The text two referrals of the same youth share: loose name and birth date (or nothing
    when it is unknown, so that two referrals without one match on the name)."""
    born = date_of_birth.isoformat() if isinstance(date_of_birth, date) else date_of_birth or ""
    return f"youth|{loose_name(name)}|{born}"
