"""Tuning is bounded by a trial count and only capped by time (tiny synthetic frame, real Optuna,
MLflow in a temporary SQLite file; W&B disabled; nothing is mocked)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from energy_core.settings import BacktestSettings, TrackingSettings
from energy_training.backtest import backtest_model
from energy_training.config import POINT_ONLY, ConfigError, ModelConfig, TuningConfig, load_profile
from energy_training.pipeline import FINISH_RESERVE_S, tuning_cap
from energy_training.protocol import backtest_protocol, tuning_protocol
from energy_training.tuning import TuningOutcome, trial_config, tune

BASE = ModelConfig(
    "lgbm", "lightgbm", params={"n_estimators": 5, "num_leaves": 4, "verbose": -1}, lags=(1, 24), strategy="recursive"
)
SPACE = {
    "lightgbm": {
        "n_estimators": {"type": "int", "low": 3, "high": 9},
        "num_leaves": {"type": "int", "low": 3, "high": 8},
    }
}


@pytest.fixture(autouse=True)
def _tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")


def _tune(frame: pd.DataFrame, trials: int, cap_s: float) -> TuningOutcome:
    settings = BacktestSettings(ENERGY_BACKTEST_ORIGINS=2)
    protocol = backtest_protocol(frame["datetime_utc"].max(), settings)
    return tune(
        BASE,
        SPACE,
        TuningConfig("lgbm", trials=trials, time_cap_s=cap_s, origins=2),
        frame,
        tuning_protocol(protocol, 2, settings),
        seed=7,
        tracking=TrackingSettings(WANDB_MODE="disabled"),
        group="test",
    )


def test_tuning_runs_every_planned_trial_and_twice_gives_the_same_winner(frame: pd.DataFrame) -> None:
    first, second = _tune(frame, trials=2, cap_s=3600), _tune(frame, trials=2, cap_s=3600)

    assert (first.trials_completed, first.stopped_by_cap) == (2, False)
    assert first.best == second.best
    pd.testing.assert_series_equal(first.trials["tuning_wape"], second.trials["tuning_wape"])
    assert first.as_tags()["tuning_stopped_by_cap"] == "false"


def test_hitting_the_time_cap_is_recorded_with_the_trial_counts(frame: pd.DataFrame) -> None:
    """A cap of a nanosecond: the first trial always runs (tuning must have a winner), no other."""
    outcome = _tune(frame, trials=3, cap_s=1e-9)

    assert (outcome.trials_completed, outcome.trials_planned, outcome.stopped_by_cap) == (1, 3, True)
    assert outcome.as_tags()["tuning_trials_completed"] == "1"
    assert outcome.as_tags()["tuning_stopped_by_cap"] == "true"
    assert outcome.summary() == "tuning stopped at 1/3 trials by the 0 s cap"


def test_the_full_profile_is_bounded_by_trials_with_a_generous_time_cap() -> None:
    tuning = load_profile("full").tuning
    assert tuning is not None and tuning.trials == 25 and tuning.time_cap_s >= 1800


def test_a_time_boxed_tuning_config_is_refused_naming_the_retired_keys(tmp_path: Path) -> None:
    config = tmp_path / "models.yaml"
    config.write_text(
        "profiles:\n  p:\n    tuning: {model: m, budget_s: 60, max_trials: 5}\n"
        "    models: [{name: m, family: lightgbm, lags: [1]}]\n"
    )
    with pytest.raises(ConfigError, match=r"\['budget_s', 'max_trials'\] are retired"):
        load_profile("p", config)


def test_a_lower_cap_from_the_run_budget_stops_tuning_and_is_recorded_with_the_budget(frame: pd.DataFrame) -> None:
    """The pipeline passes what the run's budget leaves; it lowers the profile's cap, never raises it."""
    settings = BacktestSettings(ENERGY_BACKTEST_ORIGINS=2)
    protocol = backtest_protocol(frame["datetime_utc"].max(), settings)
    outcome = tune(
        BASE,
        SPACE,
        TuningConfig("lgbm", trials=3, time_cap_s=3600, origins=2, run_budget_s=120),
        frame,
        tuning_protocol(protocol, 2, settings),
        seed=7,
        tracking=TrackingSettings(WANDB_MODE="disabled"),
        group="test",
        time_cap_s=1e-9,
    )

    assert (outcome.trials_completed, outcome.stopped_by_cap, outcome.time_cap_s) == (1, True, 1e-9)
    tags = outcome.as_tags()
    assert tags["tuning_run_budget_s"] == "120" and tags["tuning_stopped_by_cap"] == "true"
    assert outcome.summary() == "tuning stopped at 1/3 trials by the 0 s cap, what the run's 120 s budget left"


def test_tuning_cap_is_the_budget_minus_what_was_spent_and_what_is_still_due() -> None:
    budgeted = TuningConfig("m", trials=10, time_cap_s=900, origins=3, run_budget_s=110)
    assert tuning_cap(TuningConfig("m", trials=10, time_cap_s=900, origins=3), 50.0, 5.0) is None
    assert tuning_cap(budgeted, 50.0, 5.0) == pytest.approx(110 - 50 - 2 * 5 - FINISH_RESERVE_S)
    assert tuning_cap(budgeted, 100.0, 5.0) == 0.0  # spent: one trial still runs (tune's contract)


def test_a_trial_fits_no_interval_and_forecasts_the_points_of_the_same_model_with_one(frame: pd.DataFrame) -> None:
    """The trial's objective is the point WAPE, so its candidate skips the calibration fit (or the
    quantile models): its points must be those of the same parameters with the band."""
    conformal = replace(BASE, intervals="conformal", calibration_origins=2)
    trial = trial_config(conformal, "lgbm_trial0", {"num_leaves": 5})
    assert (trial.name, trial.intervals, trial.params["num_leaves"]) == ("lgbm_trial0", POINT_ONLY, 5)
    assert trial_config(BASE, "t", {}).intervals == POINT_ONLY  # quantile models are not fitted either

    settings = BacktestSettings(ENERGY_BACKTEST_ORIGINS=2)
    protocol = backtest_protocol(frame["datetime_utc"].max(), settings)
    banded = backtest_model(conformal.with_params("lgbm_trial0", num_leaves=5), frame, protocol, 7, 1)
    point_only = backtest_model(trial, frame, protocol, 7, 1)
    pd.testing.assert_series_equal(point_only["prediction_kwh"], banded["prediction_kwh"])
    assert (point_only["prediction_q10_kwh"] == point_only["prediction_kwh"]).all()
    assert (point_only["prediction_q90_kwh"] == point_only["prediction_kwh"]).all()
    assert (banded["prediction_q90_kwh"] > banded["prediction_q10_kwh"]).any()


def test_the_pipeline_profile_is_the_full_search_inside_a_run_budget() -> None:
    """Its candidates are full's own configurations (NHITS with fewer steps), all of them but the
    ensemble (three recursive predicts an hour) and the direct LightGBM (the costliest backtest, and
    worse than seasonal naive on the leaves and the totals), its tuning full's."""
    full, pipeline = load_profile("full"), load_profile("pipeline")
    assert pipeline.tuning is not None and pipeline.tuning.run_budget_s is not None
    assert full.tuning is not None and pipeline.tuning.model == full.tuning.model
    for model in pipeline.models:
        if model.family != "nhits":
            assert model == full.model(model.name)
    left_out = {m.name for m in full.models} - {m.name for m in pipeline.models}
    assert left_out == {"lightgbm_ensemble", "lightgbm_direct"}


