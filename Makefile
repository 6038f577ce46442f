# WikiRoam: `make dev` runs the app on this machine, `make test` runs every test the machine can run offline.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(PYTHON) -m uv
VENV := .venv
BIN := $(VENV)/bin
SYNCED := $(VENV)/.synced

.PHONY: dev test lint pr lock system-deps bench clean redrive

# The virtualenv, synced to the pinned requirements; redone whenever they change.
$(SYNCED): requirements/dev.txt pyproject.toml
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || { echo "Installing uv $(UV_VERSION)"; $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"; }
	@test -x $(BIN)/python || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	@echo "Syncing $(VENV) with requirements/dev.txt"
	@$(UV) pip sync --quiet --python $(BIN)/python requirements/dev.txt
	@echo "Installing the wikiroam command into $(VENV)"
	@$(UV) pip install --quiet --python $(BIN)/python --no-deps --editable .
	@touch $@

## dev: run all of WikiRoam locally (sample wiki, moto, the deployed program, gateway) at http://127.0.0.1:$${WIKIROAM_PORT:-8000}
dev: $(SYNCED)
	@$(BIN)/python -m local

## redrive: on the running local stack (make dev), re-request the pages left failed, stalled or never claimed, and
## replay the dead-letter queue (ARGS="--dry-run", "--include-partial"; `wikiroam redrive --help` for AWS stacks)
redrive: $(SYNCED)
	@$(BIN)/wikiroam redrive --local http://127.0.0.1:$${WIKIROAM_PORT:-8000} $(ARGS)

## system-deps: the Debian packages the tests need (a real MediaWiki, PHP)
system-deps:
	@scripts/install-system-deps

## test: every test layer this machine can run offline
test: $(SYNCED) system-deps
	@$(BIN)/pytest

## lint: ruff (lint + format) and mypy strict
lint: $(SYNCED)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy

## bench: every benchmark (bench/), one table of our figures against their comparisons and targets; QUICK=1 runs
## fewer rounds (under 2 minutes). Raw numbers, the table and pictures go to test-artifacts/bench/.
bench: $(SYNCED)
	@$(BIN)/python -m bench $(if $(QUICK),--quick)

## pr: everything a change must pass
pr: lint test

## lock: re-pin requirements/*.txt from requirements/*.in (no registry addresses recorded). dev.txt first: the
## layer and runtime pins are constrained to it, so the Lambda layer deploys exactly what the tests ran.
lock:
	@$(UV) pip compile --quiet --python-version 3.11 --no-header --annotation-style line \
		requirements/dev.in -o requirements/dev.txt
	@for name in layer runtime; do \
		$(UV) pip compile --quiet --python-version 3.11 --no-header --annotation-style line \
			--constraint requirements/dev.txt requirements/$$name.in -o requirements/$$name.txt || exit 1; \
	done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
