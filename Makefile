# veil — set-up, demo, tests.
#   make demo   create .venv (if missing), install veil, run it on a built-in sample into demo-out/
#   make test   same set-up, then ruff and pytest (what CI runs, via .ci/run)
#   make quick  the same without the slow tests (such as the fresh-venv install check)
#   make lint   ruff only

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.veil-installed

.PHONY: setup demo test quick lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs only when pyproject.toml changes (the stamp is newer otherwise).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# `make test` also installs the ray extra (Ray with Ray Data, ~1 min once) so that the
# --engine ray test runs rather than skips.
RAYSTAMP := $(VENV)/.veil-ray-installed
$(RAYSTAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,ray]"
	touch $(RAYSTAMP)

demo: setup
	$(BIN)/python -m veil.demo demo-out

lint: setup
	$(BIN)/python -m ruff check src tests

test: setup $(RAYSTAMP)
	$(BIN)/python -m ruff check src tests
	$(BIN)/python -m pytest

quick: setup
	$(BIN)/python -m ruff check src tests
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf demo-out .pytest_cache
