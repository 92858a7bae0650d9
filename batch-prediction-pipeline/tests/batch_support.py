"""Test data and the test champion: canonical consumption rows and a seasonal-naive-24 pyfunc."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import pandas as pd

from energy_core.feature_store import FeatureStore, Split
from energy_core.registry import CHAMPION, Lineage, ModelRegistry, ModelToRegister
from energy_core.schemas import AREAS, CONSUMER_TYPES, ENERGY_FORECASTING_VIEW, UTC_DTYPE

MODELS_DIR = Path(__file__).parent / "models"
SERIES: list[tuple[str, str]] = [(a, c) for a in AREAS for c in CONSUMER_TYPES]
DATA_START = pd.Timestamp("2023-01-01T00:00Z")
DATA_HOURS = 24 * 25  # through 2023-01-25T23:00Z
AS_OF = pd.Timestamp("2023-01-22T23:00Z")
BACKTEST_WAPE = 0.05

def consumption(start: pd.Timestamp, hours: int, series: list[tuple[str, str]] = SERIES) -> pd.DataFrame:
    """Canonical energy_consumption rows: a daily cycle per series, scaled per series, with a
    weekday effect so a seasonal-naive-24 forecast has non-zero error."""
    times = pd.date_range(start, periods=hours, freq="h").as_unit("us")
    rows = []
    for i, (area, consumer_type) in enumerate(series):
        base = 1000.0 * (i + 1)
        for t in times:
            daily = 1 + 0.3 * math.sin(2 * math.pi * t.hour / 24)
            weekly = 1 + 0.03 * t.dayofweek
            rows.append((t, area, consumer_type, round(base * daily * weekly, 3)))
    frame = pd.DataFrame(rows, columns=["datetime_utc", "area", "consumer_type", "energy_consumption_kwh"])
    frame["datetime_utc"] = frame["datetime_utc"].astype(UTC_DTYPE)
    frame["area"] = frame["area"].astype("string")
    frame["consumer_type"] = frame["consumer_type"].astype("string")
    return frame


def naive24_model_class() -> type:
    """The test model's class, imported under its top-level name so pickles refer to that name."""
    if str(MODELS_DIR) not in sys.path:
        sys.path.insert(0, str(MODELS_DIR))
    return importlib.import_module("naive24_test_model").SeasonalNaive24  # type: ignore[no-any-return]


def register_naive24(registry: ModelRegistry, store: FeatureStore, backtest_wape: float = BACKTEST_WAPE) -> int:
    """Register the seasonal-naive pyfunc with lineage to a real training dataset; make it champion."""
    meta = store.create_training_dataset(
        ENERGY_FORECASTING_VIEW, end=pd.Timestamp("2023-01-15T00:00Z").to_pydatetime(), split=Split()
    )
    example = store.read_view(
        ENERGY_FORECASTING_VIEW, start=pd.Timestamp("2023-01-10T00:00Z"), end=pd.Timestamp("2023-01-12T00:00Z")
    )
    example = example[example["consumer_type"].isin(["111"]) & (example["area"] == "DK1")].reset_index(drop=True)
    example.loc[example.index[-24:], "energy_consumption_kwh"] = float("nan")
    info = registry.register(
        ModelToRegister(
            python_model=naive24_model_class()(),
            input_example=example,
            pip_requirements=["pandas", "numpy", "mlflow"],
            lineage=Lineage(
                feature_view=ENERGY_FORECASTING_VIEW.name,
                feature_view_version=ENERGY_FORECASTING_VIEW.version,
                training_dataset_version=meta.version,
                git_commit="test",
                data_sha256=meta.data_sha256,
                as_of=pd.Timestamp("2023-01-14T23:00Z").to_pydatetime(),
            ),
            metrics={"backtest_wape": backtest_wape, "naive24_backtest_wape": backtest_wape},
            tags={"model_family": "seasonal_naive_24"},
            code_paths=[str(MODELS_DIR / "naive24_test_model.py")],
        )
    )
    registry.set_alias(CHAMPION, info.version)
    return info.version


