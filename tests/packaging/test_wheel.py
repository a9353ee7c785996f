"""A wheel that works: built from the sources, installed in a fresh virtual environment outside
the repository, it runs the demo, which renders the plan and notification templates it ships.

No network: the wheel is built without build isolation, and the new environment borrows the
dependencies already installed beside this interpreter (a path in a .pth file, which adds that
folder to ``sys.path`` without running its own .pth files, so the editable install of Harbour
found there is not what gets imported).
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "harbour", "flows", "templates", "deployments")
SITE = "import json, sysconfig; print(json.dumps(sysconfig.get_paths()['purelib']))"
WHERE = """
import json, sysconfig, harbour
from harbour.shipped import shipped_templates
print(json.dumps({"package": harbour.__file__, "templates": str(shipped_templates()),
                  "site": sysconfig.get_paths()["purelib"]}))
"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]  # 25-40 s on a busy two-core machine


def _run(command: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the repository, with a copy of the sources (the build writes beside them)."""
    folder = tmp_path_factory.mktemp("wheel")
    assert not folder.resolve().is_relative_to(ROOT)
    for name in SOURCES:
        source, copy = ROOT / name, folder / "source" / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(source, copy, symlinks=True, ignore=ignore)
        else:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
    return folder


@pytest.fixture(scope="module")
def clean_env(outside: Path) -> dict[str, str]:
    """This environment without anything that would point Harbour back at the repository."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HARBOUR_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["HARBOUR_HOME"] = str(outside / "home")
    return env


@pytest.fixture(scope="module")
def venv(outside: Path, clean_env: dict[str, str]) -> Path:
    """A fresh virtual environment with the wheel installed; its ``bin`` folder."""
    dist = outside / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, "."]
    _run(build, outside / "source", clean_env)
    (wheel,) = dist.glob("harbour-*.whl")
    target = outside / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", target], outside, clean_env)
    python = target / "bin" / "python"
    # This pip installs into the new environment, before it can see the editable install here.
    _run(
        [*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], outside, clean_env
    )
    site = Path(json.loads(_run([python, "-c", SITE], outside, clean_env)))
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return target / "bin"


def test_the_installed_wheel_is_what_runs_and_it_holds_the_templates_and_deployments(
    venv: Path, outside: Path, clean_env: dict[str, str]
) -> None:
    where = json.loads(_run([venv / "python", "-c", WHERE], outside, clean_env))
    site = Path(where["site"])
    assert Path(where["package"]).parent == site / "harbour"
    assert Path(where["templates"]) == site / "harbour" / "templates"
    shipped = site / "harbour" / "templates"
    assert not shipped.is_symlink()
    assert _same_tree(ROOT / "templates", shipped)
    deployments = site / "flows" / "prefect.yaml"
    assert not deployments.is_symlink()
    assert deployments.read_bytes() == (ROOT / "deployments" / "prefect.yaml").read_bytes()


def test_the_installed_wheel_runs_the_demo(
    venv: Path, outside: Path, clean_env: dict[str, str]
) -> None:
    output = outside / "demo-output"
    demo = [venv / "harbour", "demo", "--orchestration", "inline", "--seed", "7", "--weeks", "1"]
    _run([*demo, "--home", outside / "demo", "--output", output], outside, clean_env)

    summary = json.loads((output / "summary.json").read_text())
    assert summary["run"]["plan_documents_written"] > 0
    assert summary["run"]["plan_diffs_written"] > 0
    assert summary["leak_check"]["messages"] > 0
    documents = sorted(output.glob("plans/*/v1/*.*"))
    assert {path.name for path in documents} >= {"staff.html", "youth.txt", "family.html"}
    assert all(path.stat().st_size > 0 for path in documents)
    assert any(output.glob("plans/*/diffs/*.html"))
    assert len(list((output / "messages").iterdir())) > 1  # index.tsv and the messages


def _same_tree(left: Path, right: Path) -> bool:
    compared = filecmp.dircmp(left, right, ignore=["__pycache__"])
    if compared.left_only or compared.right_only or compared.diff_files or compared.funny_files:
        return False
    _, mismatched, errors = filecmp.cmpfiles(left, right, compared.common_files, shallow=False)
    if mismatched or errors:
        return False
    return all(_same_tree(left / name, right / name) for name in compared.common_dirs)
