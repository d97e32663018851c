# The two commands a fresh machine needs: `make build` and `make test`.
# Everything else installs itself into .venv from pyproject.toml.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help build test test-fast check lint types bench same clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

build: $(STAMP) ## validate content/questions.yaml and build dist/
	$(PY) -m pipeline build

test: $(STAMP) ## run the whole test suite
	$(PY) -m pytest

test-fast: $(STAMP) ## the quick loop: no slow tests, a tenth of the generated examples
	PIPELINE_TESTS=fast $(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline tests
	$(VENV)/bin/ruff format --check pipeline tests

types: $(STAMP)
	$(VENV)/bin/mypy

check: lint types test ## lint, type-check and test

bench: $(STAMP) ## time synthetic banks against a naive script
	$(PY) bench/bench.py

same: $(STAMP) ## build every bank with HEAD and the working tree: byte-identical outputs?
	$(PY) bench/same_outputs.py

clean: ## remove build output, caches and .venv
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
	find dist -mindepth 1 ! -name README.md -exec rm -rf {} +
