"""The import contracts hold, and they fail when an import runs against them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")
# An import against each contract: (module, line, the contract it breaks, what its report names).
AGAINST = [
    (
        "harbour/domain/risk.py",
        "import harbour.db.models",
        "The domain is plain Python",
        "harbour.domain.risk -> harbour.db.models",
    ),
    (
        "harbour/domain/policy.py",
        "import sqlalchemy",
        "The domain is plain Python",
        "harbour.domain.policy -> sqlalchemy",
    ),
    (
        "harbour/cases/intake.py",
        "import harbour.orchestration.steps",
        "Layers",
        "harbour.cases.intake -> harbour.orchestration.steps",
    ),
    (
        "harbour/notify/outbox.py",
        "import prefect",
        "Only orchestration",
        "harbour.notify.outbox -> prefect",
    ),
    (
        "harbour/plans/snapshot.py",
        "import harbour.plans.store",
        "No import circles",
        "No cycles are allowed in harbour.plans.",
    ),
]


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
        timeout=120,
    )


def _tree(folder: Path) -> Path:
    """A copy of the code and the contracts, to break on purpose."""
    for part in ("harbour", "flows"):
        shutil.copytree(ROOT / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
    return folder


def _reports(stdout: str) -> dict[str, str]:
    """Each broken contract's report (under "Broken contracts"), by the contract's name."""
    broken = stdout.split("Broken contracts", 1)[1]
    heading = re.compile(r"^(\S.*)\n-+$", re.M)  # a name underlined with dashes
    found = list(heading.finditer(broken))
    ends = [match.start() for match in found[1:]] + [len(broken)]
    return {match[1]: broken[match.end() : end] for match, end in zip(found, ends, strict=True)}


def test_the_contracts_hold(tmp_path: Path) -> None:
    result = _lint(_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """lint-imports on a tree with every import of AGAINST added at once: one run of a couple of
    seconds, where a run per import took five. Each contract's report names the import that
    breaks it, so each import is still shown to be caught by its own contract."""
    tree = _tree(tmp_path_factory.mktemp("contracts"))
    for module, line, _, _ in AGAINST:
        path = tree / module
        path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    return _lint(tree)


@pytest.mark.parametrize(
    ("module", "line", "contract", "named"), AGAINST, ids=[row[0] for row in AGAINST]
)
def test_an_import_against_a_contract_fails(
    broken: subprocess.CompletedProcess[str], module: str, line: str, contract: str, named: str
) -> None:
    assert broken.returncode != 0
    status = [row for row in broken.stdout.splitlines() if row.startswith(contract)]
    assert status and "BROKEN" in status[0], broken.stdout
    reports = [text for name, text in _reports(broken.stdout).items() if name.startswith(contract)]
    assert reports and named in " ".join(reports[0].split()), broken.stdout
