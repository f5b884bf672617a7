# The three commands a newcomer needs: make run, make test, make bench.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
DATA_DIR ?= ./data
PORT ?= 9090

.PHONY: run test bench lint typecheck clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(STAMP)

run: $(STAMP)
	$(BIN)/eventkit up --port $(PORT) --data-dir $(DATA_DIR)

lint: $(DEVSTAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check core registry collector enrich loader

typecheck: $(DEVSTAMP)
	$(BIN)/mypy

# Services the tests need (Pub/Sub emulator, fake-gcs-server, uvicorn) are started and stopped
# by pytest session fixtures in tests/conftest.py, each in its own process group.
test: lint typecheck
	$(BIN)/pytest -q

bench: $(DEVSTAMP)
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis data
