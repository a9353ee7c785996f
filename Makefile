# Harbour's two set-up commands are `make demo` and `make test`; both create or reuse .venv.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Tests and the demo start many Python processes (pytest's workers, `harbour` commands, Prefect
# servers): with bytecode written, each imports Harbour's modules, and pytest its rewritten test
# modules, compiled once, not from source every time (PYTHONDONTWRITEBYTECODE is set in some
# shells and CI images; pytest's collection takes twice as long without its cache).
WITH_BYTECODE := env -u PYTHONDONTWRITEBYTECODE

.PHONY: demo test lint typecheck contracts unit bench migration screenshots serve clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Five fictional youth through 27 simulated weeks; output in demo-output/ (a few minutes at most).
# e.g. make demo DEMO_ARGS="--orchestration inline --seed 7"
demo: $(STAMP)
	$(WITH_BYTECODE) $(BIN)/harbour demo --reset $(DEMO_ARGS)

test: $(STAMP) lint typecheck contracts unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Dependencies point down and the domain stays pure: the contracts in pyproject.toml.
contracts: $(STAMP)
	$(BIN)/lint-imports

# Two workers (this machine has two cores); tests/flows keeps to one of them, so the Prefect test
# server starts once (tests/conftest.py). PYTEST_WORKERS=0 runs in one process, e.g. to use pdb.
# The tests' stores and folders go on tmpfs where there is one: on disk, SQLite's fsyncs
# (synchronous=FULL) left the workers waiting.
PYTEST_WORKERS ?= 2
TEST_TMPDIR ?= $(if $(wildcard /dev/shm),/dev/shm,$(TMPDIR))
unit: $(STAMP)
	$(WITH_BYTECODE) TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# The console's pages at a phone's width, from the browser tests (needs Debian's chromium);
# all of them in build/screenshots/, and the README's five copied into docs/.
screenshots: $(STAMP)
	rm -rf build/screenshots
	HARBOUR_TEST_ARTIFACTS=build/screenshots $(BIN)/pytest -p no:cacheprovider -q \
		tests/web/test_browser.py tests/web/test_accessibility.py tests/web/test_casework_story.py
	cp build/screenshots/console-caseload.png build/screenshots/console-case.png \
		build/screenshots/console-alert.png build/screenshots/console-workbench.png \
		build/screenshots/console-imminent.png docs/

# Pre-release: the initial migration is regenerated from the models (nothing has shipped yet).
# From the first release, a schema change is a new migration instead, and its revision goes in
# harbour/db/schema.py (stores at an earlier one are then told to run `harbour db upgrade`).
migration: $(STAMP)
	rm -f harbour/db/migrations/versions/0001_initial.py
	$(BIN)/python -m harbour.db.regenerate
	$(BIN)/ruff check --fix --quiet harbour/db/migrations/versions || true
	$(BIN)/ruff format --quiet harbour/db/migrations/versions

clean:
	rm -rf $(VENV) var demo-output .pytest_cache .mypy_cache .ruff_cache
