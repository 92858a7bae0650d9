"""Fixtures for the feature-pipeline tests: a temporary ENERGY_HOME and a pipeline context around a
real EmbeddedFeatureStore (nothing mocked: the store is the embedded one, on a temporary disk)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_features.extract import Sources
from energy_features.extract.weather import SnapshotDailyWeather
from energy_features.pipeline import PipelineContext
from energy_features.windows import WindowPolicy

from .support import FIXED_NOW, REAL_SNAPSHOT

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("WANDB_MODE", "offline")

ContextFactory = Callable[..., PipelineContext]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    energy_home = tmp_path / "energy_home"
    energy_home.mkdir()
    monkeypatch.setenv("ENERGY_HOME", str(energy_home))
    return energy_home


@pytest.fixture
def store(home: Path) -> EmbeddedFeatureStore:
    return EmbeddedFeatureStore(home / "feature_store")


@pytest.fixture
def make_context(home: Path, store: EmbeddedFeatureStore, tmp_path: Path) -> ContextFactory:
    """Build a PipelineContext over a consumption source; weather from an (empty) directory."""
    weather_dir = tmp_path / "no_weather"
    weather_dir.mkdir()

    def build(
        consumption: object, policy: WindowPolicy | None = None, weather_dir_: Path | None = None
    ) -> PipelineContext:
        weather = SnapshotDailyWeather(weather_dir_ or weather_dir, {"DK1": "06060", "DK2": "06180"})
        return PipelineContext(
            store=store,
            sources=Sources(consumption, weather),  # type: ignore[arg-type]
            policy=policy or WindowPolicy(),
            home=home,
            now=lambda: FIXED_NOW,
        )

    return build


@pytest.fixture
def real_snapshot() -> Path:
    if not any(REAL_SNAPSHOT.glob("consumption_de35_hour_*.parquet")):
        pytest.skip(f"real snapshot not found in {REAL_SNAPSHOT} (set ENERGY_SNAPSHOT_DIR)")
    return REAL_SNAPSHOT
