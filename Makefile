# The two commands of the quick start, and what CI runs.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test check lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# What serving needs: the base library plus the `service` extra.
$(VENV)/.installed-service: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[service]'
	touch $@

# Everything: all extras plus the development tools. casbin-sqlalchemy-adapter (the
# casbin_rule interoperability test) requires the old `casbin` distribution, whose files
# would overwrite pycasbin's: it is installed without dependencies (pycasbin provides `casbin`).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps 'casbin-sqlalchemy-adapter>=1.4,<2'
	touch $@ $(VENV)/.installed-service

## run: set up, check the bundled policy and serve decisions on http://127.0.0.1:8181
run: $(VENV)/.installed-service
	$(BIN)/pdp check policies/
	$(BIN)/pdp serve policies/

## test: set up and run the whole test suite (what CI runs)
test: $(VENV)/.installed
	$(BIN)/pytest -q

## lint: ruff (lint and format) and mypy --strict, as CI runs them
lint: $(VENV)/.installed
	$(BIN)/ruff check pdp tests tools
	$(BIN)/ruff format --check pdp tests tools
	$(BIN)/mypy

## check: lint, types and tests
check: lint test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
