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

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(ARGS)

lint: $(STAMP)
	$(BIN)/python -m ruff check mockserver tests bench
	$(BIN)/python -m mypy mockserver

bench: $(STAMP)
	$(BIN)/python bench/bench_speak.py $(ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis
