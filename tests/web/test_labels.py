"""The console's messages name its buttons and labels as the pages show them (“Finalize”,
“Record the return”): those names live in the templates, and a message in Python that quotes one
says it a second time. Each quoted name must still be on some page, so a relabelled button
fails here rather than leaving a message that points at nothing."""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUOTED = re.compile(r"“([^”{}]+)”")  # a name as a page shows it (not a value put in by format)


def quoted_in_code() -> set[tuple[str, str]]:
    found = set()
    for module in (ROOT / "harbour" / "web").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found |= {(module.name, name) for name in QUOTED.findall(node.value)}
    return found


def test_every_name_a_message_quotes_is_on_a_page() -> None:
    pages = html.unescape(
        " ".join(p.read_text() for p in (ROOT / "templates" / "web").glob("*.html"))
    )
    quoted = quoted_in_code()
    assert len(quoted) > 10  # the check reads what it should
    missing = sorted((module, name) for module, name in quoted if name not in pages)
    assert not missing, f"quoted in a message, on no page: {missing}"
