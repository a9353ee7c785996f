"""The typer application, the options every command shares, and how errors become exit codes."""

from __future__ import annotations

import copy
import gc
import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer

from harbour.errors import HarbourError

cli = typer.Typer(
    name="harbour",
    help="Safety-planning workflows: referrals, assessments, plans and confidential alerts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

As = Annotated[
    str | None,
    typer.Option("--as", envvar="HARBOUR_ACTOR", help="Act as this staff handle."),
]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
Ref = Annotated[str, typer.Argument(help="The case reference (an unambiguous prefix will do).")]
IdempotencyKey = Annotated[
    str | None,
    typer.Option(
        help="Repeat-safe key: an opaque random value (uuidgen), stored as given; never a name."
    ),
]

_app_factory: Callable[[], Any] | None = None


def get_app(*, creating: bool = False, keys: str | None = "read") -> Any:
    """The App for this command: settings from the environment, checked before any work, and
    the store with its keyring (``App.check_store``) for the command's use of the ``keys``:
    "read", "write" for the long-running commands and those that run the lifecycle's steps,
    None for a command that never opens the store. Only ``creating`` commands (`init`, `db
    upgrade`) make a SQLite store that is not there; they check the keyring themselves."""
    from harbour.app import App
    from harbour.clock import FixedClock
    from harbour.settings import load_settings

    if _app_factory is not None:
        app = _app_factory()
    else:
        from harbour.reference.startup import check_files

        settings = load_settings()
        check_files(settings)
        clock = FixedClock(settings.frozen_time) if settings.frozen_time else None
        app = App(settings, clock) if clock else App(settings)
        app.may_create_store = creating
        # Start-up is over: what is alive now (the modules, the settings, the reference files
        # read) lives as long as the process, so the collector need not walk it again, during
        # the command or at its exit (together a fifth of a short command's time). Not for a
        # factory's App: tests and the demo create many in one process, and what they drop
        # must still be collected.
        gc.freeze()
    app.urgent_written = set()  # this command's own pages, for its warning (after_commit)
    if keys is not None and not creating:
        app.check_store(keys)
    return app


def committed(app: Any) -> None:
    """After a command's transaction: run the lifecycle steps it set off (embedded mode)."""
    from harbour.orchestration.pipeline import after_commit

    after_commit(app)


def set_app_factory(factory: Callable[[], Any] | None) -> None:
    """Tests and the demo hand commands their own App (a simulated clock, a temporary store)."""
    global _app_factory
    _app_factory = factory


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | str | None = None) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=_json_default, ensure_ascii=False))
    elif callable(human):
        typer.echo(human(data))
    elif human is not None:
        typer.echo(human)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def say_home_narrowed(app: Any, mode: int | None) -> None:
    """Tell the operator that HARBOUR_HOME was open to others and is now owner-only."""
    if mode is not None:
        typer.echo(
            f"warning: {app.settings.home} had mode {mode:04o}, open to group or others; "
            "made it 0700 (owner only)",
            err=True,
        )


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from harbour.notify.routes import pin_apprise_logger

    pin_apprise_logger()  # guide/confidentiality.md


_built: dict[tuple[int, str | None], tuple[int, Any]] = {}


def _command(app: typer.Typer, argv: list[str] | None = None) -> Any:
    """The click command behind ``app``, built once: typer rebuilds it on every call otherwise.
    When ``argv`` names one of its commands or groups, only that one is built (typer reads the
    signature of every command it builds: half a second of a command's start for all of
    Harbour's); otherwise (``--help``, a mistyped name) the whole tree, for click's messages."""
    size = len(app.registered_commands) + len(app.registered_groups)
    name = argv[0] if argv and not argv[0].startswith("-") else None
    only = _only(app, name) if name else None
    key = (id(app), name if only else None)
    cached = _built.get(key)
    if cached is None or cached[0] != size:
        built = typer.main.get_group(only) if only else typer.main.get_command(app)
        cached = _built[key] = (size, built)
    return cached[1]


