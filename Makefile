# Two commands matter: `make serve` and `make test`. Both bootstrap .venv from python3 alone.
# `serve` installs the runtime only (the package and its ~30 dependencies); `test` adds the test
# toolchain on top (schemathesis, hypothesis, playwright, mypy, ruff, the Agora SDK...).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-stamp
TESTING := $(VENV)/.test-stamp
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
ARGS ?=

.PHONY: serve test lint bench clean

$(BIN)/python:
	@echo "==> creating $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): pyproject.toml | $(BIN)/python
	@echo "==> installing the mock server and its runtime dependencies into $(VENV) (first run only)"
	$(PIP) install --upgrade pip
	$(PIP) install -e .
	@touch $@
	@echo "==> runtime ready: $$($(BIN)/python -m pip list --disable-pip-version-check 2>/dev/null | tail -n +3 | wc -l) packages"

$(TESTING): $(RUNTIME)
	@echo "==> installing the test toolchain into $(VENV) (first run only; a few hundred MB)"
	$(PIP) install -e '.[test]'
	@touch $@
	@echo "==> test toolchain ready: $$($(BIN)/python -m pip list --disable-pip-version-check 2>/dev/null | tail -n +3 | wc -l) packages"

serve: $(RUNTIME)
	$(BIN)/mockserver serve $(ARGS)

# Every test: the package's tests and the contract suite in process (pytest, with the browser tests
# when Chromium is there), the contract suite against a served mock by URL, and the examples project
# installed from the built wheel in a fresh venv.
test: $(TESTING)
	bash .ci/browser.sh
	$(BIN)/python -m pytest -n 2 $(ARGS)
	bash .ci/contract-url.sh
	bash .ci/examples.sh

lint: $(TESTING)
	$(BIN)/python -m ruff check mockserver tests contract_tests examples bench
	$(BIN)/python -m mypy mockserver

bench: $(TESTING)
	$(BIN)/python bench/bench_speak.py $(ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis
