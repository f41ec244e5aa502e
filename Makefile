# The two commands: `make run` (everything, on embedded defaults) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint typecheck worker api migrate install clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "aijobs needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/dev_stack.py

worker: $(STAMP)
	$(BIN)/python worker.py

api: $(STAMP)
	$(BIN)/uvicorn api.main:app --host 127.0.0.1 --port 8000 --timeout-graceful-shutdown 5

# Brings AIJOBS_DATABASE_URL's schema to this code's migration (make run does it itself).
migrate: $(STAMP)
	$(BIN)/python -m store.migrate

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy .

test: lint typecheck
	$(BIN)/python -m pytest

# The unit layer: no Temporal server, no database, no subprocess. Run it before every commit.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m unit -q -p no:cacheprovider

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
