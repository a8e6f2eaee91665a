# `make dev` runs the whole system locally; `make test` runs the checks and the test suite.
# Both create .venv/ with the pinned set in requirements/ on first use and reuse it after.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The local model exported to ONNX (fp32 and int8) from its pinned weights: inside the venv, not in git.
ONNX_DIR := $(VENV)/share/ragstream/onnx
MODELS := $(ONNX_DIR)/all-MiniLM-L6-v2/manifest.json
# This machine's pip configuration may name local package indexes that do not exist: hide those warnings.
QUIET_PIP := sed -u '/is ignored: it is neither a file nor a directory/d'

.PHONY: dev test lint typecheck bench install tools models local-llm clean

install: $(STAMP) models tools

models: $(MODELS)

$(MODELS): $(STAMP) apps/common/onnx_export.py
	$(BIN)/python -m apps.common.onnx_export $(ONNX_DIR)

# Test tools that cannot share .venv: checkov (its own venv) and the Compose Specification's
# JSON Schema (one file from a wheel). Both scripts do nothing when already done.
tools: $(STAMP)
	@PYTHON=$(PYTHON) bash scripts/install-checkov.sh 2>&1 | $(QUIET_PIP)
	@bash scripts/fetch-compose-schema.sh $(VENV)

$(STAMP): pyproject.toml requirements/lock.txt requirements/spacy-model.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ragstream needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the pinned dependencies into $(VENV) (first time: a few minutes, ~3 GB)..."
	$(BIN)/python -m pip install --disable-pip-version-check --upgrade pip==26.3 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install --disable-pip-version-check -r requirements/lock.txt 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install --disable-pip-version-check --no-deps unstructured-inference==1.6.14 rapidocr-onnxruntime==1.4.4 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install --disable-pip-version-check --no-deps --require-hashes -r requirements/spacy-model.txt 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | $(QUIET_PIP)
	@touch $(STAMP)

# The optional local chat model (`ragstream dev --chat-model-path`): the `local-llm` extra's packages from
# pyproject.toml into .venv. pip builds llama.cpp from source, not tuned to this CPU: minutes on 2 cores.
local-llm: $(STAMP)
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["local-llm"], sep="\n")' >$(VENV)/local-llm.txt
	sed 's/\[[^]]*\]//' requirements/lock.txt >$(VENV)/lock-constraints.txt  # the pinned set stays as it is
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install --disable-pip-version-check \
		-c $(VENV)/lock-constraints.txt -r $(VENV)/local-llm.txt 2>&1 | $(QUIET_PIP)

dev: $(STAMP) $(MODELS)
	$(BIN)/ragstream dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy apps schemas tests bench scripts

# The slow end-to-end tests (marked `slow`) run when RAGSTREAM_SLOW_TESTS is set, as .ci/run sets it.
test: lint typecheck tools $(MODELS)
	$(BIN)/pytest $(if $(RAGSTREAM_SLOW_TESTS),,-m "not slow")

bench: $(STAMP) $(MODELS)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
