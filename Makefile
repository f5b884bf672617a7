# The three commands a newcomer needs: make run, make test, make bench.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
DATA_DIR ?= ./data
PORT ?= 9090

NATIVESTAMP := $(VENV)/.installed-native

.PHONY: run test bench chaos lint typecheck native clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(STAMP)

$(NATIVESTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[native]'
	touch $@ $(STAMP)

# The enrich hot path compiled with mypyc into build/native/ (skipped when it already matches the sources;
# core/native.py uses it only while it does, else the same Python source runs).
native: $(NATIVESTAMP)
	$(BIN)/python tools/build_native.py

run: $(NATIVESTAMP)
	$(BIN)/python tools/build_native.py || echo "native build failed: eventkit runs its Python source instead"
	$(BIN)/eventkit up --port $(PORT) --data-dir $(DATA_DIR)

lint: $(DEVSTAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check core registry collector enrich loader embedded tools

typecheck: $(DEVSTAMP)
	$(BIN)/mypy
	$(BIN)/mypy tools/build_native.py

# Services the tests need (Pub/Sub emulator, fake-gcs-server, uvicorn) are started and stopped
# by pytest session fixtures in tests/conftest.py, each in its own process group.
test: lint typecheck native
	$(BIN)/pytest -q

bench: $(DEVSTAMP) native
	$(BIN)/python -m tests.bench

# The chaos run of `make test` for longer (not in CI): MINUTES of kill -9 and hostile input, then the audit's figures.
MINUTES ?= 5
chaos: $(DEVSTAMP) native
	$(BIN)/python -m tests.chaos $(MINUTES)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis data build
