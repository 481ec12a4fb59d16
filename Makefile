# veil — set-up, demo, tests.
#   make demo   create .venv (if missing), install veil, run it on a built-in sample into demo-out/
#   make test   same set-up, then ruff and pytest (what CI runs, via .ci/run)
#   make quick  the same without the slow tests (such as the fresh-venv install check)
#   make lint   ruff only
#   make browser  install Debian's chromium for the review page's browser tests (as root, once)

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.veil-installed

.PHONY: setup demo test quick lint clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs only when pyproject.toml changes (the stamp is newer otherwise).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/python -m veil.demo demo-out

lint: setup
	$(BIN)/python -m ruff check src tests benchmarks

# The review page's tests drive the system chromium with playwright (its own browser
# download cannot work offline). Installed only when missing, and only as root (CI);
# without it those tests skip and say why.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

test: setup browser
	$(BIN)/python -m ruff check src tests benchmarks
	$(BIN)/python -m pytest

quick: setup
	$(BIN)/python -m ruff check src tests benchmarks
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf demo-out .pytest_cache
