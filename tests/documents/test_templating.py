"""The shared Jinja environment: allowlist, autoescape, strict undefined, inert data."""

from __future__ import annotations

from pathlib import Path

import pytest

from harbour import templating
from harbour.errors import RenderError
from harbour.templating import environment, register, render


@pytest.fixture
def tdir(tmp_path: Path) -> Path:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "page.html").write_text("<p>{{ value }}</p>")
    (tmp_path / "t" / "page.txt").write_text("{{ value }}\n")
    (tmp_path / "t" / "page.md").write_text("{{ value | md }}\n")
    (tmp_path / "t" / "inc.html").write_text("{% include 't/secret.html' %}")
    (tmp_path / "t" / "secret.html").write_text("secret")
    register("t/page.html", "t/page.txt", "t/page.md", "t/inc.html")
    yield tmp_path
    templating.ALLOWED.difference_update({"t/page.html", "t/page.txt", "t/page.md", "t/inc.html"})
    environment.cache_clear()


def test_html_autoescapes_and_text_does_not(tdir: Path) -> None:
    assert render(tdir, "t/page.html", {"value": "<script>"}) == "<p>&lt;script&gt;</p>"
    assert render(tdir, "t/page.txt", {"value": "<b>"}) == "<b>\n"


def test_data_is_never_evaluated(tdir: Path) -> None:
    assert render(tdir, "t/page.txt", {"value": "{{ 7*7 }}"}) == "{{ 7*7 }}\n"


def test_markdown_filter_escapes_syntax_and_html(tdir: Path) -> None:
    out = render(tdir, "t/page.md", {"value": "*x* <script> [a](b) & 2026-03-09."})
    assert out == "\\*x\\* \\<script\\> \\[a\\](b) \\& 2026-03-09.\n"
    assert render(tdir, "t/page.md", {"value": "1. x\n# y"}) == "1\\. x \\# y\n"
    assert render(tdir, "t/page.md", {"value": "- x"}) == "\\- x\n"


def test_bidi_override_is_shown_not_obeyed(tdir: Path) -> None:
    assert render(tdir, "t/page.txt", {"value": "a\u202eb"}) == "a[U+202E]b\n"


def test_missing_and_none_values_fail(tdir: Path) -> None:
    with pytest.raises(RenderError):
        render(tdir, "t/page.txt", {})
    with pytest.raises(RenderError):
        render(tdir, "t/page.txt", {"value": None})


def test_only_registered_names_load(tdir: Path) -> None:
    with pytest.raises(RenderError, match="template_not_allowed"):
        render(tdir, "t/secret.html", {})
    with pytest.raises(RenderError):
        render(tdir, "t/inc.html", {})


def test_from_string_is_refused(tdir: Path) -> None:
    with pytest.raises(RenderError):
        environment(tdir).from_string("{{ 1 }}")


def test_the_shipped_templates_are_the_default_and_an_agencys_own_folder_wins(
    tdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harbour.settings import Settings
    from harbour.shipped import shipped_templates

    monkeypatch.delenv("HARBOUR_TEMPLATES_DIR", raising=False)
    assert Settings().templates_dir == shipped_templates()
    assert (shipped_templates() / "plans" / "staff.html").is_file()
    monkeypatch.setenv("HARBOUR_TEMPLATES_DIR", str(tdir))
    own = Settings().templates_dir
    assert own == tdir and render(own, "t/page.txt", {"value": "ours"}) == "ours\n"
