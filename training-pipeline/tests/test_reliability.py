"""Reliability end to end on the real snapshot (console scripts, fresh ENERGY_HOMEs): a rerun under
CPU load reproduces the scorecard, and a run killed mid-way leaves nothing the next start does not
clean up. Slow. Nothing is mocked: the kills are real SIGKILLs (`ENERGY_TEST_CRASH_AT`) and the
load is a real CPU-burning process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from energy_core.registry import CHAMPION
from energy_core.registry.mlflow_registry import MlflowModelRegistry
from energy_core.settings import RegistrySettings
from energy_training.metrics import METRICS
from energy_training.recovery import GATE_TAG, ORPHANED

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
SNAPSHOT = Path(os.environ.get("ENERGY_SNAPSHOT_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
AS_OF = "2023-01-24T22:00Z"

# A small tuned profile: the whole path of `full` (Optuna trials, tuned candidate, backtest, gate)
# in about a minute. The time cap is far above what 3 trials take, so it must never be hit.
TINY_PROFILE = """
profiles:
  tiny:
    description: full's path in miniature
    tuning: {model: lightgbm_recursive, trials: 3, time_cap_s: 3600, origins: 2}
    models:
      - {name: seasonal_naive_24, family: seasonal_naive_24}
      - name: lightgbm_recursive
        family: lightgbm
        strategy: recursive
        lags: [1, 2, 24, 168]
        lag_transforms: {24: [rolling_mean_24]}
        exog: [local_hour, local_weekday, is_holiday_like]
        params: {n_estimators: 60, learning_rate: 0.1, num_leaves: 15, subsample: 0.8, subsample_freq: 1}
"""
# The kill test needs runs that register and promote, not a search: the `smoke` profile's
# LightGBM (it beats naive 24 by the gate's margin; tiny's does not) without NHITS, whose torch
# import and fit three runs would pay for nothing this test checks.
QUICK_PROFILE = """
profiles:
  quick:
    description: smoke without NHITS
    tuning: null
    models:
      - {name: seasonal_naive_24, family: seasonal_naive_24}
      - name: lightgbm_recursive
        family: lightgbm
        strategy: recursive
        lags: [1, 2, 3, 4, 5, 6, 12, 23, 24, 25, 48, 72, 168]
        lag_transforms:
          1: [rolling_mean_6, rolling_mean_24]
          24: [rolling_mean_24, rolling_mean_168, rolling_std_24]
          168: [rolling_mean_24]
        exog: [local_hour, local_weekday, is_weekend, is_holiday, is_holiday_like]
        params: {n_estimators: 200, learning_rate: 0.07, num_leaves: 31, min_child_samples: 20, subsample: 0.8,
                 subsample_freq: 1, colsample_bytree: 0.8}
"""
TINY_SPACE = """
lightgbm:
  n_estimators: {type: int, low: 30, high: 90, step: 10}
  num_leaves: {type: int, low: 7, high: 31, log: true}
  colsample_bytree: {type: float, low: 0.5, high: 1.0}
"""


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "ENERGY_TEST_CRASH_AT")}
    env.update(
        ENERGY_HOME=str(home),
        ENERGY_SNAPSHOT_DIR=str(SNAPSHOT),
        MLFLOW_DISABLE_TELEMETRY="true",
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        **extra,
    )
    return env


def _cli(home: Path, *args: str, expect: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:]], env=_env(home, **env), cwd=home, capture_output=True, text=True, timeout=900
    )
    if result.returncode != expect:
        pytest.fail(
            f"{' '.join(args)} exited {result.returncode}, expected {expect}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result


@pytest.fixture
def make_home(tmp_path: Path) -> Callable[[str], Path]:
    if not any(SNAPSHOT.glob("consumption_de35_hour_*.parquet")):
        pytest.skip(f"snapshot not found in {SNAPSHOT}")

    def make(name: str) -> Path:
        home = tmp_path / name
        home.mkdir()
        _cli(home, "feature-pipeline", "backfill", "--start", "2022-12-21T16:00Z", "--end", "2023-01-24T23:00Z")
        return home

    return make


def _scorecard(home: Path) -> dict[str, Any]:
    return json.loads(_cli(home, "training-pipeline", "scorecard", "--json").stdout)


def _metrics(card: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {row["model"]: {m: round(float(row[m]), 6) for m in METRICS} for row in card["models"]}


@pytest.mark.timeout(1800)  # a hang guard for two backfills and two tuned runs on a loaded 2-core host
def test_a_tuned_run_repeated_under_cpu_load_reproduces_every_metric_to_6_decimals(
    make_home: Callable[[str], Path], tmp_path: Path
) -> None:
    (tmp_path / "models.yaml").write_text(TINY_PROFILE)
    (tmp_path / "space.yaml").write_text(TINY_SPACE)
    run = ("training-pipeline", "run", "--profile", "tiny", "--as-of", AS_OF)
    config = ("--config", str(tmp_path / "models.yaml"), "--search-space", str(tmp_path / "space.yaml"))
    quiet, loaded = make_home("quiet"), make_home("loaded")

    _cli(quiet, *run, *config)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        _cli(loaded, *run, *config)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()

    first, second = _scorecard(quiet), _scorecard(loaded)
    assert "tuned" in " ".join(_metrics(first))
    assert _metrics(first) == _metrics(second)
    assert first["tuning"].startswith("tuning ran all 3 trials")
    run_tags = (
        MlflowClient(tracking_uri=f"sqlite:///{quiet / 'mlflow' / 'mlflow.db'}").get_run(first["run_id"]).data.tags
    )
    assert (run_tags["tuning_trials_completed"], run_tags["tuning_stopped_by_cap"]) == ("3", "false")


@pytest.mark.timeout(1800)  # a hang guard for a backfill and three training runs on a loaded 2-core host
def test_runs_killed_after_promotion_and_after_registration_leave_a_readable_scorecard_and_no_ungated_version(
    make_home: Callable[[str], Path], tmp_path: Path
) -> None:
    home = make_home("home")
    (tmp_path / "models.yaml").write_text(QUICK_PROFILE)
    quick = ("training-pipeline", "run", "--profile", "quick", "--as-of", AS_OF,
             "--config", str(tmp_path / "models.yaml"))
    registry = MlflowModelRegistry(RegistrySettings(ENERGY_HOME=home, MLFLOW_TRACKING_URI=None))
    client = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")

    # 1. killed after its version was promoted: the run stays RUNNING, the scorecard still shows
    #    the champion's table instead of "no finished training run"
    _cli(home, *quick, expect=-9, ENERGY_TEST_CRASH_AT="after_gate")
    champion = registry.get(alias=CHAMPION)
    card = _scorecard(home)
    assert card["run_id"] == champion.run_id
    assert "RUNNING" in card["note"] and card["champion_version"] == champion.version

    # 2. killed after registering, before the gate: the version carries no gate decision
    _cli(home, *quick, expect=-9, ENERGY_TEST_CRASH_AT="after_register")
    ungated = registry.list_versions()[0]
    assert GATE_TAG not in ungated.tags and ungated.version != champion.version

    # 3. the next start marks both runs FAILED and archives the ungated version
    _cli(home, *quick)
    for run_id in (champion.run_id, ungated.run_id):
        assert run_id is not None
        assert client.get_run(run_id).info.status == "FAILED"
    archived = registry.get(version=ungated.version)
    assert archived.approval == ORPHANED and archived.aliases == []
    assert registry.get(alias=CHAMPION).version == champion.version
    assert all(GATE_TAG in v.tags for v in registry.list_versions())
