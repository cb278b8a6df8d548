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
BUILT := .aws-sam/build/.built# stamp of the last `sam build` (see "SAM" below)
LAMBDA_RUNTIME := $(BUILD)/lambda-runtime# python3.13 and the runtime's boto3 (see "SAM" below)
CHROMIUM := /usr/bin/chromium# the e2e tier's headless browser (see `make chromium`)
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

# The project's source folders on an environment's path (a .pth file, instead of installing the project: nothing is
# built into the checkout): the repository root (ml_code, local_twin, cfn, security, bench) and functions/ (the
# functions and mlops_shared, the shared layer's code).
define add_source_path
	printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/functions" > \
		"$$($(1)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/sagemaker_secure_mlops.pth"
endef

$(VENV)/.installed: requirements/dev.txt requirements/bootstrap.txt
	$(call make_venv,$(VENV),requirements/dev.txt)
	$(call add_source_path,$(VENV))
	touch $@

$(RENDER_VENV)/.installed: requirements/render.txt requirements/bootstrap.txt
	$(call make_venv,$(RENDER_VENV),requirements/render.txt)
	$(call add_source_path,$(RENDER_VENV))
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
lock: $(VENV)/.installed ## Re-lock requirements/*.txt from requirements/*.in (existing pins are kept where they fit)
	for env in dev render sam checkov; do \
	  $(VENV)/bin/uv pip compile --quiet --python-version 3.11 requirements/$$env.in -o requirements/$$env.txt; \
	done
	for env in layer lambda-runtime; do \
	  $(VENV)/bin/uv pip compile --quiet --python-version 3.13 --python-platform x86_64-manylinux_2_17 \
		requirements/$$env.in -o requirements/$$env.txt; \
	done

# --- the pipeline definition --------------------------------------------------------------------------------------
ML_CODE := $(wildcard ml_code/*.py)
SHARED_CODE := $(wildcard functions/mlops_shared/*.py)

# The pipeline's contract modules (tokens, code keys, names) are the shared layer's mlops_shared (add_source_path).
$(DEFINITION): $(RENDER_VENV)/.installed $(ML_CODE) $(SHARED_CODE)
	$(RENDER_VENV)/bin/python -m ml_code.render --output-dir $(BUILD)

.PHONY: definition
definition: $(DEFINITION) ## Render build/pipeline-definition.json and build/image-uris.json offline (no AWS)

# --- checks ---------------------------------------------------------------------------------------------------------
.PHONY: lint
lint: $(VENV)/.installed ## ruff (lint + format check), mypy, and the import contracts (.importlinter)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

.PHONY: test
# The integration and e2e tiers run the packages `sam build` made, under python3.13, beside the runtime's boto3.
test: lint $(DEFINITION) $(BUILT) $(LAMBDA_RUNTIME)/.installed security $(CHROMIUM) ## Every check: lint, types, security gates, all test tiers
	$(VENV)/bin/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the suite is broken" >&2; fi; exit $$rc

# The e2e tier opens report.html in Debian's headless chromium (Playwright drives it; no browser download).
$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive sh -c \
		'apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null'

.PHONY: chromium
chromium: $(CHROMIUM) ## Install Debian's chromium for the HTML report's browser test (apt-get; root or sudo)

.PHONY: test-unit
test-unit: $(VENV)/.installed $(DEFINITION) ## Only the unit tier
	$(VENV)/bin/pytest -m unit

# --- SAM: build and validate the application ---------------------------------------------------------------------
# `sam build` uses the makefile method for every function (Metadata: BuildMethod: makefile, ContextPath: .): it
# runs `make -f <this file> build-<LogicalId> ARTIFACTS_DIR=...` in a scratch copy of the function's CodeUri. The
# targets below install cross-platform wheels for Lambda's python3.13 (no local python3.13, no Docker) and copy the
# code from the repository root, which they find from this file's own path.
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
SAM_ROOT := $(patsubst %/,%,$(dir $(abspath $(firstword $(MAKEFILE_LIST)))))
# pip of the SAM environment: `sam build` runs these targets, so that environment exists whenever they run.
LAMBDA_PIP := $(SAM_ROOT)/$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-compile \
	--platform manylinux2014_x86_64 --implementation cp --python-version 3.13 --only-binary=:all:
# boto3 and its dependencies are in Lambda's python3.13 runtime (requirements/lambda-runtime.in).
LAMBDA_RUNTIME_PROVIDED := boto3 boto3-* botocore botocore-* s3transfer s3transfer-* jmespath jmespath-* urllib3 \
	urllib3-* dateutil python_dateutil-* six.py six-*
# The container scripts the upsert function uploads (content-addressed, mlops_shared.code_assets). Never pipeline.py or
# render.py: they import the SageMaker SDK.
CONTAINER_SCRIPTS := __init__.py preprocess.py train.py evaluate.py abalone_features.py inference.py
FIND_PYTHON := $(SAM_ROOT)/tools/find-python

# Bytecode for Lambda's python3.13, shipped in every package: Lambda's code directories are read-only, so without it
# every cold start compiles every module it imports (`make bench` measures the difference). unchecked-hash: Lambda
# uses the .pyc without comparing timestamps, and the bytes depend only on the source (two builds are identical).
define compile_for_lambda # $(1) = folders or files
	python=$$($(FIND_PYTHON) 3.13) && "$$python" -m compileall -q -j 0 --invalidation-mode unchecked-hash $(1)
endef

# Parts of the layer's libraries no function imports (Powertools' event handlers and other utilities, pydantic's v1 and
# mypy plugin): shipped as source, not compiled, which keeps the layer under 15 MB (make bench: layer size).
LAYER_NOT_IMPORTED := aws_lambda_powertools/(event_handler|utilities/(?!(parser|typing|jmespath_utils)/|__init__)[^/]+)|pydantic/(v1|deprecated|experimental|mypy\.py)

define function_package # $(1) = folder under functions/: the function's own code, nothing else (the layer has the rest)
	rm -rf "$(ARTIFACTS_DIR)/$(1)" && cp -r $(SAM_ROOT)/functions/$(1) "$(ARTIFACTS_DIR)/$(1)"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +
	$(call compile_for_lambda,"$(ARTIFACTS_DIR)/$(1)")
endef

.PHONY: build-SharedLayer build-UpsertPipelineFunction build-TrainStepsFunction build-ReconcileDeploymentsFunction \
	build-DeployStepsFunction build-PruneDeploymentsFunction build-CleanupDeploymentsFunction
build-SharedLayer: # Powertools, pydantic and mlops_shared, at /opt/python in Lambda
	$(LAMBDA_PIP) --target "$(ARTIFACTS_DIR)/python" -r $(SAM_ROOT)/requirements/layer.txt
	cd "$(ARTIFACTS_DIR)/python" && rm -rf bin $(LAMBDA_RUNTIME_PROVIDED)
	rm -rf "$(ARTIFACTS_DIR)/python/mlops_shared" && cp -r $(SAM_ROOT)/functions/mlops_shared "$(ARTIFACTS_DIR)/python/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +
	python=$$($(FIND_PYTHON) 3.13) && "$$python" -m compileall -q -j 0 --invalidation-mode unchecked-hash \
		-x '$(LAYER_NOT_IMPORTED)' "$(ARTIFACTS_DIR)/python"
build-UpsertPipelineFunction: # its code, plus the container scripts it uploads and the definition it creates
	$(call function_package,upsert_pipeline)
	mkdir -p "$(ARTIFACTS_DIR)/ml_code" "$(ARTIFACTS_DIR)/build"
	cp $(addprefix $(SAM_ROOT)/ml_code/,$(CONTAINER_SCRIPTS)) "$(ARTIFACTS_DIR)/ml_code/"
	cp $(SAM_ROOT)/$(DEFINITION) $(SAM_ROOT)/$(BUILD)/image-uris.json $(SAM_ROOT)/$(BUILD)/code-assets.json \
		"$(ARTIFACTS_DIR)/build/"
	$(call compile_for_lambda,"$(ARTIFACTS_DIR)/ml_code/__init__.py")
build-TrainStepsFunction build-RetrainOnDriftFunction:
	$(call function_package,training)
build-ReconcileDeploymentsFunction build-DeployStepsFunction: # its code, and the image URIs (the analyzer's)
	$(call function_package,deployments)
	mkdir -p "$(ARTIFACTS_DIR)/build" && cp $(SAM_ROOT)/$(BUILD)/image-uris.json "$(ARTIFACTS_DIR)/build/"
build-PruneDeploymentsFunction build-CleanupDeploymentsFunction:
	$(call function_package,deployment_janitor)

# `sam build` only when something it packages changed (it rebuilds everything, about a minute): the stamp depends on
# every input of every target above.
FUNCTION_SOURCES := $(shell find functions -name '*.py' -not -path '*/__pycache__/*')

$(BUILT): template.yaml Makefile requirements/layer.txt $(FUNCTION_SOURCES) $(ML_CODE) $(DEFINITION) \
		$(SAM_VENV)/.installed
	@tools/find-python 3.13 >/dev/null
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(SAM) build --template template.yaml
	touch $@

.PHONY: build
build: $(BUILT) ## Render the pipeline definition, then `sam build` (offline, no Docker; needs python3.13)

# The python3.13 Lambda runtime the emulator runs the built functions in: the interpreter (found by tools/find-python)
# and what the runtime provides beside it (requirements/lambda-runtime.txt), as in AWS's /var/runtime.
$(LAMBDA_RUNTIME)/.installed: requirements/lambda-runtime.txt | $(VENV)/.installed
	@python=$$(tools/find-python 3.13) && \
	rm -rf $(LAMBDA_RUNTIME) && mkdir -p $(LAMBDA_RUNTIME)/bin && ln -s "$$python" $(LAMBDA_RUNTIME)/bin/python3.13 && \
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python "$$python" --target $(LAMBDA_RUNTIME)/python \
		-r requirements/lambda-runtime.txt && \
	touch $@

.PHONY: lambda-runtime
lambda-runtime: $(LAMBDA_RUNTIME)/.installed ## The python3.13 Lambda runtime the emulator runs the functions in

.PHONY: validate
validate: $(SAM_VENV)/.installed ## `sam validate --lint` (cfn-lint) on template.yaml
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(SAM) validate --lint --template template.yaml

# --- security gates (docs/security.md) -------------------------------------------------------------
# Pinned and offline: cfn-lint + cfn-lint-serverless (.venv), sam validate (.venv-sam), checkov (.venv-checkov),
# cfn-guard and the IAM simulator (npm, package-lock.json; test-only, never shipped), project checks (.venv).
SECURITY_BUILD := $(BUILD)/security
EXPANDED := $(SECURITY_BUILD)/template.expanded.json

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(EXPANDED): template.yaml $(wildcard statemachine/*.asl.json) security/sam_expand.py $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/python -m security.sam_expand template.yaml $@

.PHONY: security security-lint security-checkov security-guard security-project
security: security-lint security-checkov security-guard security-project node_modules/.installed ## All security gates

security-lint: $(VENV)/.installed $(SAM_VENV)/.installed ## sam validate --lint and cfn-lint (+ serverless rules), both templates
	for template in template.yaml network.yaml; do \
	  AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(SAM) validate --lint --template $$template || exit 1; \
	done
	$(VENV)/bin/cfn-lint --config-file security/cfnlintrc.yaml

security-checkov: $(CHECKOV_VENV)/.installed ## checkov (+ the project's custom checks) on both templates
	$(CHECKOV_VENV)/bin/checkov --config-file security/checkov/config.yaml -f template.yaml -f network.yaml --quiet

security-guard: node_modules/.installed $(EXPANDED) $(VENV)/.installed ## cfn-guard: Control Tower + project rules
	$(PY) -m security.guard.run $(EXPANDED) network.yaml $(SECURITY_BUILD)/guard

security-project: $(VENV)/.installed $(EXPANDED) $(DEFINITION) ## Project checks: ASL, pipeline definition, IAM
	$(PY) -m security.project_checks --template template.yaml --expanded $(EXPANDED) --definition $(DEFINITION)

# --- running things locally ---------------------------------------------------------------------------------------
.PHONY: local
local: $(VENV)/.installed $(BUILT) $(LAMBDA_RUNTIME)/.installed ## Train, approve and deploy on this machine (ARGS="--target batch")
	$(PY) -m local_twin $(ARGS)

# Only the pipeline: its definition executed step by step on data/abalone.csv; record in build/pipeline-local/.
.PHONY: pipeline-local
pipeline-local: $(VENV)/.installed $(DEFINITION) ## Run the pipeline definition locally (ARGS="--param MseThreshold=0.1")
	$(PY) -m local_twin.pipeline_runner --upload data/abalone.csv=s3://pipeline-local-artifacts/data/abalone.csv $(ARGS)

# The UCI Machine Learning Repository, data set 1 (CC BY 4.0). abalone.data inside the zip is the header-less CSV the
# pipeline reads; its SHA-256 is checked so a changed or truncated download is refused instead of trained on.
ABALONE_URL := https://archive.ics.uci.edu/static/public/1/abalone.zip
ABALONE_SHA256 := de37cdcdcaaa50c309d514f248f7c2302a5f1f88c168905eba23fe2fbc78449f

.PHONY: data
data: ## Download the abalone data set from the UCI repository to data/abalone.csv
	@mkdir -p data
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	echo "downloading $(ABALONE_URL)" && \
	curl --fail --location --silent --show-error --retry 3 --max-time 300 -o "$$tmp/abalone.zip" "$(ABALONE_URL)" && \
	unzip -p "$$tmp/abalone.zip" abalone.data > "$$tmp/abalone.csv" && \
	{ echo "$(ABALONE_SHA256)  $$tmp/abalone.csv" | sha256sum --check --quiet - || \
	  { echo "make data: the download is not the expected abalone.data (SHA-256 differs); data/ left unchanged" >&2; exit 1; }; } && \
	mv "$$tmp/abalone.csv" data/abalone.csv && \
	echo "data/abalone.csv: $$(wc -l < data/abalone.csv) rows"

# --- benchmarks (docs/performance.md) --------------------------------------------------------------------------
# Not part of `make test`: timings belong in a table beside their goals, never in a test's assertion. The Lambda
# figures are of the packages `sam build` made, run by the python3.13 runtime, as they would deploy.
.PHONY: bench
bench: $(VENV)/.installed $(RENDER_VENV)/.installed $(DEFINITION) $(BUILT) $(LAMBDA_RUNTIME)/.installed ## Measure against the goals → build/bench/results.json (ARGS="--runs 5 --make-test")
	$(PY) -m bench $(ARGS)

.PHONY: clean
clean: ## Remove build outputs (keeps the environments)
	rm -rf $(BUILD) .aws-sam
