# Leadflow - developer and operator commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.8
UV := python3 -m uv
PY := $(UV) run --frozen
STACK := python3 deploy/local/stack.py

.PHONY: help install up init down status demo test browser test-unit test-integration test-e2e test-faults bench bench-smoke schemas

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: ## install the Python packages from uv.lock into .venv (installs uv first when missing)
	@python3 -m uv --version >/dev/null 2>&1 || { echo "installing uv $(UV_VERSION) (Python package manager)..."; \
		python3 -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; }
	@$(UV) sync --all-packages --locked --quiet
	@echo "Python packages installed (.venv, from uv.lock)"

up: install ## start Kafka and PostgreSQL (or use the ones LEADFLOW_* point at), create topics, migrate
	@$(STACK) up
	@$(MAKE) --no-print-directory init

init: ## create the Kafka topics and apply database migrations
	@$(PY) leadflow-topics create
	@$(PY) leadflow-scoring migrate
	@$(PY) leadflow-handover migrate
	@$(PY) leadflow-ingest migrate

demo: up ## run the three services on a demo scenario and leave them running
	@$(PY) python deploy/local/demo.py run

down: ## stop the demo services, Kafka and PostgreSQL (data is kept; `make purge` deletes it)
	@if [ -x .venv/bin/python ]; then .venv/bin/python deploy/local/demo.py stop; fi
	@$(STACK) down

purge: down ## stop everything and delete local Kafka and PostgreSQL data
	@$(STACK) down --purge

status: ## show what is running
	@$(STACK) status || true
	@if [ -x .venv/bin/python ]; then .venv/bin/python deploy/local/demo.py status; fi

browser: ## install Debian's Chromium for the browser tests (when missing and root)
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then echo "installing chromium (browser tests)..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "browser tests need /usr/bin/chromium: sudo apt-get install chromium"; fi; fi

test: install browser ## run the whole test suite against real Kafka and PostgreSQL
	@$(STACK) up
	@$(PY) pytest

test-unit: install ## unit tests only (no Kafka, no PostgreSQL)
	@$(PY) pytest tests/unit

test-integration: install
	@$(STACK) up
	@$(PY) pytest tests/integration

test-e2e: install
	@$(STACK) up
	@$(PY) pytest tests/e2e

test-faults: install
	@$(STACK) up
	@$(PY) pytest tests/faults

bench: up ## run the benchmarks and write docs/benchmarks.md
	@$(PY) python -m bench

bench-smoke: up ## a seconds-long run of every benchmark (run by the tests too)
	@$(PY) python -m bench --smoke

schemas: install ## regenerate the committed JSON Schemas and AsyncAPI document
	@$(PY) leadflow-schemas write
