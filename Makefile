# incident-service: `make run` serves the API, `make test` checks everything.
# Needs only Python 3.11+ and make; uv is installed into .tools/ when it is not on PATH.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
DAGSTER_PORT ?= 3000
NOTEBOOKS_PORT ?= 2718

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
# Each target installs what it uses first (the stamps below); a syncing `uv run` would
# install every default group, so it does not sync.
RUN := $(UV) run --frozen --no-sync
# The dependency groups (pyproject.toml) on top of the service, per target.
ANALYTICS_GROUPS := --group analytics --group ml
NOTEBOOKS_GROUPS := $(ANALYTICS_GROUPS) --group notebooks

.PHONY: help install install-service install-analytics install-notebooks run migrate test lint typecheck pytest bench chaos dagster notebooks clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) \
	| sed $(foreach v,HOST PORT DAGSTER_PORT NOTEBOOKS_PORT,-e 's|$$($(v))|$($(v))|g') | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-18s %s\n", $$1, $$2}'

.tools/bin/uv:
	@echo "uv not found: installing it into .tools/"
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

# Every group and the dev tools: what the tests, linters and benchmarks need.
.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-groups
	@touch $@

# The narrower sets add to the environment (--inexact) rather than strip a fuller one.
.venv/.installed-service: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --inexact --no-default-groups
	@touch $@

.venv/.installed-analytics: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --inexact --no-default-groups $(ANALYTICS_GROUPS)
	@touch $@

.venv/.installed-notebooks: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --inexact --no-default-groups $(NOTEBOOKS_GROUPS)
	@touch $@

install: .venv/.installed ## install the project, every dependency group and the dev tools into .venv
install-service: .venv/.installed-service ## install the service alone (what make run uses)
install-analytics: .venv/.installed-analytics ## add the analytics and ml groups (what make dagster uses)
install-notebooks: .venv/.installed-notebooks ## add the analytics, ml and notebooks groups (what make notebooks uses)

run: install-service ## serve the API on http://$(HOST):$(PORT) and run one workflow worker beside it (embedded PostgreSQL unless DATABASE_URL is set)
	$(RUN) incident-service migrate
	@# The worker runs responses, escalations and the event relay; it stops with the API.
	$(RUN) incident-service worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	PUBLIC_DOCS=$${PUBLIC_DOCS:-true} SESSION_COOKIE_SECURE=$${SESSION_COOKIE_SECURE:-false} $(RUN) incident-service serve --host $(HOST) --port $(PORT)

migrate: install-service ## apply pending database migrations
	$(RUN) incident-service migrate

lint: install ## ruff (lint and format check) and the import contracts (.importlinter)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

typecheck: install ## mypy
	$(RUN) mypy incident_cli incident_service pipelines models benchmarks testkit

# The suite waits on workers, servers and subprocesses more than it computes: three
# processes (a file each at a time) take it from ~15 to ~9 minutes on two cores
# (docs/performance.md, "The test suite"). Without DATABASE_URL it runs in one process:
# the embedded PostgreSQL takes 100 connections. PYTEST_WORKERS=0 runs it in one always.
PYTEST_WORKERS ?= $(if $(DATABASE_URL),3,0)
pytest: install ## the test suite only (PYTEST_WORKERS processes, PYTEST_ARGS added)
	$(RUN) pytest $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

test: lint typecheck pytest ## ruff, import contracts, mypy and the whole test suite

chaos: install ## fault tests at full length (make test runs bounded versions): worker kill -9, PostgreSQL restart, hanging target; prints the figures
	CHAOS_SECONDS=$${CHAOS_SECONDS:-60} CHAOS_DOWN_SECONDS=$${CHAOS_DOWN_SECONDS:-10} CHAOS_HANGING_INCIDENTS=$${CHAOS_HANGING_INCIDENTS:-100} CRASH_INCIDENTS=$${CRASH_INCIDENTS:-1000} CRASH_PG_INCIDENTS=$${CRASH_PG_INCIDENTS:-300} $(RUN) pytest -s tests/chaos tests/responses/test_crash.py

bench: install ## benchmarks (figures go to docs/performance.md by hand)
	$(RUN) python -m benchmarks.run

dagster: install-analytics ## the Dagster UI on http://127.0.0.1:$(DAGSTER_PORT) (instance in .data/dagster, same database as make run)
	mkdir -p .data/dagster && cp pipelines/dagster.yaml .data/dagster/dagster.yaml && DAGSTER_HOME="$(CURDIR)/.data/dagster" $(RUN) dagster instance concurrency set warehouse 1
	DAGSTER_HOME="$(CURDIR)/.data/dagster" $(RUN) dagster dev -w workspace.yaml -h 127.0.0.1 -p $(DAGSTER_PORT)

notebooks: install-notebooks ## the marimo notebooks on http://127.0.0.1:$(NOTEBOOKS_PORT) (demo warehouse and models first when there are none)
	$(RUN) incident-service notebooks demo
	$(RUN) marimo edit notebooks --host 127.0.0.1 --port $(NOTEBOOKS_PORT) --headless

clean: ## remove the virtualenv, tools and local data (the embedded database too)
	rm -rf .venv .tools .data .mypy_cache .ruff_cache .pytest_cache
