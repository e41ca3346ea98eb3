# Two commands matter: `make serve` and `make test`. Both bootstrap .venv from python3 alone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ARGS ?=

.PHONY: serve test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/mockserver serve $(ARGS)

# Every test: the package's tests and the contract suite in process (pytest, with the browser tests
# when Chromium is there), the contract suite against a served mock by URL, and the examples project
# installed from the built wheel in a fresh venv.
test: $(STAMP)
	bash .ci/browser.sh
	$(BIN)/python -m pytest -n 2 $(ARGS)
	bash .ci/contract-url.sh
	bash .ci/examples.sh

lint: $(STAMP)
	$(BIN)/python -m ruff check mockserver tests contract_tests examples bench
	$(BIN)/python -m mypy mockserver

bench: $(STAMP)
	$(BIN)/python bench/bench_speak.py $(ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis
