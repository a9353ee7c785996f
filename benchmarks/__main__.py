"""`make bench`: run every benchmark, print a table row each, write benchmarks/RESULTS.md."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import Row

# (module, full size, smoke size): each module exposes run(size) -> list[Row].
SUITE = [
    ("benchmarks.intake", 400, 10),
    ("benchmarks.render", 2000, 5),
    ("benchmarks.sweep", 100_000, 200),
    # These two start Prefect servers (a minute or more): size 0 skips them in the smoke test.
    ("benchmarks.lifecycle", 20, 0),
    ("benchmarks.orchestration", 20, 0),
]
RESULTS = Path(__file__).parent / "RESULTS.md"
HEADER = (
    f"| {'benchmark':<48} | {'figure':>12} | {'baseline':>12} | {'ratio':>7} | unit (baseline) |"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check they still run")
    parser.add_argument("--only", help="run only modules whose name contains this")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    print(HEADER)
    print("|" + "|".join("-" * (len(c)) for c in HEADER.split("|")[1:-1]) + "|")
    for module, size, smoke in SUITE:
        if args.only and args.only not in module:
            continue
        for row in importlib.import_module(module).run(smoke if args.smoke else size):
            print(format_row(row), flush=True)
            rows.append(row)
    if not args.smoke and not args.no_write:
        write_results(rows)
    return 0


def format_row(row: Row) -> str:
    return (
        f"| {row.name:<48} | {row.figure:>12.4g} | {row.baseline:>12.4g} | {row.ratio:>7.3f} "
        f"| {row.unit} ({row.baseline_name}){' ' + row.note if row.note else ''} |"
    )


def write_results(rows: list[Row]) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, Python "
        f"{platform.python_version()}, by `make bench`. Each figure is beside a baseline measured "
        "in the same run; the ratio is figure / baseline.",
        "",
        HEADER,
        "|" + "|".join("-" * (len(c)) for c in HEADER.split("|")[1:-1]) + "|",
        *[format_row(r) for r in rows],
        "",
    ]
    RESULTS.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
