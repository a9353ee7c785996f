"""Settings: a bad value stops the command with the setting's name, and a secret is never echoed."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harbour.cli import cli
from harbour.cli.base import run
from harbour.crypto import Keyring
from harbour.settings import load_settings

SECRET = "s3cr3t-pw"

BAD = [
    ("HARBOUR_DATABASE_URL", f"mysql://harbour:{SECRET}@db.internal/harbour"),
    ("HARBOUR_DATABASE_URL", f"postgresql://harbour:{SECRET}@db.internal:port/harbour"),
    ("HARBOUR_DATABASE_URL", SECRET),
    ("HARBOUR_TIMEZONE", f"Mars/{SECRET}"),
    ("HARBOUR_BASE_URL", f"ftp://staff:{SECRET}@harbour.example"),
    ("HARBOUR_BASE_URL", "https://"),
    ("HARBOUR_FROZEN_TIME", "2026-03-02T14:00:00"),
    ("HARBOUR_ORCHESTRATION", SECRET),
    ("HARBOUR_KEY_ROTATION_BATCH", "0"),
]


def _clean_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for name in [n for n in os.environ if n.startswith("HARBOUR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HARBOUR_HOME", str(home))


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(cli, list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("name", "value"), BAD)
def test_bad_setting_is_named_never_echoed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    _clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv(name, value)
    code, out, err = _cli("cases", "--as", "coord")
    assert code == 2
    assert err.startswith(f"error: bad_setting: {name}: "), err
    assert SECRET not in out + err


def test_bad_setting_from_a_real_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBOUR_")}
    env |= {"HARBOUR_HOME": str(tmp_path), "HARBOUR_DATABASE_URL": f"oracle://u:{SECRET}@h/x"}
    done = subprocess.run(
        [sys.executable, "-m", "harbour", "cases", "--as", "coord"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "HARBOUR_DATABASE_URL" in done.stderr and SECRET not in done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_database_names_no_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("HARBOUR_DATABASE_URL", f"postgresql://u:{SECRET}@127.0.0.1:9/harbour")
    code, out, err = _cli("cases", "--as", "coord")
    assert (code, out) == (1, "")
    assert err.startswith("error: database_unavailable: ") and SECRET not in err


def test_store_not_initialised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clean_env(monkeypatch, tmp_path)
    code, _, err = _cli("cases", "--as", "coord")
    assert code == 2 and "harbour init" in err


def test_no_store_in_a_folder_that_does_not_exist(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("HARBOUR_HOME", str(tmp_path / "nowhere"))
    code, _, err = _cli("cases", "--as", "coord")
    assert code == 2 and "store_not_initialised" in err and "harbour init" in err


def test_unreadable_keyring_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("HARBOUR_ENCRYPTION_KEYS", '{"keys": {"1": "' + SECRET + '"}}')
    code, out, err = _cli("cases", "--as", "cw1")
    assert (code, out) == (2, "")
    assert err.startswith("error: bad_setting: HARBOUR_ENCRYPTION_KEYS: not a Harbour keyring")
    assert SECRET not in err


def test_defaults_and_secrets_hidden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clean_env(monkeypatch, tmp_path)
    monkeypatch.delenv("HARBOUR_HOME")
    settings = load_settings()
    assert settings.home == Path("./var")
    assert settings.resolved_database_url == f"sqlite:///{Path('./var/harbour.db').resolve()}"
    assert settings.timezone == "America/New_York"
    assert settings.resolved_key_file == Path("./var/keys.json")
    keyring = Keyring.generate()
    with_secret = load_settings(
        database_url=f"postgresql://u:{SECRET}@h/db", encryption_keys=keyring.to_json()
    )
    key = keyring.to_json().split('"')[-2]
    for shown in (repr(with_secret), str(with_secret.model_dump())):
        assert SECRET not in shown and key not in shown


def test_a_sweep_of_no_store_says_so_once(tmp_path: Path) -> None:
    """Not six phases each failing alike (a warning each) before the error: the store's
    absence, once. A process of its own: the warnings are its logging's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBOUR_")}
    env["HARBOUR_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "harbour", "sweep"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: store_not_initialised: "), done.stderr
    assert "harbour init" in done.stderr and "phase" not in done.stderr
