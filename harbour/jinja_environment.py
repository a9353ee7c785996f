"""The Jinja2 environment behind ``harbour.templating``, built on first render so that commands
that render nothing never import Jinja. The rules are described in ``harbour.templating``."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from harbour.errors import RenderError


class _AllowlistLoader(FileSystemLoader):
    def __init__(self, searchpath: str, allowed: Collection[str]) -> None:
        super().__init__(searchpath)
        self.allowed = allowed

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        if template not in self.allowed:
            raise TemplateNotFound(template)
        return super().get_source(environment, template)

    def list_templates(self) -> list[str]:
        return sorted(self.allowed)


class _Environment(Environment):
    def from_string(self, *args: Any, **kwargs: Any) -> Any:
        raise RenderError("from_string", "templates come from files only")


def build(
    templates_dir: Path,
    allowed: Collection[str],
    finalize: Callable[[Any], Any],
    markdown_escape: Callable[[Any], str],
) -> Environment:
    env = _Environment(
        loader=_AllowlistLoader(str(templates_dir), allowed),
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml"), default_for_string=True, default=False
        ),
        undefined=StrictUndefined,
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        # Every template is compiled once per process and kept: only registered names load, so
        # the allowlist bounds the cache, and a plain dict spares each render (and each
        # ``extends``) the LRU cache's lock and reordering.
        cache_size=-1,
    )
    env.filters["md"] = markdown_escape
    return env
