"""The command line: names other tools script, JSON shapes, exit codes, and no traceback ever."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from harbour.app import App
from harbour.cli import cli
from harbour.cli.base import get_app, run
from tests.cli.helpers import answers_file, ok, referred_case
from tests.db.helpers import refer, row_counts, write_referral
from tests.support import given, invoke, referral

REQUIRED = {
    ("init",),
    ("db", "upgrade"),
    ("agency", "add"),
    ("staff", "add"),
    ("staff", "list"),
    ("staff", "deactivate"),
    ("refer",),
    ("case", "show"),
    ("cases",),
    ("assign",),
    ("audit",),
    ("keys", "rotate"),
}
NO_ACTOR = {("init",), ("db", "upgrade")}  # they run before any staff exists


def _leaves(group: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    found: dict[tuple[str, ...], Any] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer carries its own click)
            found |= _leaves(command, (*prefix, name))
        else:
            found[(*prefix, name)] = command
    return found


def test_required_commands_take_as_and_json() -> None:
    commands = _leaves(typer.main.get_group(cli))
    assert set(commands) >= REQUIRED
    for path in REQUIRED:
        options = {o for p in commands[path].params for o in p.opts}
        assert "--json" in options, path
        assert path in NO_ACTOR or "--as" in options, path


def test_help_states_no_number_the_agencys_policy_sets() -> None:
    """Found by review: `case cover --hours` said the policy's default is 8 hours and its most
    72, `missing` that the steps are due within 24 hours: the shipped policy's numbers, wrong
    for an agency whose policy file says otherwise. Help names the policy instead."""
    span = re.compile(r"\b\d+ ?(minute|hour|day|week|month)s?\b", re.IGNORECASE)
    found = []
    for path, command in _leaves(typer.main.get_group(cli)).items():
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        for text in texts:
            policy_number = "polic" in text and re.search(r"\d", text)
            if span.search(text) or policy_number:
                found.append((" ".join(path), text))
    assert found == []


def test_help_lists_the_commands_in_a_real_process(capsys: pytest.CaptureFixture[str]) -> None:
    """The top-level help from the installed entry point; a group's help in-process (the same
    ``run``: each process cost half a second of CPU, and ``--help`` ran twice)."""
    top = subprocess.run(
        [sys.executable, "-m", "harbour", "--help"], capture_output=True, text=True
    )
    assert top.returncode == 0, top.stderr
    for name in (
        "init",
        "db",
        "agency",
        "staff",
        "refer",
        "case",
        "cases",
        "assign",
        "audit",
        "keys",
    ):
        assert f"  {name} " in top.stdout, name
    assert run(cli, ["staff", "--help"]) == 0
    assert "  add " in capsys.readouterr().out


def test_the_cli_does_not_import_prefect_or_the_database() -> None:
    probe = "import sys, harbour.cli; print(sorted(m for m in ('prefect', 'sqlalchemy') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_cli_and_its_views_leave_the_click_package_to_prompts() -> None:
    """typer carries its own click: the package itself (a twentieth of a second) is imported
    only to prompt for answers."""
    probe = "import sys, harbour.cli, harbour.cli.views; print('click' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stdout + done.stderr


def test_json_shapes(seeded: App, tmp_path: Path) -> None:
    created = refer(seeded, tmp_path, referral("Js"))
    assert created.exit_code == 0 and created.json()["case"].startswith("HB-")
    rows = invoke(seeded, "cases", "--as", "coord", "--json").json()
    assert len(rows) == 1
    assert {"case", "status", "risk_level", "next_due", "overdue"} <= set(rows[0])
    assert rows[0]["case"] == created.json()["case"] and isinstance(rows[0]["overdue"], bool)
    plain = invoke(
        seeded, "refer", "--file", str(write_referral(tmp_path, referral("Jp"))), "--as", "coord"
    )
    assert plain.stdout.strip().startswith("HB-") and len(plain.stdout.strip()) == 37


def test_referral_schema(seeded: App) -> None:
    result = invoke(seeded, "refer", "--schema")
    schema = json.loads(result.stdout)
    assert result.exit_code == 0 and {"youth", "situation"} <= set(schema["required"])


def test_idempotency_key(seeded: App, tmp_path: Path) -> None:
    first = refer(seeded, tmp_path, referral("Id"), "--idempotency-key", "intake-42")
    again = refer(seeded, tmp_path, referral("Id"), "--idempotency-key", "intake-42")
    other = refer(seeded, tmp_path, referral("Ie"), "--idempotency-key", "intake-42")
    bad = refer(seeded, tmp_path, referral("If"), "--idempotency-key", "no spaces/allowed")
    assert first.json()["case"] == again.json()["case"]
    assert other.exit_code == 1 and "idempotency_key_reused" in other.stderr
    assert bad.exit_code == 2 and "--idempotency-key" in bad.stderr
    assert len(invoke(seeded, "cases", "--as", "coord", "--json").json()) == 1


def test_a_cover_a_visit_and_an_override_repeated_with_their_key_are_done_once(
    seeded: App, tmp_path: Path
) -> None:
    """`case cover`, `visit start` and `override` take --idempotency-key as `refer` does: run
    again with it (a command retried), each answers as it did and writes nothing but the
    replay's audit row; with other values the key is refused (exit 1), writing nothing."""
    ref = referred_case(seeded, tmp_path, "IK")  # cw1's: cw2 covers it
    calm = answers_file(seeded, tmp_path, "calm")
    ok(seeded, "assess", ref, "--point", "initial_contact", "--answers", calm, "--as", "cw1")
    cover, why = ("case", "cover", ref, "--as", "cw2"), given("IKaway")
    override = ("override", ref, "--as", "sup", "--reason", given("IKwhy"))
    for sent, other, action in (
        ((*cover, "--reason", why), (*cover, "--reason", why, "--hours", "2"), "case.cover.start"),
        (
            ("visit", "start", "--back-at", "16:30", "--as", "cw1"),
            ("visit", "start", "--back-at", "16:30", "--escort", "--as", "cw1"),
            "visit.start",
        ),
        ((*override, "--level", "high"), (*override, "--level", "moderate"), "case.override"),
    ):
        first = invoke(seeded, *sent, "--idempotency-key", "k-1", "--json")
        assert first.exit_code == 0, first
        counts = row_counts(seeded)
        again = invoke(seeded, *sent, "--idempotency-key", "k-1", "--json")
        assert again.exit_code == 0, again
        # As it answered, an override saying it is a replay (as `assess` does).
        assert again.json() == first.json() | (
            {"replayed": True} if action == "case.override" else {}
        )
        assert _written(seeded, counts) == {"audit_events"}  # who read the case, the replay
        assert len(_audited(seeded, f"{action}.replayed")) == 1
        refused = invoke(seeded, *other, "--idempotency-key", "k-1")
        assert refused.exit_code == 1, refused
        assert "idempotency_key_reused" in refused.stderr and "IK" not in refused.stderr
        assert _written(seeded, counts) == {"audit_events"}  # and the refusal
        bad = invoke(seeded, *sent, "--idempotency-key", "a b")
        assert bad.exit_code == 2 and "--idempotency-key" in bad.stderr
    ended = invoke(seeded, *cover, "--end", "--idempotency-key", "k-1")
    assert ended.exit_code == 2 and "--idempotency-key" in ended.stderr


