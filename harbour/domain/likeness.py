"""What makes two referrals likely the same youth: the same name, written loosely, and birth date.

The text is what the blind index is computed over (``harbour.cases.duplicates``); it is never
stored or shown. Names match whatever their case, accents, spacing and punctuation ("José
Ortiz-Ruiz" and "jose  ortiz ruiz"), so that a referral typed differently still matches.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# Letters NFKD leaves whole (no accent to strip), written as their base letters are typed on a
# keyboard without them: "Søren" and "Soren", "Łucja" and "Lucja" are one name.
_UNDECOMPOSED = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae",
                               "œ": "oe", "þ": "th", "ð": "d"})  # fmt: skip
# A generational suffix ends the name whichever order the rest is in: the comma before it in
# "José Ortiz, Jr." is not one of family name first.
_SUFFIX = re.compile(r"[\s,]+(jr|sr|ii|iii|iv)\.?\s*$", re.IGNORECASE)


def loose_name(name: str) -> str:
    """``name`` compatibility-folded (NFKD), casefolded, its letters and digits alone: without
    accents, punctuation or spacing, so "O'Neil", "ONeil" and "O Neil" are one name
    (punctuation made a space, "o neil" and "oneil" were two youth). Written family name first
    with a comma ("Ortiz, José"), it is read in the usual order ("José Ortiz"); a generational
    suffix stays last ("José Ortiz, Jr." and "Ortiz, José, Jr." are "José Ortiz Jr.")."""
    suffix = _SUFFIX.search(name)
    if suffix is not None:
        name = name[: suffix.start()]
    family, comma, given = name.partition(",")
    if comma:
        name = f"{given} {family}"
    if suffix is not None:
        name = f"{name} {suffix.group(1)}"
    decomposed = unicodedata.normalize("NFKD", name).casefold().translate(_UNDECOMPOSED)
    return "".join(c for c in decomposed if c.isalnum())


def identity_text(name: str, date_of_birth: date | str | None) -> str:
    """The text two referrals of the same youth share: loose name and birth date (or nothing
    when it is unknown, so that two referrals without one match on the name)."""
    born = date_of_birth.isoformat() if isinstance(date_of_birth, date) else date_of_birth or ""
    return f"youth|{loose_name(name)}|{born}"
