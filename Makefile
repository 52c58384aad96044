# incident-service: `make run` serves the API, `make test` checks everything.
# Needs only Python 3.11+ and make; uv is installed into .tools/ when it is not on PATH.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen

.PHONY: help install run migrate test lint typecheck pytest bench chaos dagster notebooks clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

.tools/bin/uv:
	@echo "uv not found: installing it into .tools/"
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

install: .venv/.installed ## install the project and its tools into .venv

run: install ## serve the API on http://$(HOST):$(PORT) and run one workflow worker beside it (embedded PostgreSQL unless DATABASE_URL is set)
	$(RUN) incident-service migrate
	@# The worker runs responses, escalations and the event relay; it stops with the API.
	$(RUN) incident-service worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	PUBLIC_DOCS=$${PUBLIC_DOCS:-true} $(RUN) incident-service serve --host $(HOST) --port $(PORT)

migrate: install ## apply pending database migrations
	$(RUN) incident-service migrate

lint: install ## ruff (lint and format check)
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: install ## mypy
	$(RUN) mypy incident_service pipelines models benchmarks

pytest: install ## the test suite only
	$(RUN) pytest $(PYTEST_ARGS)

test: lint typecheck pytest ## ruff, mypy and the whole test suite

chaos: install ## fault tests at full length (make test runs bounded versions): worker kill -9, PostgreSQL restart, hanging target; prints the figures
	CHAOS_SECONDS=$${CHAOS_SECONDS:-60} CHAOS_DOWN_SECONDS=$${CHAOS_DOWN_SECONDS:-10} CHAOS_HANGING_INCIDENTS=$${CHAOS_HANGING_INCIDENTS:-100} CRASH_INCIDENTS=$${CRASH_INCIDENTS:-1000} CRASH_PG_INCIDENTS=$${CRASH_PG_INCIDENTS:-300} $(RUN) pytest -s tests/chaos tests/responses/test_crash.py

bench: install ## benchmarks (figures go to docs/performance.md by hand)
	$(RUN) python -m benchmarks.run

dagster: install ## the Dagster UI on http://127.0.0.1:3000 (instance in .data/dagster, same database as make run)
	mkdir -p .data/dagster && cp pipelines/dagster.yaml .data/dagster/dagster.yaml && DAGSTER_HOME="$(CURDIR)/.data/dagster" $(RUN) dagster instance concurrency set warehouse 1
	DAGSTER_HOME="$(CURDIR)/.data/dagster" $(RUN) dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

notebooks: install ## the marimo review notebooks on http://127.0.0.1:2718 (demo warehouse and models first when there are none)
	$(RUN) incident-service notebooks demo
	$(RUN) marimo edit notebooks --host 127.0.0.1 --port 2718 --headless

clean: ## remove the virtualenv, tools and local data (the embedded database too)
	rm -rf .venv .tools .data .mypy_cache .ruff_cache .pytest_cache
