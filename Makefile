# One entry point for every task. Each target sets up what it needs (the environments below are created on
# first use and re-created when their lock file changes), so a fresh clone needs only `make local` or `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
RENDER_VENV := .venv-render
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
BUILD := build
DEFINITION := $(BUILD)/pipeline-definition.json
ARGS ?=

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

# --- environments -------------------------------------------------------------------------------------------------
# uv installs from the lock files; it is itself pinned in requirements/bootstrap.txt.
define make_venv
	rm -rf $(1)
	$(PYTHON) -m venv $(1)
	$(1)/bin/pip install --quiet --disable-pip-version-check -r requirements/bootstrap.txt
	$(1)/bin/uv pip install --quiet --python $(1)/bin/python -r $(2)
endef

$(VENV)/.installed: requirements/dev.txt requirements/bootstrap.txt
	$(call make_venv,$(VENV),requirements/dev.txt)
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $@

$(RENDER_VENV)/.installed: requirements/render.txt requirements/bootstrap.txt
	$(call make_venv,$(RENDER_VENV),requirements/render.txt)
	touch $@

$(SAM_VENV)/.installed: requirements/sam.txt requirements/bootstrap.txt
	$(call make_venv,$(SAM_VENV),requirements/sam.txt)
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt requirements/bootstrap.txt
	$(call make_venv,$(CHECKOV_VENV),requirements/checkov.txt)
	touch $@

.PHONY: setup
setup: $(VENV)/.installed $(RENDER_VENV)/.installed ## Create the Python environments

.PHONY: lock
lock: $(VENV)/.installed ## Re-lock requirements/*.txt from requirements/*.in
	for env in dev render sam checkov; do \
	  $(VENV)/bin/uv pip compile --quiet --python-version 3.11 requirements/$$env.in -o requirements/$$env.txt; \
	done

# --- the pipeline definition --------------------------------------------------------------------------------------
ML_CODE := $(wildcard ml_code/*.py)

$(DEFINITION): $(RENDER_VENV)/.installed $(ML_CODE)
	$(RENDER_VENV)/bin/python -m ml_code.render --output-dir $(BUILD)

.PHONY: definition
definition: $(DEFINITION) ## Render the SageMaker Pipeline definition offline to build/pipeline-definition.json

# --- checks ---------------------------------------------------------------------------------------------------------
.PHONY: lint
lint: $(VENV)/.installed ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

.PHONY: test
test: lint $(DEFINITION) ## Every check: lint, types, and all test tiers
	$(VENV)/bin/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the suite is broken" >&2; fi; exit $$rc

.PHONY: test-unit
test-unit: $(VENV)/.installed $(DEFINITION) ## Only the unit tier
	$(VENV)/bin/pytest -m unit

# --- running things locally ---------------------------------------------------------------------------------------
.PHONY: clean
clean: ## Remove build outputs (keeps the environments)
	rm -rf $(BUILD) .aws-sam
