# kameng — every command a developer needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
NPM := npm --prefix frontend
PY_PATHS := src tests migrations $(wildcard bench)
SPA_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/package.json -type f 2>/dev/null)

.PHONY: help run test lint fmt typecheck test-backend test-frontend e2e fuzz openapi client lock bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

# ---- set-up ---------------------------------------------------------------------------------
$(VENV)/.installed: requirements/dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "kameng needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	$(NPM) ci --no-audit --no-fund
	touch $@

frontend/dist/index.html: frontend/node_modules/.installed $(SPA_SOURCES)
	$(NPM) run build

# ---- the two commands -------------------------------------------------------------------------
run: $(VENV)/.installed frontend/dist/index.html ## start everything (embedded PostgreSQL + Redis unless DATABASE_URL/REDIS_URL), seed demo, serve
	$(BIN)/kameng run

test: lint typecheck test-backend test-frontend e2e ## every check: lint, types, migrations, backend, OpenAPI/client drift, SPA, browser
	@echo "make test: all checks passed"

# ---- pieces of `make test` ------------------------------------------------------------------
lint: $(VENV)/.installed ## ruff lint + format check + the code's floors (import-linter)
	$(BIN)/ruff check $(PY_PATHS)
	$(BIN)/ruff format --check $(PY_PATHS)
	$(BIN)/lint-imports

fmt: $(VENV)/.installed ## format and autofix
	$(BIN)/ruff format $(PY_PATHS)
	$(BIN)/ruff check --fix $(PY_PATHS)

typecheck: $(VENV)/.installed ## mypy --strict on src/
	$(BIN)/mypy

test-backend: $(VENV)/.installed ## pytest: migrations check, API, outbox faults, OpenAPI drift
	$(BIN)/pytest

test-frontend: frontend/node_modules/.installed ## SPA: tsc, ESLint, Vitest, generated-client drift
	$(NPM) run typecheck
	$(NPM) run lint
	$(NPM) test
	$(NPM) run check:client

e2e: $(VENV)/.installed frontend/dist/index.html ## Playwright in Debian's Chromium against a real `kameng run`
	bash scripts/ensure-chromium.sh
	$(NPM) run e2e

fuzz: $(VENV)/.installed ## the contract fuzzer (schemathesis, all checks) with 10x the examples of `make test`
	KAMENG_FUZZ_EXAMPLES=$${KAMENG_FUZZ_EXAMPLES:-250} $(BIN)/pytest tests/test_contract_fuzz.py -q -s

# ---- generated files ------------------------------------------------------------------------
openapi: $(VENV)/.installed ## write openapi/openapi.json and regenerate the SPA client
	$(BIN)/kameng export-openapi --out openapi/openapi.json
	$(MAKE) client

client: frontend/node_modules/.installed ## regenerate the SPA's API client from openapi/openapi.json
	$(NPM) run generate

lock: $(VENV)/.installed ## re-pin Python dependencies (requirements/*.lock) from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 -o requirements/base.lock --no-header -q
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --extra embedded --extra dev -o requirements/dev.lock --no-header -q

bench: $(VENV)/.installed ## run every benchmark in bench/ (each prints its figures)
	@set -e; found=0; for f in bench/*.py; do [ -e "$$f" ] || continue; case "$$f" in */_*) continue;; esac; \
	  found=1; echo "== $$f"; $(BIN)/python "$$f"; done; \
	  if [ $$found = 0 ]; then echo "no benchmarks yet"; fi

clean: ## remove build output (keeps var/ data)
	rm -rf frontend/dist .mypy_cache .ruff_cache .pytest_cache
