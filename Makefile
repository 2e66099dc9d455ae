# Convene: `make run` starts everything, `make test` checks everything. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: help install browser run test lint typecheck pytest test-postgres bench bench-ci clean

help:
	@echo "make run            set up and start Convene (emulator, web, worker)"
	@echo "make test           set up and run linters, type checks and every test"
	@echo "make test-postgres  run the test suite against PostgreSQL ($(POSTGRES_URL))"
	@echo "make bench          run the benchmark suite (make bench ARGS=--quick: small sizes)"
	@echo "make bench-ci       the benchmarks' correctness check on PostgreSQL + Redis"

$(PY):
	python3 -m venv $(VENV)

# Re-install only when the dependency lists change.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed node_modules/.installed

# The browser tests (tests/e2e) drive Debian's Chromium: Playwright's own browser downloads are
# not used. Installed once on Debian-like machines (as root, or through password-less sudo);
# elsewhere nothing happens and those tests say they were skipped (CI fails them instead).
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ] || ! command -v apt-get >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "Chromium is missing: run 'sudo apt-get install chromium' for the browser tests."; exit 0; fi; \
	echo "Installing Chromium from Debian's packages for the browser tests..."; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo_data
	$(PY) manage.py rundev

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

# The tests run in parallel (pytest-xdist): more workers than cores, since most tests wait on
# HTTP, the emulator or the worker. The browser tests share one worker, and so do the tests that
# start worker processes (tests/conftest.py). PYTEST_WORKERS=0 runs them all in one process.
PYTEST_WORKERS ?= 4
PYTEST := $(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup

pytest: install browser
	$(PYTEST)

test: lint typecheck pytest

# Everything that reaches the database, against PostgreSQL. Not the emulator's own tests (they
# use no database) nor the browser tests (the pages they drive are the ones tests/convene renders
# on PostgreSQL here): both already ran in `make test`.
POSTGRES_SKIPS := --ignore=tests/m365_emulator --ignore=tests/e2e

test-postgres: install
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(POSTGRES_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		DATABASE_URL='$(POSTGRES_URL)' $(PYTEST) $(POSTGRES_SKIPS); \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "PostgreSQL is not reachable at $(POSTGRES_URL), and CI requires it." >&2; exit 1; \
	else \
		echo "SKIPPED: PostgreSQL is not reachable at $(POSTGRES_URL); set POSTGRES_URL to test against it."; \
	fi

bench: install
	$(PY) -m benchmarks $(ARGS)

# Small sizes, same code paths, correctness only; also part of make test-postgres.
bench-ci: install
	DATABASE_URL='$(POSTGRES_URL)' $(PYTEST) tests/benchmarks

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
