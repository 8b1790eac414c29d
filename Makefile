# The two commands of the quick start, and what CI runs.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

## run: set up, check the bundled policy and serve decisions on http://127.0.0.1:8181
run: $(STAMP)
	$(BIN)/pdp check policies/
	$(BIN)/pdp serve policies/

## test: set up and run the whole test suite (what CI runs)
test: $(STAMP)
	$(BIN)/pytest -q

## check: lint, types and tests
check: $(STAMP)
	$(BIN)/ruff check pdp tests tools
	$(BIN)/ruff format --check pdp tests tools
	$(BIN)/mypy
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
