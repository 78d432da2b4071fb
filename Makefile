# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_ARGS ?=

.PHONY: run test lint typecheck venv clean

# The stamp is rebuilt whenever setup.cfg changes, so new dependencies install themselves.
$(VENV)/.installed: setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

venv: $(VENV)/.installed

## Install, migrate the SQLite database under instance/, load the demo network once, then
## serve the web app and run the scheduler beside it (Ctrl-C stops both).
run: venv
	$(BIN)/wms db upgrade
	$(BIN)/wms demo load --if-empty
	$(BIN)/wms scheduler & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null' EXIT; \
	$(BIN)/wms serve --host $(HOST) --port $(PORT); \
	kill $$scheduler 2>/dev/null; wait $$scheduler

## The whole suite (SQLite by default; PostgreSQL when WMS_TEST_DATABASE_URL is set).
test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