def test_visit_back_and_extend_repeated_with_their_key_are_done_once(seeded: App) -> None:
    """`visit back` and `visit extend` take --idempotency-key as `visit start` does (the
    console's buttons send one already): run again with it, each answers as it did and changes
    nothing but the replay's audit row; extend's key with other minutes is refused (exit 1),
    changing nothing; once spent (its visit back, another visit out since) each is refused."""
    ok(seeded, "visit", "start", "--back-at", "16:30", "--as", "cw1")
    extend = ("visit", "extend", "--as", "cw1", "--idempotency-key", "x-1")

    def out() -> Any:
        [visit] = ok(seeded, "visit", "list", "--as", "cw1")
        return visit

    first = invoke(seeded, *extend, "--minutes", "30", "--json")
    assert first.exit_code == 0, first
    counts, extended = row_counts(seeded), out()
    again = invoke(seeded, *extend, "--minutes", "30", "--json")
    assert again.exit_code == 0, again
    assert again.json() == first.json() and out() == extended  # 30 minutes, not an hour
    assert _written(seeded, counts) == {"audit_events"}
    assert len(_audited(seeded, "visit.extend.replayed")) == 1
    other = invoke(seeded, *extend, "--minutes", "45")
    assert other.exit_code == 1 and "idempotency_key_reused" in other.stderr, other
    assert out() == extended and len(_audited(seeded, "visit.extend")) == 1
    bad = invoke(seeded, *extend[:-1], "a b")
    assert bad.exit_code == 2 and "--idempotency-key" in bad.stderr

    back = ("visit", "back", "--as", "cw1", "--idempotency-key", "b-1")
    first = invoke(seeded, *back, "--json")
    assert first.exit_code == 0, first
    counts = row_counts(seeded)
    again = invoke(seeded, *back, "--json")
    assert again.exit_code == 0 and again.json() == first.json(), again
    assert _written(seeded, counts) == {"audit_events"}
    assert len(_audited(seeded, "visit.back.replayed")) == 1

    ok(seeded, "visit", "start", "--back-at", "18:30", "--as", "cw1")
    newer = out()
    for spent in (back, (*extend, "--minutes", "30")):
        refused = invoke(seeded, *spent)
        assert refused.exit_code == 1 and "idempotency_key_spent" in refused.stderr, spent
    assert out() == newer  # neither ended nor gave time to the visit out now


