"""Identifying text never travels in a process's arguments: every local account can read those
(``/proc/*/cmdline``, ``ps``) and shell history keeps them. Sensitive options take ``@FILE`` or
``-`` (standard input, or a prompt without echo on a terminal); a value given itself is refused."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harbour.app import App
from tests.cli.helpers import answers_file, ok, referred_case
from tests.db.helpers import row_counts
from tests.support import given, invoke

M = "Qx9argv"  # every sensitive value below starts with it


def _watch(stop: threading.Event, seen: list[bytes]) -> None:
    """What another account sees: every process's arguments, read over and over."""
    while not stop.wait(0.01):  # a harbour process lives a second or more: none slips by
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                with contextlib.suppress(OSError):  # the process ended meanwhile
                    seen.append(Path(f"/proc/{pid}/cmdline").read_bytes())


def _env(app: App) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBOUR_")}
    return env | {
        "HARBOUR_HOME": str(app.settings.home),
        "HARBOUR_DATABASE_URL": app.settings.resolved_database_url,
        "HARBOUR_KEY_FILE": str(app.settings.resolved_key_file),
        "HARBOUR_FROZEN_TIME": app.clock.now().isoformat(),
    }


def _harbour(app: App, *args: str, stdin: str = "") -> dict[str, object]:
    """``harbour ARGS --json`` as a process of its own, as a caseworker's shell runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "harbour", *args, "--json"],
        input=stdin,
        env=_env(app),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (args, done.stderr)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _lifecycle(app: App, ref: str) -> list[tuple[str, ...]]:
    """Seven commands that write identifying text, given by ``@FILE`` or ``-``; their argv.

    One runs as a process of its own (a value from a file, one from standard input), for the
    watcher to see; the others in-process. A process's ``/proc/PID/cmdline`` is the argv it was
    started with, and a command starts no process of its own (the watcher, reading all along,
    would see one), so what another account could see of each is its argv: the test checks it.
    Seven processes, with /proc read every 10 ms while they ran, took 45 s of CPU on the two
    backends; the values' way in (``@FILE``, ``-``) is the same in-process."""
    commands: list[tuple[tuple[str, ...], str | None]] = [
        (("plan", "add", ref, "--section", "steps", "--text", given(f"{M}step"), "--owner", "youth",
          "--as", "cw1"), None),
        (("plan", "youth-copy", ref, "--title", "-", "--as", "cw1"), f"{M}title\n"),
        (("case", "person", "add", ref, "--kind", "trusted_contact", "--name", given(f"{M}name"),
          "--phone", "-", "--as", "cw1"), f"{M}phone"),
        (("case", "threat", "add", ref, "--kind", "network", "--name", given(f"{M}threat"),
          "--description", "-", "--protective-order", "--protective-order-details",
          given(f"{M}order"), "--as", "cw1"), f"{M}description"),
        (("case", "person", "edit", ref, "0", "--notes", "-", "--address", given(f"{M}address"),
          "--as", "cw1"), f"{M}notes"),
        (("override", ref, "--level", "high", "--reason", "-", "--as", "sup"), f"{M}why"),
        (("agency", "add", "east", "--address", given(f"{M}agency"), "--as", "adm"), None),
    ]  # fmt: skip
    for args, stdin in commands:
        if args[:3] == ("case", "person", "add"):
            _harbour(app, *args, stdin=stdin or "")
        else:
            _ok_in_process(app, stdin, *args)
    return [args for args, _ in commands]


def _ok_in_process(app: App, stdin: str | None, *args: str) -> None:
    result = invoke(app, *args, "--json", stdin=stdin)
    assert result.exit_code == 0, (args, result.stderr)


@pytest.mark.slow
@pytest.mark.timeout(300)  # a command as a process of its own, beside the six in-process
def test_a_lifecycle_shows_no_value_to_other_processes(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    initial = answers_file(seeded, tmp_path, "initial")
    ok(seeded, "assess", ref, "--point", "initial_contact", "--answers", initial, "--as", "cw1")
    stop, seen = threading.Event(), []  # type: threading.Event, list[bytes]
    watcher = threading.Thread(target=_watch, args=(stop, seen))
    watcher.start()
    try:
        argvs = _lifecycle(seeded, ref)
    finally:
        stop.set()
        watcher.join()
    commands = {line for line in seen if b"-m\0harbour\0" in line}
    assert any(b"\0person\0add\0" in line for line in commands)  # the watcher did see it
    assert [line for line in seen if M.encode() in line] == []
    assert [args for args in argvs if M in "\0".join(args)] == []  # the in-process ones' argv
    shown = json.dumps(ok(seeded, "case", "show", ref, "--as", "sup"))
    words = ("name", "phone", "address", "threat", "description", "order", "notes")
    assert all(f"{M}{word}" in shown for word in words), shown
    plan = json.dumps(ok(seeded, "plan", "show", ref, "--as", "cw1"))
    assert f"{M}step" in plan


def test_a_value_on_the_command_line_is_refused_saying_how(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    before = row_counts(seeded)
    for args in (
        ("override", ref, "--level", "high", "--reason", f"{M}why"),
        ("case", "person", "edit", ref, "0", "--phone", f"{M}phone"),
        ("plan", "youth-copy", ref, "--title", f"{M}title"),
    ):
        result = invoke(seeded, *args, "--as", "sup")
        option = args[-2]
        assert result.exit_code == 2 and result.stdout == "", result.stderr
        assert f"{option} @FILE" in result.stderr and f"{option} -" in result.stderr
        assert M not in result.stderr
    assert row_counts(seeded) == before


def test_standard_input_serves_one_option(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    before = row_counts(seeded)
    edit = ("case", "person", "edit", ref, "0", "--phone", "-")
    two = invoke(seeded, *edit, "--notes", "-", "--as", "sup", stdin=f"{M}phone")
    assert two.exit_code == 2 and "read by one option only" in two.stderr
    assert row_counts(seeded) == before
    one = invoke(seeded, *edit, "--as", "sup", stdin="555-0100\n")
    assert one.exit_code == 0, one.stderr
    assert ok(seeded, "case", "show", ref, "--as", "sup")["people"][0]["phone"] == "555-0100"


# The prompt is the terminal's business, the same on either store (two seconds of CPU each).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.timeout(300)
def test_on_a_terminal_the_value_is_asked_for_and_not_echoed(seeded: App, tmp_path: Path) -> None:
    ref = referred_case(seeded, tmp_path)
    env = _env(seeded)
    args = ["case", "person", "edit", ref, "0", "--notes", "-", "--as", "sup"]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: harbour on a terminal of its own
        os.execve(sys.executable, [sys.executable, "-m", "harbour", *args], env)
    shown = _read_until(terminal, b"(not shown): ")
    os.write(terminal, f"{M}typed\n".encode())
    shown += _read_until(terminal, b"")
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 0, shown
    assert b"notes (not shown): " in shown and M.encode() not in shown
    assert ok(seeded, "case", "show", ref, "--as", "sup")["people"][0]["notes"] == f"{M}typed"


def _read_until(terminal: int, end: bytes) -> bytes:
    """What the terminal shows, up to ``end`` (or until the program has finished)."""
    shown = b""
    while not end or end not in shown:
        try:
            chunk = os.read(terminal, 1024)
        except OSError:  # the program ended and closed its side
            break
        if not chunk:
            break
        shown += chunk
    return shown
