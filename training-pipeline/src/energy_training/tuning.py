"""Optuna over the search space in search_space.yaml, time-boxed, on origins before the backtest.

Each trial is a nested MLflow run (and a W&B run in the same group) with its params and its
tuning WAPE. Tuning origins end where the backtest begins (see `protocol.tuning_protocol`), so
the scorecard never grades a model on hours its hyper-parameters were chosen on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import mlflow
import optuna
import pandas as pd

from energy_core.settings import TrackingSettings
from energy_training.backtest import backtest_model
from energy_training.config import ModelConfig, TuningConfig
from energy_training.metrics import wape
from energy_training.protocol import Protocol
from energy_training.tracking import RUN_TYPE_TAG, RUN_TYPE_TRIAL, wandb_run

log = logging.getLogger(__name__)


def suggest(trial: optuna.Trial, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Parameters for one trial from a declarative space (`type`: int | float | categorical)."""
    params: dict[str, Any] = {}
    for name, spec in space.items():
        kind = spec.get("type")
        if kind == "int":
            params[name] = trial.suggest_int(
                name,
                int(spec["low"]),
                int(spec["high"]),
                step=int(spec.get("step", 1)),
                log=bool(spec.get("log", False)),
            )
        elif kind == "float":
            params[name] = trial.suggest_float(
                name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log", False))
            )
        elif kind == "categorical":
            params[name] = trial.suggest_categorical(name, list(spec["choices"]))
        else:
            raise ValueError(f"search space entry {name!r}: unknown type {kind!r} (int, float, categorical)")
    return params


def tune(
    base: ModelConfig,
    space: dict[str, dict[str, Any]],
    tuning: TuningConfig,
    frame: pd.DataFrame,
    protocol: Protocol,
    seed: int,
    tracking: TrackingSettings,
    group: str,
) -> tuple[ModelConfig, pd.DataFrame]:
    """The best configuration found within the budget, and one row per trial."""
    family_space = space.get(base.family)
    if not family_space:
        raise ValueError(f"search_space.yaml has no space for family {base.family!r}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    rows: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, family_space)
        cfg = base.with_params(f"{base.name}_trial{trial.number}", **params)
        started = time.perf_counter()
        with mlflow.start_run(run_name=cfg.name, nested=True, tags={RUN_TYPE_TAG: RUN_TYPE_TRIAL}):
            pred = backtest_model(cfg, frame, protocol, seed)
            value = wape(pred["actual_kwh"].to_numpy(), pred["prediction_kwh"].to_numpy())
            seconds = time.perf_counter() - started
            mlflow.log_params(params)
            mlflow.log_metrics({"tuning_wape": value, "seconds": seconds})
        with wandb_run(tracking, cfg.name, params, group=group, job_type="tuning_trial") as run:
            if run is not None:
                run.log({"tuning_wape": value, "seconds": seconds})
        rows.append({"trial": trial.number, "tuning_wape": value, "seconds": seconds, **params})
        log.info("trial %d: tuning WAPE %.4f in %.1f s", trial.number, value, seconds)
        return value

    study.optimize(objective, n_trials=tuning.max_trials, timeout=tuning.budget_s, gc_after_trial=False)
    best = base.with_params(f"{base.name}_tuned", **study.best_params)
    log.info("tuning: %d trials, best tuning WAPE %.4f with %s", len(study.trials), study.best_value, study.best_params)
    return best, pd.DataFrame(rows)
