# One task runner for the whole repository. `make help` lists the targets.
#
# Why make: it is on every machine, and the install stamp lets `make demo` and `make test` work on a
# fresh clone (they install first) while a second run skips the install entirely.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --no-print-directory

# ---------------------------------------------------------------------------------------------- install
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
# Empty: pip's own configuration decides (on the dev machines it points at a local CPU wheel).
# Set it to https://download.pytorch.org/whl/cpu (GitHub CI) or .../whl/cu128 (GPU host) to take torch
# from the PyTorch index; torch's own dependencies then come from the main install, under constraints.
TORCH_INDEX_URL ?=
SERVICES := feature-pipeline training-pipeline batch-prediction-pipeline app-api app-frontend app-monitoring
PACKAGES := core $(SERVICES)
INSTALL_STAMP := $(VENV)/.install-stamp

# ---------------------------------------------------------------------------------------------- runtime
ENERGY_HOME ?= $(CURDIR)/.energy
ENERGY_SNAPSHOT_DIR ?= $(abspath $(CURDIR)/../shared/data)
MLFLOW_DISABLE_TELEMETRY ?= true
WANDB_MODE ?= offline
export ENERGY_HOME ENERGY_SNAPSHOT_DIR MLFLOW_DISABLE_TELEMETRY WANDB_MODE

# The offline end-to-end run on the snapshot (2022-12-21T16:00Z .. 2023-01-24T22:00Z, last known hour):
# features up to 7 days before its end, one training as of that hour, then a week of simulated hours.
PIPELINE_START ?= 2022-12-21T16:00Z
PIPELINE_END ?= 2023-01-17T23:00Z
PIPELINE_AS_OF ?= 2023-01-17T22:00Z
SIMULATE_START ?= $(PIPELINE_END)
SIMULATE_END ?= 2023-01-24T23:00Z
RETRAIN_EVERY ?= 24h
TRAINING_PROFILE ?= full
# Scheduled retrains inside the simulation: the full profile's LightGBM without tuning or NHITS.
RETRAIN_PROFILE ?= retrain
FRESH ?= 0

API_HOST ?= 127.0.0.1
API_PORT ?= 8001
FRONTEND_PORT ?= 8501
MONITORING_PORT ?= 8502

# pytest-xdist workers; empty runs serially. Measured on 2 cores (49 fast tests): serial 48 s, -n 2 55 s,
# and with -n 2 every worker would build the session-wide snapshot store again. So serial by default.
PYTEST_WORKERS ?=
PYTEST_ARGS ?=

.PHONY: help install test lint format pytest pipeline demo serve bench clean validate-infra

help: ## List the targets and the variables you can override
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-15s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Overridable: ENERGY_HOME=$(ENERGY_HOME) ENERGY_SNAPSHOT_DIR=$(ENERGY_SNAPSHOT_DIR)"
	@echo "  PIPELINE_START/END/AS_OF, SIMULATE_START/END, RETRAIN_EVERY, TRAINING_PROFILE, FRESH=1,"
	@echo "  API_PORT FRONTEND_PORT MONITORING_PORT, PYTEST_WORKERS, PYTEST_ARGS, TORCH_INDEX_URL, PYTHON"

install: $(INSTALL_STAMP) ## Create .venv with every package (editable) and the dev tools; quick when done

