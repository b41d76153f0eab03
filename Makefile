# The README's two commands: `make demo` (the main job) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick clean

# The suite runs on every core (pytest-xdist). A test file stays on one worker: its module-scoped
# fixtures (a database, a gateway, the soak's run) are built once. Every test listens on an
# OS-chosen 127.0.0.1 port and gets its own database, so workers do not meet.
# `make test PYTEST_PARALLEL=` runs it in one process.
PYTEST_PARALLEL ?= -n auto --dist loadfile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,fast]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pilegate demo

test: $(STAMP)
	$(BIN)/python -m tests.services
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check protocol
	$(BIN)/mypy

# The benchmarks find PostgreSQL the way `make test` does (tests/services.py).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,fast,bench]"
	$(BIN)/python -m tests.services
	$(BIN)/python bench/run_all.py

bench-quick: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,fast,bench]"
	$(BIN)/python -m tests.services
	$(BIN)/python bench/run_all.py --quick

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
