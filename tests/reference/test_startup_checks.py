"""A command checks the files it will need before doing any work, and writes owner-only files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from harbour.cli import cli
from harbour.cli.base import run
from harbour.errors import ConfigError
from harbour.reference.startup import check_files
from harbour.settings import Settings


def test_the_built_in_files_pass(tmp_path: Path) -> None:
    check_files(Settings(home=tmp_path))


@pytest.mark.parametrize(
    ("setting", "content", "says"),
    [
        ("policy_file", None, "HARBOUR_POLICY_FILE: "),
        ("policy_file", "version: 1\nbad: [\n", "HARBOUR_POLICY_FILE: "),
        ("instrument_file", "version: x\n", "HARBOUR_INSTRUMENT_FILE: "),
        ("catalogue_file", "[]\n", "HARBOUR_CATALOGUE_FILE"),
        ("resources_file", "version: x\nresources: []\n", "HARBOUR_RESOURCES_FILE"),
        ("apprise_config", None, "HARBOUR_APPRISE_CONFIG: no such file"),
        ("templates_dir", None, "HARBOUR_TEMPLATES_DIR: no such folder"),
    ],
)
def test_a_file_that_cannot_be_used_is_named_at_start(
    tmp_path: Path, setting: str, content: str | None, says: str
) -> None:
    path = tmp_path / "given.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as refused:
        check_files(Settings(home=tmp_path, **{setting: path}))
    assert says in str(refused.value) and refused.value.exit_code == 2


def test_a_routes_file_open_to_group_or_others_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routes file holds mail passwords and webhook tokens: one that group or others have
    any access to is refused before any work, as the key file is, saying how to fix it."""
    path = tmp_path / "routes.yaml"
    path.write_text("version: 1\nurls: []\n")
    for mode in (0o644, 0o640, 0o604, 0o660):
        path.chmod(mode)
        with pytest.raises(ConfigError) as refused:
            check_files(Settings(home=tmp_path, apprise_config=path))
        said = str(refused.value)
        assert said.startswith("routes_file_exposed: HARBOUR_APPRISE_CONFIG: "), said
        assert f"{mode:04o}" in said and f"`chmod 600 {path}`" in said
        assert refused.value.exit_code == 2
    monkeypatch.setenv("HARBOUR_APPRISE_CONFIG", str(path))
    done = _harbour(tmp_path, "cases", "--as", "ada")  # before anything else: no store here
    assert done.returncode == 2 and done.stderr.startswith("error: routes_file_exposed: ")
    path.chmod(0o600)
    check_files(Settings(home=tmp_path, apprise_config=path))


def test_an_agencys_templates_folder_lacking_a_template_is_named_at_start(tmp_path: Path) -> None:
    """HARBOUR_TEMPLATES_DIR is a copy of the shipped templates with the agency's changes: one
    that lacks any (a wrong folder, a copy begun but not finished) was only found when a
    message failed to render, an imminent page included, reported as a failed send."""
    import shutil

    from harbour.shipped import shipped_templates

    own = tmp_path / "templates"
    shutil.copytree(shipped_templates(), own)
    check_files(Settings(home=tmp_path, templates_dir=own))  # a whole copy is fine
    (own / "notifications" / "imminent_threat.txt").unlink()
    with pytest.raises(ConfigError) as refused:
        check_files(Settings(home=tmp_path, templates_dir=own))
    said = str(refused.value)
    assert "HARBOUR_TEMPLATES_DIR" in said and "notifications/imminent_threat.txt" in said
    assert refused.value.exit_code == 2
    with pytest.raises(ConfigError, match="HARBOUR_TEMPLATES_DIR"):
        check_files(Settings(home=tmp_path, templates_dir=tmp_path))  # a folder of no templates


def _harbour(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HARBOUR_HOME": str(home)}
    environment.pop("HARBOUR_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "harbour", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_line_refuses_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process, settings from the environment as a command reads them (a process of its own
    cost two seconds of CPU; the files' modes below need one)."""
    home = tmp_path / "var"
    for name in [n for n in os.environ if n.startswith("HARBOUR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HARBOUR_HOME", str(home))
    monkeypatch.setenv("HARBOUR_POLICY_FILE", str(tmp_path / "missing.yaml"))
    assert run(cli, ["init", "--agency", "a", "--admin", "b"]) == 2
    assert "HARBOUR_POLICY_FILE" in capsys.readouterr().err
    assert not home.exists()


def test_the_command_line_keeps_files_private(tmp_path: Path) -> None:
    """A process of its own: ``harbour`` narrows its umask, whatever the shell's."""
    home = tmp_path / "var"
    made = _harbour(home, "init", "--agency", "a", "--admin", "b")
    assert made.returncode == 0, made.stderr
    for path in [home, *home.iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path.name


def test_an_instrument_naming_an_emergency_step_the_catalogue_lacks_is_refused(
    tmp_path: Path,
) -> None:
    """At imminent the plan holds the instrument's emergency protocol, each step worded by the
    catalogue: a step the catalogue does not word would be left off every imminent plan."""
    from harbour.reference.files import builtin

    text = builtin("instrument.yaml").read_text()
    assert "  - emergency.shelter\n" in text
    path = tmp_path / "instrument.yaml"
    path.write_text(text.replace("  - emergency.shelter\n", "  - emergency.shelter_tonight\n"))
    with pytest.raises(ConfigError) as refused:
        check_files(Settings(home=tmp_path, instrument_file=path))
    assert "emergency.shelter_tonight" in str(refused.value)