def _only(app: typer.Typer, name: str) -> typer.Typer | None:
    """A copy of ``app`` holding only its command or group called ``name``, if there is one."""
    commands = [
        info
        for info in app.registered_commands
        if (info.name or typer.main.get_command_name(getattr(info.callback, "__name__", "")))
        == name
    ]
    groups = [info for info in app.registered_groups if info.name == name]
    if len(commands) + len(groups) != 1:
        return None
    pruned = copy.copy(app)
    pruned.registered_commands, pruned.registered_groups = commands, groups
    return pruned


def run(app: typer.Typer, args: list[str] | None = None) -> int:
    """Run the CLI; Harbour's errors print their safe message and map to exit codes. With
    ``--json`` they print as a JSON object on stderr, ``{"error": code, "detail": text}`` (and
    ``problems``, a list of ``{"field", "reason"}``, for bad input), so scripts can parse them."""
    configure_logging()
    argv = sys.argv[1:] if args is None else args
    as_json = "--json" in argv
    try:
        returned = _command(app, argv)(args=args, standalone_mode=False)
        # Outside standalone mode typer catches a command's ``typer.Exit`` itself and hands its
        # code back as the return value (commands return None), so the code is read from there.
        return returned if isinstance(returned, int) and not isinstance(returned, bool) else 0
    except HarbourError as exc:
        problems = getattr(exc, "problems", None)
        if as_json:
            extra: dict[str, object] = (
                {"problems": [{"field": f, "reason": r} for f, r in problems]} if problems else {}
            )
            extra |= exc.json_extra()
            _json_error(exc.code, exc.detail, **extra)
        else:
            for line in exc.lines():
                typer.echo(f"error: {line}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _error("aborted", "aborted", as_json, plain="aborted")
        return 1
    except typer.TyperException as exc:  # typer's own click: usage errors and the like
        message = _unquoted(exc, argv)
        ctx = getattr(exc, "ctx", None)
        if as_json:
            _json_error("usage" if exc.exit_code == 2 else "error", message)
        elif hasattr(exc, "show") and ctx is not None:  # a usage error: the usage, then why
            help_hint = f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help."
            typer.echo(f"{ctx.get_usage()}\n{help_hint}\n\nError: {message}", err=True)
        else:
            typer.echo(f"error: {message}", err=True)
        return exc.exit_code
    except Exception as exc:  # the last line of defence: no traceback, no values
        detail = f"{type(exc).__name__}; nothing was shown"
        _error("internal", detail, as_json, plain=f"error: internal ({detail})")
        return 1


_TYPED = "(what was typed)"


def _unquoted(exc: typer.TyperException, argv: list[str]) -> str:
    """Click's message without the words typed on the command line it quotes ("Got unexpected
    extra argument(s) (Jane Roe)", "No such option: --555-0100"): a name or an address slipped
    in by mistake is not echoed (guide/confidentiality.md). The CLI's own names (its commands and
    options, as in "Did you mean --json?") are kept."""
    message = exc.format_message()
    known = _names(getattr(exc, "ctx", None))
    typed = {
        part
        for arg in argv
        for part in (arg, *arg.split("=", 1))
        if part not in known and any(c.isalnum() for c in part)
    }
    for word in sorted(typed, key=len, reverse=True):
        message = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", _TYPED, message)
    return message


def _names(ctx: Any) -> set[str]:
    """The names of the commands and options of ``ctx`` and the contexts around it."""
    names: set[str] = set()
    while ctx is not None:
        command = ctx.command
        names.add(command.name or "")
        for param in command.params:
            names.update((*param.opts, *param.secondary_opts))
        if hasattr(command, "list_commands"):  # a group
            names.update(command.list_commands(ctx))
        names.update(ctx.help_option_names)
        ctx = ctx.parent
    return names


def _json_error(code: str, detail: str, **extra: Any) -> None:
    typer.echo(json.dumps({"error": code, "detail": detail, **extra}, ensure_ascii=False), err=True)


def _error(code: str, detail: str, as_json: bool, *, plain: str) -> None:
    if as_json:
        _json_error(code, detail)
    else:
        typer.echo(plain, err=True)
