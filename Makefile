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
# The initial training: the full profile's model search inside a wall-clock budget (models.yaml
# `pipeline`: tuning gets what 110 s leave, NHITS 100 steps); TRAINING_PROFILE=full runs 25 trials.
TRAINING_PROFILE ?= pipeline
# Scheduled retrains inside the simulation: two of the full profile's recursive LightGBMs plus the
# champion's own configuration, no tuning, in a warm `training-pipeline worker`. A retrain as of H serves from H + RETRAIN_LAG, and trains
# behind the hours until then (docs/performance.md); RETRAIN_LAG=1h waits for it at once.
RETRAIN_PROFILE ?= retrain
RETRAIN_LAG ?= 6h
FRESH ?= 0

API_HOST ?= 127.0.0.1
API_PORT ?= 8001
FRONTEND_PORT ?= 8501
MONITORING_PORT ?= 8502

# pytest-xdist workers (empty: serial). Two by default: on 2 cores the whole suite (805 tests, 2026-12-02)
# took 1,030 s serially and 799 s with -n 2 (each worker builds the session-wide snapshot store once, but
# the long end-to-end tests then run side by side), which keeps `.ci/run` under 20 minutes on a slow machine
# (fresh-clone CI on 2026-12-03: 17 min 35 s, 19 min 43 s, 18 min 40 s on one machine: a thin margin; 14 min
# 31 s on another once every fit took one thread, below). Every run prints its 15 slowest tests (--durations):
# the end-to-end training, simulation and kill tests lead, so they are where time is won back.
# With workers, every training a test runs fits on one thread (ENERGY_TRAINING_THREADS=1, unless set):
# two quick trainings side by side took 116-122 s with two threads each and 25 s with one (docs/performance.md,
# "A seventh machine"), as LightGBM's idle second thread spins between its OpenMP regions.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

.PHONY: help install test lint format pytest pipeline pipeline-setup demo serve bench clean validate-infra infra-venv airflow-venv airflow-test

help: ## List the targets and the variables you can override
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-15s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Overridable: ENERGY_HOME=$(ENERGY_HOME) ENERGY_SNAPSHOT_DIR=$(ENERGY_SNAPSHOT_DIR)"
	@echo "  PIPELINE_START/END/AS_OF, SIMULATE_START/END, RETRAIN_EVERY, RETRAIN_LAG, TRAINING_PROFILE, FRESH=1,"
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
	workers=(); fits=2; [[ -z "$(PYTEST_WORKERS)" ]] || { workers=(-n "$(PYTEST_WORKERS)"); fits=1; }; \
	set -x; \
	ENERGY_HOME="$$home" ENERGY_TRAINING_THREADS="$${ENERGY_TRAINING_THREADS:-$$fits}" \
		$(BIN)/python -m pytest -q -ra --durations=15 "$${workers[@]}" "$${select[@]}" $(PYTEST_ARGS)

