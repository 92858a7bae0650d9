"""Tuning is bounded by a trial count and only capped by time (tiny synthetic frame, real Optuna,
MLflow in a temporary SQLite file; W&B disabled; nothing is mocked)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from energy_core.settings import BacktestSettings, TrackingSettings
from energy_training.config import ConfigError, ModelConfig, TuningConfig, load_profile
from energy_training.protocol import backtest_protocol, tuning_protocol
from energy_training.tuning import TuningOutcome, tune

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