def _written(app: App, before: dict[str, int]) -> set[str]:
    return {table for table, count in row_counts(app).items() if count != before[table]}


def _audited(app: App, action: str) -> list[Any]:
    from sqlalchemy import select

    from harbour.db.models import AuditEvent

    return app.run(
        lambda uow: list(uow.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
    )


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["cases", "--bogus"], 2),
        (["nosuchcommand"], 2),
        (["refer", "--as", "coord"], 2),
        (["refer", "--file", "/nonexistent/r.json", "--as", "coord"], 2),
        (["case", "show", "HB-UU", "--as", "cw1"], 2),  # not a reference's shape
        (["case", "show", "HB-0000-0000", "--as", "cw1"], 1),
        (
            [
                "staff",
                "add",
                "Bad Handle",
                "--agency",
                "north",
                "--role",
                "caseworker",
                "--as",
                "adm",
            ],
            2,
        ),
        (["staff", "add", "newbie", "--agency", "north", "--role", "janitor", "--as", "adm"], 2),
        (["agency", "add", "west", "--timezone", "Mars/Base", "--as", "adm"], 2),
        (["assign", "HB-0000-0000", "cw1", "--as", "coord"], 1),
        (["cases", "--as", "cw1"], 0),
    ],
)
def test_exit_codes(seeded: App, argv: list[str], code: int) -> None:
    result = invoke(seeded, *argv)
    assert result.exit_code == code, result
    assert "Traceback" not in result.stdout + result.stderr


def test_prompts_that_end_before_every_answer_record_nothing_and_say_so(
    seeded: App, tmp_path: Path
) -> None:
    """`assess` without --answers prompts; input that ends first (a pipe, Ctrl-D, Ctrl-C) is
    no internal error: the command says the answers were not all given and records nothing."""
    ref = refer(seeded, tmp_path, referral("Pr")).json()["case"]
    before = row_counts(seeded)
    for extra in ((), ("--json",)):
        args = ("assess", ref, "--point", "initial_contact", "--as", "cw1", *extra)
        result = invoke(seeded, *args, stdin="no\n")
        assert result.exit_code == 1, result
        assert "internal" not in result.stderr and "Traceback" not in result.stderr
        assert "answers_incomplete" in result.stderr and "--answers" in result.stderr
    after = row_counts(seeded)  # the access check before the prompts is audited, as any read
    assert {t: n for t, n in after.items() if t != "audit_events"} == {
        t: n for t, n in before.items() if t != "audit_events"
    }


def _stores_it_cannot_use(seeded: App, tmp_path: Path) -> list[tuple[Any, int, str]]:
    """Settings a long-running command must refuse at start, with its exit code and code: a
    HARBOUR_HOME with no store, one whose database file holds no store yet (and no key file
    either: the store's absence is what is said), and ``seeded``'s store with another store's
    keyring."""
    from pydantic import SecretStr

    from harbour.crypto import Keyring

    nowhere = seeded.settings.model_copy(
        update={"home": tmp_path / "nowhere", "database_url": None, "key_file": None}
    )
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "harbour.db").touch()
    bare = nowhere.model_copy(update={"home": tmp_path / "bare"})
    elsewhere = seeded.settings.model_copy(
        update={"encryption_keys": SecretStr(Keyring.generate().to_json())}
    )
    return [
        (nowhere, 2, "store_not_initialised"),
        (bare, 2, "store_not_initialised"),
        (elsewhere, 1, "wrong_keyring"),
    ]


