"""`make bench`: run every benchmark, print a table row each, write benchmarks/RESULTS.md."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import Row

# (module, full size, smoke size): each module exposes run(size) -> list[Row]; size 0 skips it.
SUITE = [
    ("benchmarks.sweep", 100_000, 60),
    ("benchmarks.lifecycle", 10, 0),  # starts a Prefect server (half a minute): not in the smoke
    ("benchmarks.startup", 10, 1),
    ("benchmarks.alert", 5, 1),
    ("benchmarks.visits", 5, 1),
    ("benchmarks.notifications", 10_000, 100),
    ("benchmarks.render", 500, 5),
    ("benchmarks.intake", 2000, 10),
    ("benchmarks.web", 10_000, 50),
    ("benchmarks.dashboard", 100_000, 50),
]
# Run by name only (--only, --all), several minutes each: the sweep's worst case and its growth
# to a million cases, and the measurements behind docs/orchestration.md's Prefect settings
# (Prefect servers, served runs).
EXTRA = [
    ("benchmarks.sweep_backlog", 100_000, 0),
    ("benchmarks.million_cases", 1_000_000, 0),
    ("benchmarks.orchestration", 20, 0),
]
RESULTS = Path(__file__).parent / "RESULTS.md"
HEADER = (
    f"| {'benchmark':<48} | {'figure':>12} | {'baseline':>12} | {'ratio':>7} | unit (baseline) |"
)
RULE = "|" + "|".join("-" * len(cell) for cell in HEADER.split("|")[1:-1]) + "|"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check they still run")
    parser.add_argument("--only", help="run only modules whose name contains this")
    parser.add_argument("--all", action="store_true", help="also the Prefect settings benchmarks")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args(argv)
    chosen = [
        entry
        for entry in SUITE + EXTRA
        if (args.only in entry[0] if args.only else args.all or entry in SUITE)
    ]
    started = time.perf_counter()
    rows: list[Row] = []
    print(HEADER)
    print(RULE)
    for module, size, smoke in chosen:
        for row in importlib.import_module(module).run(smoke if args.smoke else size):
            print(format_row(row), flush=True)
            rows.append(row)
    seconds = time.perf_counter() - started
    print(f"{len(rows)} rows in {seconds:.0f} s")
    if not (args.smoke or args.only or args.no_write):
        write_results(rows, seconds, [module for module, _, _ in chosen])
    return 0


def format_row(row: Row) -> str:
    return (
        f"| {row.name:<48} | {row.figure:>12.4g} | {row.baseline:>12.4g} | {row.ratio:>7.3f} "
        f"| {row.unit} ({row.baseline_name}){'; ' + row.note if row.note else ''} |"
    )


def write_results(rows: list[Row], seconds: float, modules: list[str]) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} with {os.cpu_count()} "
        f"cores, Python {platform.python_version()}, by `make bench` in {seconds / 60:.1f} "
        "minutes. Each figure is beside a baseline measured in the same run; the ratio is "
        "figure / baseline. The machine may have been running other work too: read the "
        "ratios rather than the seconds.",
        "",
        HEADER,
        RULE,
        *[format_row(r) for r in rows],
        "",
        "## What each benchmark measures",
        "",
        *[f"- `{name.replace('.', '/')}.py`: {_summary(name)}" for name in modules],
        "",
        "Run by name only (`python -m benchmarks --only NAME`), several minutes each:",
        "",
        *[f"- `{name.replace('.', '/')}.py`: {_summary(name)}" for name, _, _ in EXTRA],
        "",
    ]
    RESULTS.write_text("\n".join(lines))


def _summary(module: str) -> str:
    """The first paragraph of a benchmark module's docstring, on one line."""
    doc = importlib.import_module(module).__doc__ or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


if __name__ == "__main__":
    sys.exit(main())
