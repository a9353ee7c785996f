"""The import contracts hold, and they fail when an import runs against them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the code and the contracts, to break on purpose."""
    for part in ("harbour", "flows"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("harbour/domain/risk.py", "import harbour.db.models", "The domain is plain Python"),
        ("harbour/domain/policy.py", "import sqlalchemy", "The domain is plain Python"),
        ("harbour/cases/intake.py", "import harbour.orchestration.steps", "Layers"),
        ("harbour/notify/outbox.py", "import prefect", "Only orchestration"),
        ("harbour/plans/snapshot.py", "import harbour.plans.store", "No import circles"),
    ],
)
def test_an_import_against_a_contract_fails(
    tree: Path, module: str, line: str, broken: str
) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert f"{broken}" in result.stdout
    assert "BROKEN" in result.stdout