$(INSTALL_STAMP): constraints.txt requirements-dev.txt $(wildcard $(addsuffix /pyproject.toml,$(PACKAGES)))
	@missing=(); for pkg in $(PACKAGES); do [[ -f "$$pkg/pyproject.toml" ]] || missing+=("$$pkg"); done; \
	if (( $${#missing[@]} )); then \
		echo "install: no pyproject.toml in: $${missing[*]} (expected one per package: $(PACKAGES))" >&2; exit 1; \
	fi
	@command -v $(PYTHON) >/dev/null || { echo "install: $(PYTHON) not found; install Python 3.11 or pass PYTHON=..." >&2; exit 1; }
	@[[ -x $(BIN)/python ]] || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; assert sys.version_info[:2] == (3, 11), f"$(VENV) runs Python {sys.version.split()[0]}; remove it and use Python 3.11"'
	@echo "install: $(VENV) (pip, torch $(TORCH_VERSION), then core, the services and the dev tools; ~2 min the first time)"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# torch first, so nothing that depends on it can pull a CUDA wheel from the default index.
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX_URL),--no-deps --index-url $(TORCH_INDEX_URL),-c constraints.txt) torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -c constraints.txt $(addprefix -e ,$(PACKAGES)) -r requirements-dev.txt
	@touch $@

# ---------------------------------------------------------------------------------------------- quality
lint: $(INSTALL_STAMP) ## ruff over the repository, mypy (strict) over core
	$(BIN)/ruff check .
	$(BIN)/mypy core/src

format: $(INSTALL_STAMP) ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint pytest ## lint, then every tests/ folder (slow end-to-end tests need the snapshot)

pytest: $(INSTALL_STAMP) ## Only the tests: a throw-away ENERGY_HOME; `slow` skipped when no snapshot
	@home="$$(mktemp -d -t energy-test.XXXXXX)"; trap 'rm -rf "$$home"' EXIT; \
	select=(); \
	if ! compgen -G "$$ENERGY_SNAPSHOT_DIR/*.parquet" >/dev/null; then \
		echo "pytest: no snapshot in ENERGY_SNAPSHOT_DIR=$$ENERGY_SNAPSHOT_DIR, so tests marked slow are skipped"; \
		select=(-m "not slow"); \
	fi; \
	workers=(); [[ -z "$(PYTEST_WORKERS)" ]] || workers=(-n "$(PYTEST_WORKERS)"); \
	set -x; \
	ENERGY_HOME="$$home" $(BIN)/python -m pytest -q -ra "$${workers[@]}" "$${select[@]}" $(PYTEST_ARGS)

bench: $(INSTALL_STAMP) ## Run every bench/bench_*.py (each prints medians of several repetitions)
	@shopt -s nullglob; scripts=(bench/bench_*.py); \
	if (( ! $${#scripts[@]} )); then echo "bench: no bench/bench_*.py yet"; exit 0; fi; \
	home="$$(mktemp -d -t energy-bench.XXXXXX)"; trap 'rm -rf "$$home"' EXIT; \
	for script in "$${scripts[@]}"; do \
		echo "== $$script"; ENERGY_HOME="$$home" $(BIN)/python "$$script"; \
	done

validate-infra: $(INSTALL_STAMP) ## Static checks: hadolint, yamllint, terraform fmt, compose structure
	@YAMLLINT=$(BIN)/yamllint PYTHON=$(BIN)/python infrastructure/validate.sh

# ---------------------------------------------------------------------------------------------- run
pipeline: $(INSTALL_STAMP) ## Offline end-to-end run into ENERGY_HOME: backfill, train, simulate a week
	@echo "pipeline: ENERGY_HOME=$(ENERGY_HOME) snapshot=$(ENERGY_SNAPSHOT_DIR)"
	$(BIN)/feature-pipeline backfill --start $(PIPELINE_START) --end $(PIPELINE_END)
	$(BIN)/training-pipeline run --as-of $(PIPELINE_AS_OF) --profile $(TRAINING_PROFILE)
	$(BIN)/batch-prediction-pipeline simulate --start $(SIMULATE_START) --end $(SIMULATE_END) \
		--retrain-every $(RETRAIN_EVERY) --profile $(RETRAIN_PROFILE)

demo: $(INSTALL_STAMP) ## `pipeline` unless ENERGY_HOME already holds a finished one (FRESH=1 redoes it), then `serve`
	@if [[ "$(FRESH)" == 1 ]]; then \
		$(MAKE) clean pipeline; \
	elif $(BIN)/batch-prediction-pipeline status --json >/dev/null 2>&1; then \
		echo "demo: ENERGY_HOME=$(ENERGY_HOME) already holds a finished pipeline (FRESH=1 rebuilds it)"; \
	else \
		$(MAKE) pipeline; \
	fi
	@$(MAKE) serve

serve: $(INSTALL_STAMP) ## Serve app-api, app-frontend and app-monitoring together; Ctrl-C stops all three
	@set -m; pids=(); names=(); \
	stop() { trap - INT TERM EXIT; for pid in "$${pids[@]}"; do kill -TERM -- "-$$pid" 2>/dev/null || true; done; wait || true; }; \
	trap stop INT TERM EXIT; \
	start() { names+=("$$1"); "$(BIN)/$$1" "$${@:2}" & pids+=($$!); }; \
	export ENERGY_API_URL="http://$(API_HOST):$(API_PORT)"; \
	start app-api --host $(API_HOST) --port $(API_PORT); \
	start app-frontend --port $(FRONTEND_PORT); \
	start app-monitoring --port $(MONITORING_PORT); \
	probe='import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)'; \
	for _ in $$(seq 120); do \
		for i in "$${!pids[@]}"; do \
			kill -0 "$${pids[$$i]}" 2>/dev/null || { echo "serve: $${names[$$i]} exited during start-up (see above)" >&2; exit 1; }; \
		done; \
		if $(BIN)/python -c "$$probe" "$$ENERGY_API_URL/api/v1/health" 2>/dev/null; then up=1; break; fi; sleep 1; \
	done; \
	[[ -n "$${up:-}" ]] || { echo "serve: $$ENERGY_API_URL/api/v1/health did not answer within 120 s" >&2; exit 1; }; \
	echo; \
	echo "  API         http://$(API_HOST):$(API_PORT)/docs"; \
	echo "  Forecasts   http://127.0.0.1:$(FRONTEND_PORT)"; \
	echo "  Monitoring  http://127.0.0.1:$(MONITORING_PORT)"; \
	echo "  (Ctrl-C stops all three; if one exits, the others are stopped too)"; \
	echo; \
	wait -n

clean: ## Remove ENERGY_HOME (default ./.energy) and tool caches
	@home="$(ENERGY_HOME)"; \
	if [[ -e "$$home" && "$$(basename "$$home")" != .energy && ! -d "$$home/feature_store" && -n "$$(ls -A "$$home")" ]]; then \
		echo "clean: refusing to delete $$home: not named .energy and holds no feature_store/" >&2; exit 1; \
	fi; \
	rm -rf -- "$$home" .mypy_cache .ruff_cache .pytest_cache
