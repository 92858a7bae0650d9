"""Optuna over the search space in search_space.yaml, on origins before the backtest.

Bounded by a trial count, not by time: the seeded TPE sampler then proposes the same trials in the
same order on any machine, however loaded, so the tuned candidate and the scorecard reproduce.
The time cap (`time_cap_s`, or the lower cap the pipeline derives from the profile's
`run_budget_s`) is a safety net only; when it stops tuning early, `TuningOutcome` says so and the
pipeline records it on the run and in the scorecard.

A trial is scored on its point forecast (WAPE) only, so its candidate fits no interval at all
(`config.POINT_ONLY`: no conformal calibration fit, no quantile models): the band does not enter
the objective, and the calibration fit was half of every trial's cost (`make pipeline`'s 12 trials
took 37 s with it and 18 s without, docs/performance.md). The point forecast, and so the objective
and the chosen parameters, are those of the same trial with a band. The tuned winner is
backtested and registered with the profile's own intervals and calibration.

Each trial is a nested MLflow run (and a W&B run in the same group) with its params and its
tuning WAPE. Tuning origins end where the backtest begins (see `protocol.tuning_protocol`), so
the scorecard never grades a model on hours its hyper-parameters were chosen on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import mlflow
import optuna
import pandas as pd

from energy_core.settings import TrackingSettings
from energy_training.backtest import backtest_model
from energy_training.config import POINT_ONLY, ModelConfig, TuningConfig
from energy_training.metrics import wape
from energy_training.protocol import Protocol
from energy_training.tracking import RUN_TYPE_TAG, RUN_TYPE_TRIAL, wandb_run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TuningOutcome:
    """What tuning produced and how it ended: the winner, one row per trial, the trial counts."""

    best: ModelConfig
    trials: pd.DataFrame
    trials_planned: int
    trials_completed: int
    time_cap_s: float
    seconds: float
    run_budget_s: float | None = None

    @property
    def stopped_by_cap(self) -> bool:
        return self.trials_completed < self.trials_planned

    def summary(self) -> str:
        """One line for the log, the run and the scorecard."""
        budget = "" if self.run_budget_s is None else f", what the run's {self.run_budget_s:.0f} s budget left"
        if self.stopped_by_cap:
            return (
                f"tuning stopped at {self.trials_completed}/{self.trials_planned} trials by the "
                f"{self.time_cap_s:.0f} s cap{budget}"
            )
        return (
            f"tuning ran all {self.trials_planned} trials in {self.seconds:.0f} s (cap {self.time_cap_s:.0f} s{budget})"
        )

    def as_tags(self) -> dict[str, str]:
        tags = {
            "tuning_trials_planned": str(self.trials_planned),
            "tuning_trials_completed": str(self.trials_completed),
            "tuning_stopped_by_cap": str(self.stopped_by_cap).lower(),
            "tuning_time_cap_s": f"{self.time_cap_s:.0f}",
            "tuning_seconds": f"{self.seconds:.1f}",
            "tuning_summary": self.summary(),
        }
        if self.run_budget_s is not None:
            tags["tuning_run_budget_s"] = f"{self.run_budget_s:.0f}"
        return tags


def trial_config(base: ModelConfig, name: str, params: dict[str, Any]) -> ModelConfig:
    """One trial's candidate: `base` with the trial's parameters and no interval (the objective is
    the point forecast's WAPE; see the module docstring)."""
    return replace(base.with_params(name, **params), intervals=POINT_ONLY)


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
    time_cap_s: float | None = None,
    threads: int | None = None,
) -> TuningOutcome:
    """The best of `tuning.trials` seeded trials (fewer only if the time cap was hit). `time_cap_s`
    lowers the profile's cap (the pipeline passes what the run's budget leaves); never raises it."""
    cap = tuning.time_cap_s if time_cap_s is None else min(tuning.time_cap_s, time_cap_s)
    family_space = space.get(base.family)
    if not family_space:
        raise ValueError(f"search_space.yaml has no space for family {base.family!r}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    rows: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, family_space)
        cfg = trial_config(base, f"{base.name}_trial{trial.number}", params)
        started = time.perf_counter()
        # The parent's experiment, named explicitly: a nested run otherwise lands in MLflow's
        # Default experiment, whose artifacts go to ./mlruns of the working directory.
        parent = mlflow.active_run()
        experiment = parent.info.experiment_id if parent is not None else None
        with mlflow.start_run(
            run_name=cfg.name, nested=True, experiment_id=experiment, tags={RUN_TYPE_TAG: RUN_TYPE_TRIAL}
        ):
            pred = backtest_model(cfg, frame, protocol, seed, threads)
            value = wape(pred["actual_kwh"].to_numpy(), pred["prediction_kwh"].to_numpy())
            seconds = time.perf_counter() - started
            mlflow.log_params(params)
            mlflow.log_metrics({"tuning_wape": value, "seconds": seconds})
        with wandb_run(tracking, cfg.name, params, group, "tuning_trial", save_requirements=False) as run:
            if run is not None:
                run.log({"tuning_wape": value, "seconds": seconds})
        rows.append({"trial": trial.number, "tuning_wape": value, "seconds": seconds, **params})
        log.info("trial %d: tuning WAPE %.4f in %.1f s", trial.number, value, seconds)
        return value

    started = time.perf_counter()
    study.optimize(objective, n_trials=1, gc_after_trial=False)  # at least one trial: there is always a winner
    remaining_s = cap - (time.perf_counter() - started)
    if tuning.trials > 1 and remaining_s > 0:
        # The seeded sampler carries on where it stopped: the same trials as one optimize() call.
        study.optimize(objective, n_trials=tuning.trials - 1, timeout=remaining_s, gc_after_trial=False)
    completed = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    outcome = TuningOutcome(
        best=base.with_params(f"{base.name}_tuned", **study.best_params),
        trials=pd.DataFrame(rows),
        trials_planned=tuning.trials,
        trials_completed=completed,
        time_cap_s=cap,
        seconds=time.perf_counter() - started,
        run_budget_s=tuning.run_budget_s,
    )
    (log.warning if outcome.stopped_by_cap else log.info)(
        "%s; best tuning WAPE %.4f with %s", outcome.summary(), study.best_value, study.best_params
    )
    return outcome