bench: $(INSTALL_STAMP) ## Run every bench/bench_*.py (each prints medians of several repetitions)
	@shopt -s nullglob; scripts=(bench/bench_*.py); \
	if (( ! $${#scripts[@]} )); then echo "bench: no bench/bench_*.py yet"; exit 0; fi; \
	home="$$(mktemp -d -t energy-bench.XXXXXX)"; trap 'rm -rf "$$home"' EXIT; \
	for script in "$${scripts[@]}"; do \
		echo "== $$script"; ENERGY_HOME="$$home" $(BIN)/python "$$script"; \
	done

# Deployment tools and Airflow live in venvs of their own: their pins would fight the services'.
INFRA_VENV ?= .venv-infra
AIRFLOW_VENV ?= .venv-airflow
INFRA_STAMP := $(INFRA_VENV)/.install-stamp
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.install-stamp

$(INFRA_STAMP): infrastructure/requirements.txt
	@[[ -x $(INFRA_VENV)/bin/python ]] || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(INFRA_VENV)/bin/python -m pip install --quiet -r infrastructure/requirements.txt
	@touch $@

$(AIRFLOW_STAMP): infrastructure/airflow/requirements.txt infrastructure/airflow/constraints.txt
	@[[ -x $(AIRFLOW_VENV)/bin/python ]] || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet -c infrastructure/airflow/constraints.txt \
		-r infrastructure/airflow/requirements.txt
	@touch $@

infra-venv: $(INFRA_STAMP) ## Create .venv-infra: ansible, ansible-lint, checkov, hadolint, yamllint, podman-compose

airflow-venv: $(AIRFLOW_STAMP) ## Create .venv-airflow: Airflow 3 + providers (its own venv, never .venv)

validate-infra: $(INFRA_STAMP) ## actionlint, ansible-lint, syntax-check, checkov, hadolint, yamllint, compose config, terraform fmt
	@INFRA_BIN=$(INFRA_VENV)/bin infrastructure/validate.sh

airflow-test: $(INSTALL_STAMP) $(AIRFLOW_STAMP) ## DAGs parse; `airflow dags test` of the hourly DAG equals the jobs run by hand
	@ENERGY_SERVICES_BIN=$(abspath $(BIN)) $(AIRFLOW_VENV)/bin/python -m pytest -q -ra -p no:cacheprovider \
		-c /dev/null --rootdir infrastructure/airflow infrastructure/airflow/tests $(PYTEST_ARGS)

# ---------------------------------------------------------------------------------------------- run
pipeline: pipeline-setup ## Offline end-to-end run into ENERGY_HOME: backfill, train, simulate a week
	$(BIN)/batch-prediction-pipeline simulate --start $(SIMULATE_START) --end $(SIMULATE_END) \
		--retrain-every $(RETRAIN_EVERY) --retrain-lag $(RETRAIN_LAG) --profile $(RETRAIN_PROFILE)

pipeline-setup: $(INSTALL_STAMP) ## The first two steps of `pipeline`: backfill, then the initial training
	@echo "pipeline: ENERGY_HOME=$(ENERGY_HOME) snapshot=$(ENERGY_SNAPSHOT_DIR)"
	$(BIN)/feature-pipeline backfill --start $(PIPELINE_START) --end $(PIPELINE_END)
	$(BIN)/training-pipeline run --as-of $(PIPELINE_AS_OF) --profile $(TRAINING_PROFILE)

# `demo` shows the pages as soon as the first forecasts exist: it trains (unless a simulation was
# already started in ENERGY_HOME), runs the simulation in the background, waits for its first hour,
# then serves. The monitoring page shows the simulation's progress (app-api's /simulation). Both run
# as background jobs with their own process groups, so Ctrl-C or a TERM to make stops the pages and
# the simulation together; its progress is saved, and the next `make demo` resumes it.
SIMULATION_STATE = $(ENERGY_HOME)/state/simulation.json
SIMULATE_LOG = $(ENERGY_HOME)/logs/simulate.out
STATE_FIELD = import json, sys; sys.exit(0 if json.load(open(sys.argv[1])).get(sys.argv[2]) else 1)

demo: $(INSTALL_STAMP) ## Serve as soon as the first forecasts exist; the week's simulation runs behind the pages (FRESH=1 starts over)
	@if [[ "$(FRESH)" == 1 ]]; then $(MAKE) clean; fi
	@state="$(SIMULATION_STATE)"; \
	[[ -f "$$state" ]] || $(MAKE) pipeline-setup; \
	if $(BIN)/python -c '$(STATE_FIELD)' "$$state" finished 2>/dev/null; then \
		echo "demo: ENERGY_HOME=$(ENERGY_HOME) already holds a finished simulation (FRESH=1 rebuilds it)"; \
		exec $(MAKE) serve; \
	fi; \
	set -m; mkdir -p "$$(dirname "$(SIMULATE_LOG)")"; \
	$(BIN)/batch-prediction-pipeline simulate --start $(SIMULATE_START) --end $(SIMULATE_END) \
		--retrain-every $(RETRAIN_EVERY) --retrain-lag $(RETRAIN_LAG) --profile $(RETRAIN_PROFILE) --no-progress >>"$(SIMULATE_LOG)" 2>&1 & sim=$$!; \
	stop() { trap - EXIT INT TERM; for job in $${pages:-} "$$sim"; do kill -TERM -- "-$$job" 2>/dev/null || true; done; wait || true; }; \
	trap stop EXIT; trap 'exit 130' INT TERM; \
	echo "demo: simulating $(SIMULATE_START) .. $(SIMULATE_END) in the background (log: $(SIMULATE_LOG))"; \
	until $(BIN)/python -c '$(STATE_FIELD)' "$$state" completed_through 2>/dev/null; do \
		kill -0 "$$sim" 2>/dev/null || { echo "demo: the simulation stopped before its first hour:" >&2; \
			tail -n 20 "$(SIMULATE_LOG)" >&2; exit 1; }; \
		sleep 2; \
	done; \
	echo "demo: first forecasts written; serving while the simulation continues (progress on the monitoring page)"; \
	$(MAKE) serve & pages=$$!; \
	wait "$$pages"

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
	echo "  API         http://$(API_HOST):$(API_PORT)/api/v1/docs"; \
	echo "  Forecasts   http://127.0.0.1:$(FRONTEND_PORT)"; \
	echo "  Monitoring  http://127.0.0.1:$(MONITORING_PORT)"; \
	echo "  (Ctrl-C stops all three; if one exits, the others are stopped too)"; \
	echo; \
	wait -n

# ---------------------------------------------------------------------------------------------- containers
# buildah/podman, no Docker daemon: run ../shared/containers/setup.sh as root once (infrastructure/containers/).
IMAGES ?= feature-pipeline app-api app-frontend app-monitoring training-pipeline batch-prediction-pipeline
.PHONY: images stack-test

images: ## Build the six service images (buildah), each smoke-checked; IMAGES=... for a subset
	@TORCH_INDEX_URL="$(TORCH_INDEX_URL)" infrastructure/containers/build-images.sh $(IMAGES)

stack-test: $(INSTALL_STAMP) ## The stack in containers on the snapshot: jobs, services, HTTP + browser test (after `images`)
	@VENV_PYTHON=$(BIN)/python infrastructure/containers/stack-test.sh

clean: ## Remove ENERGY_HOME (default ./.energy) and tool caches
	@home="$(ENERGY_HOME)"; \
	if [[ -e "$$home" && "$$(basename "$$home")" != .energy && ! -d "$$home/feature_store" && -n "$$(ls -A "$$home")" ]]; then \
		echo "clean: refusing to delete $$home: not named .energy and holds no feature_store/" >&2; exit 1; \
	fi; \
	rm -rf -- "$$home" .mypy_cache .ruff_cache .pytest_cache