# Commands that neither seal nor unseal a value (on ``seeded``'s store, with one case referred):
# they read or write only plain rows, so no key was ever asked for.
UNSEALED = [
    ("cases", "--as", "coord"),
    ("cases", "--as", "cw1"),
    ("sweep",),
    ("deliver",),
    ("alerts", "--as", "sup"),
    ("assign", "{ref}", "cw2", "--as", "coord"),
    ("audit", "{ref}", "--as", "sup"),
    ("schedule", "{ref}", "--as", "sup"),
    ("plan", "versions", "{ref}", "--as", "sup"),
    ("report", "--as", "sup"),
    ("outbox", "--as", "adm"),
    ("visit", "list", "--as", "sup"),
    ("staff", "list", "--as", "adm"),
    ("staff", "role", "cw2", "supervisor", "--as", "adm"),
    ("staff", "on-call", "cw2", "--as", "adm"),
    ("agency", "list", "--as", "adm"),
]


def test_every_command_on_a_store_refuses_another_stores_keyring_at_start(
    seeded: App, tmp_path: Path
) -> None:
    """Commands that neither seal nor unseal ran on with a key file from another store: `cases`
    listed the caseload, `assign` and `staff role` changed it, and `sweep` exited 0, having
    enqueued its reminders. Every command that opens the store refuses it at start, as those
    that seal or unseal do (exit 1, wrong_keyring), and changes nothing; the commands that never
    open the store (`catalogue`, `instrument show`) still run."""
    from harbour.crypto import Keyring

    ref = refer(seeded, tmp_path, referral("Kw")).json()["case"]
    other = tmp_path / "other-keys.json"
    Keyring.generate().save(other)
    elsewhere = App(seeded.settings.model_copy(update={"key_file": other}), seeded.clock)
    before = row_counts(seeded)
    try:
        for argv in UNSEALED:
            result = invoke(elsewhere, *(arg.format(ref=ref) for arg in argv))
            assert result.exit_code == 1 and result.stdout == "", (argv, result)
            assert result.stderr.startswith("error: wrong_keyring: "), (argv, result)
            assert "HARBOUR_KEY_FILE" in result.stderr, (argv, result)  # how to put it right
        for argv in (("catalogue",), ("instrument", "show")):
            assert invoke(elsewhere, *argv).exit_code == 0, argv
    finally:
        elsewhere.dispose()
    assert row_counts(seeded) == before
    for argv in UNSEALED[:2]:  # the store's own keyring: they run
        assert invoke(seeded, *argv).exit_code == 0, argv


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # settings, not SQL
def test_harbour_web_refuses_a_store_it_cannot_use_before_serving(
    seeded: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A console on a HARBOUR_HOME with no store, or with another store's keyring, is refused
    at start, as every command refuses it, not served for staff to find it broken at sign-in."""
    import uvicorn

    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **_: served.append(args))
    for settings, code, said in _stores_it_cannot_use(seeded, tmp_path):
        app = App(settings, seeded.clock)
        try:
            result = invoke(app, "web")
        finally:
            app.dispose()
        assert result.exit_code == code and said in result.stderr, result
        assert "Traceback" not in result.stderr
    assert served == []
    assert invoke(seeded, "web").exit_code == 0 and len(served) == 1  # its own store is served


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # settings, not SQL
def test_harbour_serve_refuses_a_store_it_cannot_use_before_serving(
    seeded: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `harbour web`: `harbour serve` on no store, or with another store's keyring, is
    refused at start, not left publishing and relaying in a loop of warnings."""
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")  # never reached
    for settings, code, said in _stores_it_cannot_use(seeded, tmp_path):
        for extra in ((), ("--publish-only",)):
            app = App(settings, seeded.clock)
            try:
                result = invoke(app, "serve", *extra)
            finally:
                app.dispose()
            assert result.exit_code == code and said in result.stderr, (extra, result)
            assert "Serving" not in result.stdout and "Publishing" not in result.stdout


def test_a_command_on_a_folder_with_no_store_leaves_it_as_it_was(tmp_path: Path) -> None:
    """A HARBOUR_HOME that holds no store (a typo, a folder not yet initialised) is refused
    without leaving an empty database file behind in it; `harbour init` still makes one."""
    home = tmp_path / "not-a-store"
    home.mkdir()
    env = {"HARBOUR_HOME": str(home), "PATH": "/usr/bin:/bin"}
    for argv in (["cases", "--as", "ada"], ["web"], ["sweep"]):
        done = subprocess.run(
            [sys.executable, "-m", "harbour", *argv], env=env, capture_output=True, text=True
        )
        assert done.returncode == 2 and "store_not_initialised" in done.stderr, (argv, done)
        assert list(home.iterdir()) == [], argv
    made = subprocess.run(
        [sys.executable, "-m", "harbour", "init", "--agency", "north", "--admin", "ada"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    assert (home / "harbour.db").exists()


def test_harbour_web_that_cannot_listen_exits_1_not_3(
    seeded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uvicorn exits 3 when it cannot start (its address in use); Harbour's 3 means an imminent
    alert reached nobody, so the console's failure to start is a failure (1), saying so."""
    import uvicorn

    def cannot_bind(*_: object, **__: object) -> None:
        raise SystemExit(3)  # uvicorn's STARTUP_FAILURE, after logging why

    monkeypatch.setattr(uvicorn, "run", cannot_bind)
    result = invoke(seeded, "web")
    assert result.exit_code == 1 and "web_not_started" in result.stderr, result


def test_actor_from_the_environment(seeded: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARBOUR_ACTOR", "cw1")
    assert invoke(seeded, "cases", "--json").exit_code == 0
    assert invoke(seeded, "staff", "list").exit_code == 1  # cw1 is no admin


def test_an_unexpected_failure_prints_no_traceback_and_no_value(
    seeded: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("Unexpected-VALUE-Xq")

    monkeypatch.setattr("harbour.cases.intake.refer", explode)
    result = refer(seeded, tmp_path, referral("Ex"))
    assert result.exit_code == 1
    assert json.loads(result.stderr) == {  # refer ran with --json: the error is JSON too
        "error": "internal",
        "detail": "RuntimeError; nothing was shown",
    }


# The process boundary (``python -m``, settings from nothing but the environment) is the same on
# either store; the command itself runs on both in-process (test_json_shapes).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_python_dash_m_runs_a_command(seeded: App, tmp_path: Path) -> None:
    env = {
        "HARBOUR_HOME": str(tmp_path),
        "HARBOUR_DATABASE_URL": seeded.settings.resolved_database_url,
        "HARBOUR_KEY_FILE": str(seeded.settings.resolved_key_file),
        "PATH": "/usr/bin:/bin",
    }
    path = write_referral(tmp_path, referral("Pm"))
    done = subprocess.run(
        [sys.executable, "-m", "harbour", "refer", "--file", str(path), "--as", "coord", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["case"].startswith("HB-")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_command_freezes_what_its_start_up_made_and_tests_do_not(
    seeded: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process's own App freezes the collector's view (a short command's exit no longer
    walks every module); an App handed in by a factory does not, or a test run would keep all
    its garbage."""
    for name, value in {
        "HARBOUR_HOME": str(tmp_path),
        "HARBOUR_DATABASE_URL": seeded.settings.resolved_database_url,
        "HARBOUR_KEY_FILE": str(seeded.settings.resolved_key_file),
    }.items():
        monkeypatch.setenv(name, value)
    assert gc.get_freeze_count() == 0
    invoke(seeded, "cases", "--as", "coord")
    assert gc.get_freeze_count() == 0
    try:
        get_app()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_refer_from_yaml(seeded: App, tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "referral.yaml"
    path.write_text(yaml.safe_dump(referral("Ym"), allow_unicode=True))
    result = invoke(seeded, "refer", "--file", str(path), "--as", "coord", "--json")
    assert result.exit_code == 0, result.stderr
    shown = invoke(seeded, "case", "show", result.json()["case"], "--as", "sup", "--json")
    assert shown.json()["people"][0]["name"] == "Ymyouthname"


EXITS_WITH = """
import typer
from harbour.cli import cli, main

@cli.command("exits-with", hidden=True)
def exits_with(code: int) -> None:
    raise typer.Exit(code=code)

main()
"""


@pytest.mark.parametrize("code", [0, 2, 3])
def test_a_commands_typer_exit_code_is_mains_exit_code(
    code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harbour.cli import main

    name = "exits-with"
    cli.command(name, hidden=True)(_exits_with)
    umask = os.umask(0o077)  # what main() sets; the test process's own is given back below
    try:
        monkeypatch.setattr(sys, "argv", ["harbour", name, str(code)])
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        cli.registered_commands.pop()
        os.umask(umask)
    assert exited.value.code == code


def _exits_with(code: int) -> None:
    raise typer.Exit(code=code)


def test_a_commands_typer_exit_code_is_the_process_exit_code() -> None:
    """Once as a process of its own (3, a change recorded whose page reached nobody): the codes
    above in-process, as each process cost a third of a second of CPU."""
    done = subprocess.run(
        [sys.executable, "-c", EXITS_WITH, "exits-with", "3"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr


def test_fail_prints_its_message_and_exits_with_its_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harbour.cli import main
    from harbour.cli.base import fail

    name = "fails-with-two"
    cli.command(name, hidden=True)(lambda: fail("bad input", 2))
    try:
        monkeypatch.setattr(sys, "argv", ["harbour", name])
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        cli.registered_commands.pop()
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: bad input\n"
