# The two commands a fresh machine needs: `make build` and `make test`.
# Everything else installs itself into .venv from pyproject.toml.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help build test test-fast check lint types bench bench-preview same clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# One line per step; pip and the build stay --quiet but still print their warnings and errors.
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

$(STAMP): pyproject.toml
	@echo "creating $(VENV)…"
	@$(PYTHON) -m venv $(VENV)
	@echo "updating pip…"
	@$(PIP) --upgrade pip
	@echo "installing dependencies (about a minute the first time)…"
	@$(PIP) -e '.[test,dev]'
	@touch $(STAMP)

build: $(STAMP) ## validate content/questions.yaml and build dist/
	@echo "building dist/…"
	@$(PY) -m pipeline build --source content/questions.yaml --out dist --cache .cache/pipeline

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

bench: $(STAMP) ## time synthetic banks against a naive script, then the live preview
	$(PY) bench/bench.py
	$(PY) bench/preview.py

bench-preview: $(STAMP) ## time the live preview in Chromium: edit to page, start-up, memory
	$(PY) bench/preview.py

same: $(STAMP) ## build every bank with HEAD and the working tree: byte-identical outputs?
	$(PY) bench/same_outputs.py

clean: ## remove build output, caches and .venv
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
	find dist -mindepth 1 ! -name README.md -exec rm -rf {} +
