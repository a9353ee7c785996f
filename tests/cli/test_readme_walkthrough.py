"""The README's walkthrough ("A case at the command line") run as printed: every command of its
``console`` blocks, in a fresh HARBOUR_HOME, its output (stdout and stderr, as a terminal shows
them) compared line by line with the README's, so the README cannot drift from the product.

The README's blocks are the script:

- a block whose info string says ``file=NAME`` is written to ``NAME`` in HARBOUR_HOME;
- a ``console`` block holds ``$ command`` lines, each followed by the output it prints.

The comparison is strict on wording and tolerant of what differs on every run: case references
(``HB-...``) and 12-hex ids (alerts, written items) match any of their shape and are then bound,
so the same README value stands for the same value throughout, in commands too; an enrolment
link's token matches any token; a line ``...`` stands for any number of lines; trailing spaces
are ignored. The clock starts at ``TODAY`` and each command runs a minute after the one before,
so the dates and times printed are the README's.
Commands run in-process (``harbour`` through ``harbour.cli.base.run`` with a fresh App from the
environment, as the installed command makes one); ``cd``, ``mkdir`` and ``export`` are followed
by the harness; nothing else is run.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from harbour.app import App
from harbour.cli import cli
from harbour.cli.base import run, set_app_factory
from harbour.settings import load_settings

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## A case at the command line"
# Output that goes with a non-zero exit: an error, or a change recorded whose page reached nobody.
FAILED = ("error:", "NOBODY WAS PAGED")
TODAY = "2026-11-30T14:00:00+00:00"  # a Monday, 09:00 in New York
SHOWN_HOME = "/home/you"  # what $HOME reads as in the README's output

FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.M | re.S)
REF = re.compile(r"HB(?:-[0-9A-Z]{4}){1,7}")
HEX = re.compile(r"(?<![0-9A-Za-z_-])[0-9a-f]{12}(?![0-9A-Za-z_-])")
TOKEN = re.compile(r"(?<=/enrol/)[A-Za-z0-9_-]{20,}")


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


def walkthrough() -> tuple[dict[str, str], list[Step]]:
    """The files to write and the commands to run, in the README's order."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    files: dict[str, str] = {}
    steps: list[Step] = []
    for block in FENCE.finditer(section):
        info, body = block["info"].split(), block["body"]
        named = [word.removeprefix("file=") for word in info if word.startswith("file=")]
        if named:
            files[named[0]] = body
        elif info[:1] == ["console"]:
            for line in body.splitlines():
                if line.startswith("$ "):
                    steps.append(Step(line[2:]))
                elif steps:
                    steps[-1].expected.append(line)
    return files, steps


@dataclass
class Bindings:
    """README values (references, ids) and the values this run printed in their place."""

    values: dict[str, str] = field(default_factory=dict)

    def actual(self, shown: str) -> str | None:
        """This run's value for a README reference or id, or a prefix of one."""
        for readme, real in self.values.items():
            if readme.startswith(shown) and len(shown) >= 7:
                return real[: len(shown)]
        return None

    def command(self, line: str) -> str:
        line = REF.sub(lambda m: self.actual(m[0]) or m[0], line)
        return HEX.sub(lambda m: self.actual(m[0]) or m[0], line)

    def pattern(self, expected: str) -> tuple[re.Pattern[str], list[str]]:
        """A regex for one expected line, and the README values its groups bind."""
        parts: list[str] = []
        unbound: list[str] = []
        at = 0
        tokens = [(m.start(), m.end(), "token") for m in TOKEN.finditer(expected)]
        others = [(m.start(), m.end(), "ref") for m in REF.finditer(expected)]
        others += [(m.start(), m.end(), "hex") for m in HEX.finditer(expected)]
        inside = [o for o in others if any(t[0] <= o[0] < t[1] for t in tokens)]
        marks = sorted(set(tokens + others) - set(inside))
        for start, end, kind in marks:
            if start < at:
                continue
            parts.append(re.escape(expected[at:start]))
            shown = expected[start:end]
            real = self.actual(shown) if kind != "token" else None
            if real is not None:
                parts.append(re.escape(real))
            elif kind == "token":
                parts.append(r"[A-Za-z0-9_-]+")
            elif shown in unbound:  # the same value again in this line: the same text
                parts.append(f"(?P=g{unbound.index(shown)})")
            else:
                groups = shown.count("-")
                shape = (
                    r"HB(?:-[0-9A-Z]{4}){" + str(groups) + "}" if kind == "ref" else "[0-9a-f]{12}"
                )
                parts.append(f"(?P<g{len(unbound)}>{shape})")
                unbound.append(shown)
            at = end
        parts.append(re.escape(expected[at:]))
        return re.compile("".join(parts)), unbound

    def match(self, expected: str, actual: str) -> dict[str, str] | None:
        """The new bindings if ``actual`` is ``expected``; None if it is not."""
        regex, unbound = self.pattern(expected.rstrip())
        found = regex.fullmatch(actual.rstrip())
        if found is None:
            return None
        return {shown: found[f"g{number}"] for number, shown in enumerate(unbound)}


def compare(expected: list[str], actual: list[str], bindings: Bindings) -> str | None:
    """None if ``actual`` matches ``expected`` (binding values as it goes), else what differs."""
    while expected and not expected[-1].strip():
        expected = expected[:-1]
    while actual and not actual[-1].strip():
        actual = actual[:-1]
    found = _match(expected, 0, actual, 0, dict(bindings.values))
    if isinstance(found, dict):
        bindings.values = found
        return None
    return found


