# The three commands a newcomer needs: make run, make test, make bench.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
DATA_DIR ?= ./data
PORT ?= 9090

# The compiled build is the wheel (setup.py compiles enrich's per-event path with mypyc), built once per state of
# the sources (tools/compiled_wheel.py). `make run` installs it into a venv of its own, as `pip install .` would;
# `make test` and `make bench` unpack it alone into build/compiled/site and run the dev venv's Python on it, with
# no path to the source packages (PYTHONSAFEPATH; build/compiled/path holds only a link to tests/).
RUNVENV := .venv-run
COMPILED := $(CURDIR)/build/compiled
ON_COMPILED := cd $(COMPILED)/path && EVENTKIT_EXPECT_COMPILED=1 PYTHONSAFEPATH=1 \
	PYTHONPATH=$(COMPILED)/site:$(COMPILED)/path $(abspath $(BIN))/python
TESTS ?= tests
# What `make test` also runs against the editable install (the Python source): the user-enrichment and build tests.
PURE_TESTS := tests/enrich/enrichments/test_python_enrichment.py tests/test_build.py

.PHONY: run test bench chaos lint typecheck compiled clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(STAMP)

run:
	$(PY) tools/compiled_wheel.py install $(RUNVENV)
	$(RUNVENV)/bin/eventkit up --port $(PORT) --data-dir $(DATA_DIR)

compiled: $(DEVSTAMP)
	$(BIN)/python tools/compiled_wheel.py unpack $(COMPILED)

lint: $(DEVSTAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check core registry collector enrich loader embedded tools setup.py

typecheck: $(DEVSTAMP)
	$(BIN)/mypy
	$(BIN)/mypy setup.py tools/compiled_wheel.py

# Services the tests need (Pub/Sub emulator, fake-gcs-server, uvicorn) are started and stopped
# by pytest session fixtures in tests/conftest.py, each in its own process group.
# The whole suite runs against the compiled build (what `make run` and a `pip install` run), then the tests of
# PURE_TESTS against the source.
test: lint typecheck compiled
	$(ON_COMPILED) -m pytest -q -c $(CURDIR)/pyproject.toml --rootdir $(COMPILED)/path $(TESTS)
	$(BIN)/pytest -q $(PURE_TESTS)

bench: compiled
	$(ON_COMPILED) -m tests.bench

# The chaos run of `make test` for longer (not in CI): MINUTES of kill -9 and hostile input, then the audit's figures.
MINUTES ?= 5
chaos: compiled
	$(ON_COMPILED) -m tests.chaos $(MINUTES)

clean:
	rm -rf $(VENV) $(RUNVENV) .mypy_cache .ruff_cache .hypothesis data build *.egg-info
