"""Commands start fast: a `harbour` command on a small store, the whole process from its start to
its exit, against a bare Python process that imports the same third-party modules the command
loaded (found by running it once) and does nothing else. Harbour's own modules are byte-compiled
first, as an installation's are (the third-party ones were, by pip).

The store holds one agency and a few cases on SQLite. ``cases`` reads the caseload; ``catalogue``
prints the strategies; ``refer`` records a referral (prefect orchestration: the command records
and sends the urgent lane, as staff run it beside `harbour serve`).

A command freezes the collector's view once its App is built (``harbour.cli.base.get_app``): at
its exit the interpreter no longer walks every module's objects. That helps the third-party
modules' share too, so ``cases`` is also set against a bare process that freezes the same way:
what is left is Harbour's own start-up (its modules, mappers, reference files and first queries).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Row, byte_compiled, cli_env, seed_agency, temp_store
from harbour.cases.intake import refer

SIZE_CASES = 5
# Runs the command in this interpreter, then prints the third-party modules it loaded, in order.
_LOADED = """
import sys, sysconfig
from harbour.cli import main
sys.argv = ["harbour", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
site = sysconfig.get_paths()["purelib"]
names = [n for n, m in list(sys.modules.items())
         if site in (getattr(m, "__file__", None) or "") and not n.startswith("__editable__")]
print("\\n" + "\\n".join(names))
"""


def run(size: int = 10) -> list[Row]:
    """Each command ``size`` times, alternating with its baseline (medians)."""
    if size < 1:
        return []
    byte_compiled()
    rows = []
    with temp_store("sqlite") as app:
        seed_agency(app)
        for i in range(SIZE_CASES):
            refer(app, "coord", _referral(i), None)
        referral = app.settings.home / "referral.json"
        referral.write_text(json.dumps(_referral(99)))
        env = cli_env(app, mode="prefect")
        commands = {
            "cases": ["cases", "--as", "coord"],
            "catalogue": ["catalogue"],
            "refer": ["refer", "--file", str(referral), "--allow-duplicate", "--as", "coord"],
        }
        if size == 1:  # the smoke run (tests/bench): the command that writes shows it still runs
            commands = {"refer": commands["refer"]}
        for name, argv in commands.items():
            command = [sys.executable, "-m", "harbour", *argv]
            bare = _bare_script(_loaded_modules(argv, env, app.settings.home))
            home = app.settings.home
            frozen = [*bare[:-1], bare[-1] + "\nimport gc\ngc.freeze()"]
            timings = [
                (
                    _process(command, env, home),
                    _process(bare, env, home),
                    _process(frozen, env, home) if name == "cases" else 0.0,
                )
                for _ in range(size)
            ]
            took = statistics.median(t for t, _, _ in timings)
            rows.append(
                Row(
                    f"`harbour {name}`, small store, whole process",
                    took,
                    statistics.median(b for _, b, _ in timings),
                    "s",
                    "bare Python importing the same third-party modules",
                )
            )
            if name == "cases":  # Harbour's own start-up cost, without what gc.freeze saves
                rows.append(
                    Row(
                        f"`harbour {name}`, small store, whole process, same GC setting",
                        took,
                        statistics.median(f for _, _, f in timings),
                        "s",
                        "the same bare process, then gc.freeze() as Harbour's commands do",
                    )
                )
    return rows


def _referral(i: int) -> dict[str, object]:
    return {"youth": {"name": f"Bench Youth {i}"}, "situation": "just_left", "caseworker": "cw1"}


def _loaded_modules(argv: list[str], env: dict[str, str], home: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, *argv],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.rsplit("\n\n", 1)[-1].split()


def _bare_script(modules: list[str]) -> list[str]:
    lines = "\n".join(f"try:\n    import {name}\nexcept Exception:\n    pass" for name in modules)
    return [sys.executable, "-c", lines]


def _process(command: list[str], env: dict[str, str], home: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=home, capture_output=True, check=True)
    return time.perf_counter() - started