def _match(
    expected: list[str], e: int, actual: list[str], a: int, bound: dict[str, str]
) -> dict[str, str] | str:
    """The bindings if ``expected[e:]`` matches ``actual[a:]``, else what differs first."""
    while e < len(expected):
        if expected[e].strip() == "...":  # any number of lines: the first way the rest fits
            first = None
            for skip in range(a, len(actual) + 1):
                found = _match(expected, e + 1, actual, skip, dict(bound))
                if isinstance(found, dict):
                    return found
                first = first or found
            return first or "nothing fits after '...'"
        if a >= len(actual):
            return f"missing line {e + 1}: {expected[e]!r}"
        new = Bindings(bound).match(expected[e], actual[a])
        if new is None:
            return f"line {e + 1}: expected {expected[e]!r}, got {actual[a]!r}"
        bound = bound | new
        e, a = e + 1, a + 1
    return bound if a == len(actual) else f"unexpected line {a + 1}: {actual[a]!r}"


class Shell:
    """Runs the README's commands: ``harbour`` in-process, ``cd``/``mkdir``/``export`` here."""

    def __init__(self, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.home = home
        self.monkeypatch = monkeypatch
        self.apps: list[App] = []
        self.shown_home = str(home)
        self.commands = 0

    def expand(self, word: str) -> str:
        return word.replace("$HARBOUR_HOME", str(self.home)).replace("$HOME", str(self.home))

    def run(self, line: str) -> tuple[int, list[str]]:
        """Run one command line (``a && b`` runs both, the second if the first succeeded)."""
        words = shlex.split(line, comments=True)
        printed: list[str] = []
        while "&&" in words:
            cut = words.index("&&")
            code, shown = self.one(words[:cut])
            printed += shown
            if code != 0:
                return code, printed
            words = words[cut + 1 :]
        code, shown = self.one(words)
        return code, printed + shown

    def one(self, words: list[str]) -> tuple[int, list[str]]:
        line = shlex.join(words)
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            if name == "HARBOUR_HOME":  # the test's own fresh home stands in for it
                self.shown_home = value.replace("$HOME", SHOWN_HOME)
            else:
                self.monkeypatch.setenv(name, self.expand(value))
            return 0, []
        if words[0] == "mkdir":
            for folder in words[1:]:
                if not folder.startswith("-"):
                    Path(self.expand(folder)).mkdir(parents=True, exist_ok=True)
            return 0, []
        if words[0] == "cd":
            return 0, []  # the harness runs in HARBOUR_HOME already
        assert words[0] == "harbour", f"the walkthrough runs only harbour commands: {line}"
        return self.harbour([self.expand(w) for w in words[1:]])

    def harbour(self, args: list[str]) -> tuple[int, list[str]]:
        terminal = io.StringIO()  # stdout and stderr interleaved, as on a terminal
        set_app_factory(self.new_app)
        try:
            with contextlib.redirect_stdout(terminal), contextlib.redirect_stderr(terminal):
                code = run(cli, args)
        finally:
            set_app_factory(None)
            for app in self.apps:
                app.dispose()
            self.apps.clear()
        printed = terminal.getvalue().replace(str(self.home), self.shown_home)
        return code, printed.splitlines()

    def new_app(self) -> App:
        from harbour.clock import FixedClock
        from harbour.reference.startup import check_files

        settings = load_settings()
        check_files(settings)
        assert settings.frozen_time is not None
        self.commands += 1  # each command a minute after the one before, as someone types them
        app = App(settings, FixedClock(settings.frozen_time + timedelta(minutes=self.commands)))
        self.apps.append(app)
        return app


@pytest.fixture
def shell(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Shell]:
    home = tmp_path / "harbour-trial"
    home.mkdir()
    home.chmod(0o755)  # what `mkdir -p` makes under a usual umask (not this process's: the CLI
    # run in-process before may have set 077)
    for name in ("HARBOUR_DATABASE_URL", "HARBOUR_KEY_FILE", "HARBOUR_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HARBOUR_APPRISE_CONFIG", "HARBOUR_ACTOR", "HARBOUR_ORCHESTRATION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HARBOUR_HOME", str(home))
    monkeypatch.setenv("HARBOUR_FROZEN_TIME", TODAY)
    monkeypatch.setenv("HARBOUR_TIMEZONE", "America/New_York")
    monkeypatch.setenv("HARBOUR_BASE_URL", "http://localhost:8080")
    if request.param == "postgres":
        monkeypatch.setenv("HARBOUR_DATABASE_URL", request.getfixturevalue("emptied_postgres"))
    monkeypatch.chdir(home)
    yield Shell(home, monkeypatch)


@pytest.fixture
def emptied_postgres(postgres_database: str) -> str:
    from tests.conftest import _empty_postgres

    _empty_postgres(postgres_database)
    return postgres_database


@pytest.mark.parametrize(
    "shell", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_the_readme_walkthrough_prints_what_the_readme_says(shell: Shell) -> None:
    files, steps = walkthrough()
    assert len(steps) >= 10 and "referral.yaml" in files and "answers.yaml" in files
    for name, content in files.items():
        (shell.home / name).write_text(content, encoding="utf-8")
    bindings = Bindings()
    for step in steps:
        command = bindings.command(step.command)
        code, printed = shell.run(command)
        differs = compare(step.expected, printed, bindings)
        assert differs is None, f"$ {step.command}\n{differs}\nprinted:\n" + "\n".join(printed)
        failing = any(line.startswith(FAILED) for line in step.expected)
        assert (code != 0) == failing, f"$ {step.command}: exit code {code}"
