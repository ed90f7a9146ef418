# The two commands: `make demo` and `make test`. Both set up .venv when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Two stamps: the demo needs only the core install (no torch, no Ray: ~2 GB less); the
# tests need the dev extras. `make demo` then `make test` upgrades the same venv.
CORE   := $(VENV)/.installed-core
DEV    := $(VENV)/.installed-dev

.PHONY: demo test lint venv dev-venv system-deps bench-venv clean

$(CORE): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $(CORE)

$(DEV): $(CORE)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(DEV)

venv: $(CORE)
dev-venv: $(DEV)

# Headless Chromium renders the HTML report in a test (Debian's package; root on CI).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: install Debian's chromium package (the report test needs it)"; fi; }

demo: venv
	$(BIN)/thresher select --target data/sample/target.jsonl --raw data/sample/raw.jsonl.gz \
	  --out runs/demo --k 250 --overwrite

# Two test processes (pytest-xdist): the suite waits on subprocesses, Ray and S3 often enough
# that a second one fills the idle core; tests that start Ray share one process (xdist_group).
test: dev-venv system-deps
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

lint: dev-venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# The reference implementations the bench/ scripts run side by side. datatrove (with
# spaCy) gets a venv of its own so it cannot change thresher's dependencies.
bench-venv: dev-venv
	test -x .venv-datatrove/bin/python || $(PYTHON) -m venv .venv-datatrove
	.venv-datatrove/bin/python -m pip install -q 'datatrove[processing]==0.10.1' 'spacy>=3.8' orjson
	$(BIN)/python -m pip install -q rensa

clean:
	rm -rf runs .pytest_cache
