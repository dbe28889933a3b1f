# Two commands set everything up: `make run` and `make test`. The daily loop is
# `make lint typecheck test`, as CI runs it (.ci/run); `make test-fast` leaves out the
# slow tests. Every install takes the releases pinned in constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALL := $(BIN)/pip install --quiet -c constraints.txt

.PHONY: run test test-fast lint format typecheck bench constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(INSTALL) -e .
	touch $@

$(VENV)/.installed-%: pyproject.toml constraints.txt $(VENV)/.installed
	$(INSTALL) -e ".[$*]"
	touch $@

run: $(VENV)/.installed
	$(BIN)/python run.py $(ARGS)

# Both engines: PostgreSQL from ORDERDESK_TEST_POSTGRES, else a throw-away cluster that
# scripts/test.sh starts and stops (it says so when it cannot, and that half is skipped).
test: $(VENV)/.installed-test
	scripts/test.sh $(PYTEST_ARGS)

# Without the tests marked slow (browsers, nginx, several server processes).
test-fast: $(VENV)/.installed-test
	scripts/test.sh -m "not slow" $(PYTEST_ARGS)

lint: $(VENV)/.installed-lint
	$(BIN)/ruff check
	$(BIN)/ruff format --check

# Rewrites the files `make lint` would refuse for their layout.
format: $(VENV)/.installed-lint
	$(BIN)/ruff format
	$(BIN)/ruff check --fix

typecheck: $(VENV)/.installed-lint
	$(BIN)/mypy

# The benchmark needs wrk: apt-get install wrk. BENCH_ARGS="--orders 10000,1000000 --db postgresql://..." etc.
# The peer (FastAPI + uvicorn) is installed for the benchmark only: the `bench` extra.
bench: $(VENV)/.installed-bench
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Moves constraints.txt to the newest releases pyproject.toml allows; then run
# `make lint typecheck test` before committing it.
constraints: | $(BIN)/python
	$(BIN)/python scripts/constraints.py

# Never the data folder (./data): only what make and the tools rebuild.
clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build orderdesk.egg-info
