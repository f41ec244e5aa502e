# The two commands: `make run` (everything, on embedded defaults) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint typecheck browser worker api migrate install clean

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

# Two pytest processes: the suite mostly waits on servers and subprocesses, so two share the
# machine's cores well (each brings up its own dev server and PostgreSQL). Work stealing keeps
# both busy to the end instead of leaving the long e2e tests to one. The slowest tests are
# listed at the end, so the next one to shorten is in plain sight. mypy runs beside pytest:
# the tests leave a core idle most of the time (they wait), and mypy's 20 s then cost
# nothing; either failing fails the target.
test: lint browser
	@log=$$(mktemp); $(BIN)/mypy . > $$log 2>&1 & mypy=$$!; \
	$(BIN)/python -m pytest -n 2 --dist worksteal --durations=15; tests=$$?; \
	wait $$mypy; types=$$?; cat $$log; rm -f $$log; \
	[ $$tests -eq 0 ] && [ $$types -eq 0 ]

# Page tests drive the distribution's Chromium with Playwright (its own browser builds cannot
# be downloaded here). Installed only when missing and apt-get is usable by this user;
# otherwise one line says what to install.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
		command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		apt-get update -qq </dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium </dev/null >/dev/null; \
	} || { echo "make test needs Chromium for its page tests: install your distribution's" \
		"chromium package (or put chromium on PATH)" >&2; exit 1; }

# The unit layer: no Temporal server, no database, no subprocess. Run it before every commit.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m unit -q -p no:cacheprovider

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
