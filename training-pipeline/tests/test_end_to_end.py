"""End to end on the real snapshot: feature pipeline backfill → training-pipeline (console scripts).

Slow: they build a feature store from the snapshot in a temporary ENERGY_HOME and train the smoke
profile several times. Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from energy_core.feature_store import open_feature_store
from energy_core.registry import CHAMPION, open_registry
from energy_core.schemas import ENERGY_FORECASTING_VIEW
from energy_core.settings import BacktestSettings, FeatureStoreSettings, RegistrySettings
from energy_training.backtest import backtest_model
from energy_training.config import ModelConfig
from energy_training.metrics import score
from energy_training.protocol import backtest_protocol

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
SNAPSHOT = Path(os.environ.get("ENERGY_SNAPSHOT_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
AS_OF = "2023-01-24T22:00Z"  # the scorecard of record


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ENERGY_HOME=str(home),
        ENERGY_SNAPSHOT_DIR=str(SNAPSHOT),
        MLFLOW_DISABLE_TELEMETRY="true",
        WANDB_MODE="offline",
        WANDB_SILENT="true",
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:]], env=_env(home), cwd=home, capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not any(SNAPSHOT.glob("consumption_de35_hour_*.parquet")):
        pytest.skip(f"snapshot not found in {SNAPSHOT}")
    path = tmp_path_factory.mktemp("energy_home")
    _cli(path, "feature-pipeline", "backfill", "--start", "2022-12-21T16:00Z", "--end", "2023-01-24T23:00Z")
    yield path


@pytest.fixture
def settings_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENERGY_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home


def test_seasonal_naive_24_reproduces_the_published_scorecard(settings_env: Path) -> None:
    store = open_feature_store(FeatureStoreSettings())
    meta = store.create_training_dataset(ENERGY_FORECASTING_VIEW)
    frame = store.read_training_dataset(ENERGY_FORECASTING_VIEW, meta.version).all
    protocol = backtest_protocol(AS_OF, BacktestSettings())
    metrics = score(backtest_model(ModelConfig("n24", "seasonal_naive_24"), frame, protocol, seed=42))
    assert round(metrics["wape"], 4) == 0.0906
    assert round(metrics["mape"], 3) == 0.118


def test_smoke_run_registers_a_champion_that_reruns_identically_and_a_weak_model_is_not_promoted(
    settings_env: Path,
) -> None:
    home = settings_env
    _cli(home, "training-pipeline", "run", "--profile", "smoke", "--as-of", AS_OF)
    registry = open_registry(RegistrySettings())
    champion = registry.get(alias=CHAMPION)
    assert champion.model_family == "lightgbm"
    assert champion.metrics["backtest_wape"] <= 0.85 * champion.metrics["naive24_backtest_wape"]
    assert champion.tags["promoted_at"]
    assert champion.lineage is not None

    # same training dataset + seed → the same metrics; equal is not better, so no promotion
    dataset = str(champion.lineage.training_dataset_version)
    _cli(home, "training-pipeline", "run", "--profile", "smoke", "--dataset-version", dataset)
    rerun = registry.list_versions()[0]
    assert rerun.version != champion.version
    assert {k: v for k, v in rerun.metrics.items() if k.startswith("backtest_")} == {
        k: v for k, v in champion.metrics.items() if k.startswith("backtest_")
    }
    assert registry.get(alias=CHAMPION).version == champion.version

    # a deliberately weak model is registered as challenger, champion stays
    _cli(home, "training-pipeline", "run", "--profile", "weak", "--dataset-version", dataset)
    weak = registry.list_versions()[0]
    assert weak.tags["model_config"] == "lightgbm_weak"
    assert "challenger" in weak.aliases
    assert registry.get(alias=CHAMPION).version == champion.version

    card = json.loads(_cli(home, "training-pipeline", "scorecard", "--json").stdout)
    names = {row["model"] for row in card["models"]}
    assert {"lightgbm_weak", "seasonal_naive_24"} <= names
    # the champion was trained up to this backtest's as-of, past its first origin: the gate takes its
    # recorded WAPE, so the run does not re-score it (an in-sample row) at all
    assert f"champion_v{champion.version}" not in names
    assert card["champion_version"] == champion.version
