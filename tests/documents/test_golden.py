"""Golden files: each audience in each format for one fixed plan, byte for byte.

Regenerate after an intended change with ``HARBOUR_UPDATE_GOLDEN=1 pytest tests/documents`` and
review the diff of ``tests/documents/golden/`` like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.documents.fixtures import fixed_plan
from tests.documents.helpers import EXTENSIONS, FORMATS, rendered

GOLDEN = Path(__file__).parent / "golden"
CASES = [(a, f, "en") for a in ("staff", "youth", "family") for f in FORMATS] + [
    ("youth", "text", "es"),
    ("family", "md", "es"),
]


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("HARBOUR_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
    assert path.exists(), f"missing golden file {name}: run with HARBOUR_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.mark.parametrize(("audience", "fmt", "lang"), CASES)
def test_matches_golden_file(audience: str, fmt: str, lang: str) -> None:
    suffix = "" if lang == "en" else f".{lang}"
    check_golden(
        f"{audience}{suffix}.{EXTENSIONS[fmt]}", rendered(fixed_plan(), audience, fmt, lang)
    )


@pytest.mark.parametrize("audience", ["staff", "youth", "family"])
def test_same_plan_same_bytes(audience: str) -> None:
    for fmt in FORMATS:
        assert rendered(fixed_plan(), audience, fmt) == rendered(fixed_plan(), audience, fmt)


def test_staff_html_with_every_section_empty_matches_golden_file() -> None:
    """The branches the fixed plan never takes: each section saying there is nothing."""
    empty = fixed_plan(items=(), threats=(), contacts=(), resources=(), reasons=())
    check_golden("staff.empty.html", rendered(empty, "staff", "html"))