def test_a_run_budget_that_is_not_positive_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "models.yaml"
    config.write_text(
        "profiles:\n  p:\n    tuning: {model: m, trials: 3, run_budget_s: 0}\n"
        "    models: [{name: m, family: lightgbm, lags: [1]}]\n"
    )
    with pytest.raises(ConfigError, match="run_budget_s > 0 when set"):
        load_profile("p", config)


def test_a_trials_one_origin_calibration_leaves_its_point_forecast_and_so_its_wape_unchanged(
    frame: pd.DataFrame,
) -> None:
    """Why trial_config may cut the calibration: the tuning objective (point WAPE) cannot tell."""
    settings = BacktestSettings(ENERGY_BACKTEST_ORIGINS=2)
    protocol = backtest_protocol(frame["datetime_utc"].max(), settings)
    conformal = replace(BASE, intervals="conformal", calibration_origins=3)
    profiles = backtest_model(conformal, frame, protocol, seed=7)
    trial = backtest_model(trial_config(conformal, conformal.name, {}), frame, protocol, seed=7)
    pd.testing.assert_series_equal(profiles["prediction_kwh"], trial["prediction_kwh"])


def test_every_fit_of_a_tuning_and_a_backtest_runs_on_the_threads_it_is_given(
    frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--threads` (RunOptions.threads) reaches the tuning trials' and the backtests' fits, not only
    the final refit (before 2026-12-03 those always took 2); unnamed, ENERGY_TRAINING_THREADS decides."""
    import energy_training.distributed as distributed

    seen: list[int] = []
    real = distributed.fit_lightgbm_on_engine

    def spy(cfg, frame, horizon, seed, threads):  # type: ignore[no-untyped-def]
        seen.append(threads)
        return real(cfg, frame, horizon, seed, threads)

    monkeypatch.setattr(distributed, "fit_lightgbm_on_engine", spy)
    settings = BacktestSettings(ENERGY_BACKTEST_ORIGINS=2)
    protocol = backtest_protocol(frame["datetime_utc"].max(), settings)
    tune(BASE, SPACE, TuningConfig("lgbm", trials=2, time_cap_s=3600, origins=2), frame,
         tuning_protocol(protocol, 2, settings), seed=7, tracking=TrackingSettings(WANDB_MODE="disabled"),
         group="test", threads=1)  # fmt: skip
    backtest_model(BASE, frame, protocol, seed=7, threads=3)
    assert seen == [1, 1, 3]

    monkeypatch.setenv("ENERGY_TRAINING_THREADS", "4")
    backtest_model(BASE, frame, protocol, seed=7)
    monkeypatch.delenv("ENERGY_TRAINING_THREADS")
    backtest_model(BASE, frame, protocol, seed=7)
    assert seen[3:] == [4, 2]


def test_the_cli_takes_threads_from_the_flag_else_the_environment_and_refuses_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from energy_training import cli

    monkeypatch.delenv("ENERGY_TRAINING_THREADS", raising=False)
    assert cli._threads(argparse.Namespace(threads=None)) == 2
    monkeypatch.setenv("ENERGY_TRAINING_THREADS", "1")
    assert cli._threads(argparse.Namespace(threads=None)) == 1
    assert cli._threads(argparse.Namespace(threads=3)) == 3
    with pytest.raises(SystemExit):
        cli.main(["run", "--threads", "0"])
    assert "--threads: must be at least 1; got 0" in capsys.readouterr().err
