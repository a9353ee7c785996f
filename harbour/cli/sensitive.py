"""Options for identifying or sensitive text, which never come from the command line itself.

Every local account can read a process's arguments (``/proc/*/cmdline``, ``ps``) and shell
history keeps them, so such an option takes ``@FILE`` (read from a file) or ``-`` (standard input:
a prompt that does not echo when it is a terminal, else what is piped in). A value written out on
the command line is refused, with how to give it instead. ``""`` (nothing) is allowed.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

import typer

from harbour.errors import InvalidInput
from harbour.validation import MAX_DOCUMENT_BYTES, read_bounded

STDIN = "-"
_STDIN_READ = "harbour.stdin_read"


def sensitive_option(help: str = "") -> Any:
    """A typer option whose value is read from ``@FILE`` or ``-``, never given in argv."""
    where = (
        "Never the text itself: @FILE reads it from a file, - from a prompt (not echoed) or a pipe."
    )
    return typer.Option(help=f"{help} {where}".strip(), metavar="@FILE|-", callback=_read_sensitive)


def _read_sensitive(
    ctx: typer.Context, param: typer.CallbackParam, value: str | None
) -> str | None:
    if not value:
        return value
    option = param.opts[0] if param.opts else str(param.name)
    if value.startswith("@"):
        return _text(read_bounded(Path(value[1:])), option)
    if value == STDIN:
        return _from_stdin(ctx, option)
    raise InvalidInput(
        [
            (
                option,
                "is never taken from the command line (every local account can read it there, "
                f"and shell history keeps it): put it in a file and pass {option} @FILE, or "
                f"pass {option} - and type it (not echoed) or pipe it in",
            )
        ]
    )


def url_option(help: str, envvar: str) -> Any:
    """A typer option for a database URL: a URL with a password is taken from ``@FILE``, ``-``
    or ``envvar``, never from the command line (one without is, as written)."""
    where = f"With a password: @FILE, - (a prompt or a pipe) or {envvar}, never the URL itself."
    return typer.Option(
        help=f"{help} {where}", envvar=envvar, metavar="URL|@FILE|-", callback=_read_url
    )


def _read_url(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    if not value or value.startswith("@") or value == STDIN:
        return _read_sensitive(ctx, param, value)
    source = ctx.get_parameter_source(str(param.name))
    typed = source is not None and source.name == "COMMANDLINE"  # (typer's click, or click's)
    if typed and _has_password(value):
        option = param.opts[0] if param.opts else str(param.name)
        envvar = param.envvar if isinstance(param.envvar, str) else "its environment variable"
        reason = (
            "holds a password, which is never taken from the command line (every local account "
            f"can read it there, and shell history keeps it): pass {option} @FILE or {option} -, "
            f"or set {envvar}"
        )
        raise InvalidInput([(option, reason)])
    return value


# libpq's keywords that take a password in a URL's query (``?password=``), as psycopg passes on.
_QUERY_PASSWORDS = frozenset({"password", "sslpassword"})


def _has_password(url: str) -> bool:
    """A password before the host, or in the query (libpq takes it there too)."""
    from urllib.parse import parse_qsl, urlsplit

    try:
        parts = urlsplit(url)
        in_query = any(k.lower() in _QUERY_PASSWORDS for k, _ in parse_qsl(parts.query, True))
        return parts.password is not None or in_query
    except ValueError:
        return False


def _from_stdin(ctx: typer.Context, option: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"{option.removeprefix('--')} (not shown): ")
    if ctx.meta.get(_STDIN_READ):
        reason = "standard input is read by one option only: give the others as @FILE"
        raise InvalidInput([(option, reason)])
    ctx.meta[_STDIN_READ] = True
    raw = sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InvalidInput([(option, "standard input is larger than 1 MB")])
    return _text(raw, option)


def _text(raw: bytes, option: str) -> str:
    try:
        return raw.decode("utf-8-sig").rstrip("\r\n")  # the newline ending a file or a line typed
    except UnicodeDecodeError:
        raise InvalidInput([(option, "is not UTF-8 text")]) from None
