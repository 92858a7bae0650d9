"""Fixtures: a real embedded feature store and a real MLflow registry in temporary ENERGY_HOMEs,
filled with small synthetic but schema-valid data through the public interfaces (`store.insert`,
`registry.register`), so the API is tested against the backends it runs on, not against mocks.

The synthetic world (LAST_HOUR is the newest consumption hour):
- consumption for DK1/111, DK1/112 and DK2/111 over 10 days, and a brand-new DK2/113 with one day;
- the `series` catalogue built by core (`with_totals`, `catalogue_update`): those leaves, the totals
  DK1|total and DK2|total and the country total DK|total; bottom-up totals actuals (DK2's only for
  the day all its leaves have data, as core's `complete_totals` decides);
- forecasts for the three older leaves made as of LAST_HOUR - 1h (model v1, written by an old
  release: no model_family) and LAST_HOUR (model v2, `lightgbm`); DK2/113 as of LAST_HOUR by the
  cold-start fallback (`seasonal_naive_24`); every total as of LAST_HOUR (`bottom_up`);
- monitoring for the 48 target hours up to LAST_HOUR, every horizon, hourly and per horizon, for
  the three older leaves and DK1|total;
- alerts from two check runs (the second one worse);
- registry: v1 champion, v2 challenger pending approval (passes the gate), v3 fails the gate.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from energy_api.app import create_app
from energy_core.feature_store import FeatureStore, open_feature_store
from energy_core.registry import CHALLENGER, CHAMPION, Lineage, ModelRegistry, ModelToRegister, open_registry
from energy_core.schemas import (
    ALERTS,
    ENERGY_CONSUMPTION,
    ENERGY_CONSUMPTION_TOTALS,
    MONITORING,
    MONITORING_HORIZON,
    MONITORING_HOURLY,
    PREDICTIONS,
    TOTAL,
    UTC_DTYPE,
    consumer_type_label,
)
from energy_core.schemas import (
    SERIES as SERIES_GROUP,
)
from energy_core.series import SeriesInfo, bottom_up, catalogue_update, complete_totals, with_totals
from energy_core.settings import ApiSettings, FeatureStoreSettings, RegistrySettings

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("WANDB_MODE", "offline")

LAST_HOUR = datetime(2023, 1, 24, 22, tzinfo=UTC)
HOUR = timedelta(hours=1)
SERIES = [("DK1", "111"), ("DK1", "112"), ("DK2", "111")]
COLD_START = ("DK2", "113")  # first seen one day before LAST_HOUR: too little history for the model
COLD_START_HOURS = 24
HISTORY_HOURS = 240
MODEL_FAMILY = "lightgbm"
MODEL_NAME = "energy-consumption-forecaster"
API_KEY = "test-approval-key"


def _times(start: datetime, count: int) -> pd.Series:
    return pd.Series(pd.date_range(start, periods=count, freq="h"), dtype=UTC_DTYPE)


def consumption_kwh(area: str, consumer_type: str, times: pd.Series) -> np.ndarray:
    """A deterministic daily cycle per series, so tests can compute expected values; a total is
    the sum of the leaves of its area."""
    if consumer_type == TOTAL:
        leaves = [s for s in [*SERIES, COLD_START] if s[0] == area]
        return sum((consumption_kwh(a, c, times) for a, c in leaves), np.zeros(len(times)))
    base = 1000.0 * (1 + [*SERIES, COLD_START].index((area, consumer_type)))
    return base + 100.0 * np.sin(2 * np.pi * times.dt.hour.to_numpy() / 24)


def _series_rows(area: str, consumer_type: str, times: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "datetime_utc": times,
            "area": pd.Series([area] * len(times), dtype="string"),
            "consumer_type": pd.Series([consumer_type] * len(times), dtype="string"),
            "energy_consumption_kwh": consumption_kwh(area, consumer_type, times),
        }
    )


def consumption_frame() -> pd.DataFrame:
    times = _times(LAST_HOUR - (HISTORY_HOURS - 1) * HOUR, HISTORY_HOURS)
    frames = [_series_rows(area, ct, times) for area, ct in SERIES]
    frames.append(_series_rows(*COLD_START, times.iloc[-COLD_START_HOURS:].reset_index(drop=True)))
    return pd.concat(frames, ignore_index=True)


def catalogue_frame(consumption: pd.DataFrame) -> pd.DataFrame:
    """The catalogue exactly as core builds it from the leaves seen in `consumption`."""
    leaves = [
        SeriesInfo(area, ct, consumer_type_label(ct), "ConsumptionDE35Hour")
        for area, ct in [*SERIES, COLD_START]
    ]
    infos = with_totals(leaves, {"DK1": "DK", "DK2": "DK"})
    frame, _ = catalogue_update(SERIES_GROUP.empty_frame(), infos, consumption, now=LAST_HOUR)
    return frame


def totals_frame(consumption: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Bottom-up actuals of every parent, only for hours where all its known leaves have a value."""
    totals = bottom_up(consumption, catalogue, ["energy_consumption_kwh"])
    return complete_totals(totals, catalogue).dropna(subset=["energy_consumption_kwh"])


def predictions_frame(
    made_at: datetime,
    model_version: int,
    scale: float,
    model_family: str | None = None,
    series: list[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """One forecast per series as of `made_at`: `scale` times the true value, band +-10 %.

    `model_family` None is a row as a release before the column existed wrote it."""
    targets = _times(made_at + HOUR, 24)
    frames = []
    for area, ct in series or SERIES:
        point = consumption_kwh(area, ct, targets) * scale
        frames.append(
            pd.DataFrame(
                {
                    "datetime_utc": targets,
                    "area": pd.Series([area] * 24, dtype="string"),
                    "consumer_type": pd.Series([ct] * 24, dtype="string"),
                    "forecast_made_at": pd.Series([made_at] * 24, dtype=UTC_DTYPE),
                    "hours_ahead": np.arange(1, 25, dtype="int64"),
                    "prediction_kwh": point,
                    "prediction_q10_kwh": point * 0.9,
                    "prediction_q90_kwh": point * 1.1,
                    "model_name": pd.Series([MODEL_NAME] * 24, dtype="string"),
                    "model_version": np.full(24, model_version, dtype="int64"),
                    "model_family": pd.Series([model_family] * 24, dtype="string"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def bottom_up_predictions(leaf_rows: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """The parents' forecasts as batch prediction writes them: leaf forecasts summed by core."""
    values = ["prediction_kwh", "prediction_q10_kwh", "prediction_q90_kwh"]
    keys = ["datetime_utc", "forecast_made_at", "hours_ahead", "model_name", "model_version"]
    totals = bottom_up(leaf_rows, catalogue, values, keys=keys).drop(columns="leaf_count")
    return totals.assign(model_family=pd.Series(["bottom_up"] * len(totals), dtype="string"))


MONITORED = [*SERIES, ("DK1", TOTAL)]


def monitoring_frame() -> pd.DataFrame:
    """48 target hours x 24 horizons x 4 series (incl. DK1's total); the error grows with the
    horizon (1 % per hour)."""
    targets = _times(LAST_HOUR - 47 * HOUR, 48)
    rows = []
    for area, ct in MONITORED:
        actual = consumption_kwh(area, ct, targets)
        for hours_ahead in range(1, 25):
            prediction = actual * (1 + 0.01 * hours_ahead)
            error = prediction - actual
            rows.append(
                pd.DataFrame(
                    {
                        "datetime_utc": targets,
                        "area": pd.Series([area] * 48, dtype="string"),
                        "consumer_type": pd.Series([ct] * 48, dtype="string"),
                        "hours_ahead": np.full(48, hours_ahead, dtype="int64"),
                        "forecast_made_at": targets - hours_ahead * HOUR,
                        "model_version": np.full(48, 1, dtype="int64"),
                        "prediction_kwh": prediction,
                        "prediction_q10_kwh": prediction * 0.9,
                        "prediction_q90_kwh": prediction * 1.1,
                        "actual_kwh": actual,
                        "actual_missing": np.zeros(48, dtype=bool),
                        "error_kwh": error,
                        "abs_error_kwh": np.abs(error),
                        "pct_error": error / actual,
                        "in_interval": pd.array(np.abs(error) <= 0.1 * prediction, dtype="boolean"),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def monitoring_hourly_frame() -> pd.DataFrame:
    targets = _times(LAST_HOUR - 47 * HOUR, 48)
    n = len(targets)
    return pd.DataFrame(
        {
            "datetime_utc": targets,
            "mape": np.full(n, 0.125),
            "wape": np.full(n, 0.125),
            "mae_kwh": np.linspace(100, 200, n),
            "bias_kwh": np.full(n, 50.0),
            "interval_coverage": np.full(n, 0.8),
            "count": np.full(n, 72, dtype="int64"),
            "missing_count": np.zeros(n, dtype="int64"),
        }
    )


def monitoring_horizon_frame() -> pd.DataFrame:
    """Two target hours per horizon with different volumes, so weighting is observable:
    hour A: wape 0.1 on 1000 kWh, hour B: wape 0.4 on 3000 kWh -> weighted WAPE 0.325."""
    rows = []
    for hours_ahead in (1, 2, 24):
        for offset, wape, actual_sum, count, mape in ((0, 0.1, 1000.0, 1, 0.2), (1, 0.4, 3000.0, 3, 0.6)):
            rows.append(
                {
                    "datetime_utc": LAST_HOUR - offset * HOUR,
                    "hours_ahead": hours_ahead,
                    "mape": mape,
                    "wape": wape,
                    "mae_kwh": wape * actual_sum / count,
                    "bias_kwh": 10.0 * (offset + 1),
                    "abs_error_sum_kwh": wape * actual_sum,
                    "actual_sum_kwh": actual_sum,
                    "count": count,
                }
            )
    frame = pd.DataFrame(rows)
    frame["datetime_utc"] = frame["datetime_utc"].astype(UTC_DTYPE)
    frame["hours_ahead"] = frame["hours_ahead"].astype("int64")
    frame["count"] = frame["count"].astype("int64")
    return frame


def alerts_frame() -> pd.DataFrame:
    earlier, later = LAST_HOUR - HOUR, LAST_HOUR
    rows = [
        (earlier, "psi_energy_consumption", "ok", 0.05, 0.1, "PSI 0.05", False),
        (earlier, "error_ratio", "ok", 1.0, 1.25, "ratio 1.0", False),
        (earlier, "overall", "ok", None, None, "all checks ok", False),
        (later, "psi_energy_consumption", "warn", 0.15, 0.1, "PSI 0.15 (warn at >= 0.1)", False),
        (later, "error_ratio", "ok", 1.1, 1.25, "ratio 1.1", False),
        (later, "overall", "warn", None, None, "psi_energy_consumption", False),
    ]
    frame = pd.DataFrame(rows, columns=["datetime_utc", "check_name", "status", "value", "threshold", "reason",
                                        "retraining_recommended"])
    return frame.astype(
        {"datetime_utc": UTC_DTYPE, "check_name": "string", "status": "string", "value": "float64",
         "threshold": "float64", "reason": "string", "retraining_recommended": "bool"}
    )


def fill_store(store: FeatureStore) -> None:
    consumption = consumption_frame()
    catalogue = catalogue_frame(consumption)
    store.insert(ENERGY_CONSUMPTION, consumption)
    store.insert(SERIES_GROUP, catalogue)
    store.insert(ENERGY_CONSUMPTION_TOTALS, totals_frame(consumption, catalogue))
    store.insert(PREDICTIONS, predictions_frame(LAST_HOUR - HOUR, model_version=1, scale=1.10))
    leaves = pd.concat(
        [
            predictions_frame(LAST_HOUR, model_version=2, scale=1.05, model_family=MODEL_FAMILY),
            predictions_frame(LAST_HOUR, 2, scale=1.0, model_family="seasonal_naive_24", series=[COLD_START]),
        ],
        ignore_index=True,
    )
    store.insert(PREDICTIONS, leaves)
    store.insert(PREDICTIONS, bottom_up_predictions(leaves, catalogue))
    store.insert(MONITORING, monitoring_frame())
    store.insert(MONITORING_HOURLY, monitoring_hourly_frame())
    store.insert(MONITORING_HORIZON, monitoring_horizon_frame())
    store.insert(ALERTS, alerts_frame())


class ConstantModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """The smallest model the registry accepts; the API never loads it."""

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return model_input


def _register(registry: ModelRegistry, wape: float, naive: float, approval: str | None) -> int:
    tags = {"model_family": "constant"} | ({"approval": approval} if approval else {})
    info = registry.register(
        ModelToRegister(
            python_model=ConstantModel(),
            input_example=pd.DataFrame({"x": [1.0]}),
            pip_requirements=["pandas"],
            lineage=Lineage("energy_forecasting", 1, 1, "abc123", "0" * 64, as_of=LAST_HOUR),
            metrics={"backtest_wape": wape, "naive24_backtest_wape": naive, "backtest_mape": wape * 1.1},
            tags=tags,
        )
    )
    return info.version


def home_settings(home: Path) -> tuple[FeatureStoreSettings, RegistrySettings]:
    return (
        FeatureStoreSettings(ENERGY_HOME=home),  # type: ignore[call-arg]
        RegistrySettings(ENERGY_HOME=home, MLFLOW_TRACKING_URI=None),  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
def filled_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide ENERGY_HOME with the synthetic store and registry. Treat as read-only:
    tests that write use `writable_home`, a copy."""
    home = tmp_path_factory.mktemp("energy_home")
    store_settings, registry_settings = home_settings(home)
    fill_store(open_feature_store(store_settings))
    registry = open_registry(registry_settings)
    v1 = _register(registry, wape=0.10, naive=0.20, approval="approved")
    v2 = _register(registry, wape=0.08, naive=0.20, approval="pending")
    _register(registry, wape=0.19, naive=0.20, approval="pending")
    registry.set_alias(CHAMPION, v1)
    registry.set_alias(CHALLENGER, v2)
    return home


@pytest.fixture
def writable_home(filled_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / "energy_home"
    shutil.copytree(filled_home, home)
    return home


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app() -> AppFactory:
    """Build an app over an ENERGY_HOME (or explicit factories) with test settings."""

    def build(
        home: Path | None = None,
        *,
        store_factory: Callable[[], FeatureStore] | None = None,
        registry_factory: Callable[[], ModelRegistry] | None = None,
        api_key: str | None = API_KEY,
        cache_ttl_s: float = 60.0,
        **kwargs: Any,
    ) -> FastAPI:
        settings = ApiSettings(ENERGY_API_KEY=api_key, ENERGY_API_CACHE_TTL_S=cache_ttl_s)  # type: ignore[call-arg]
        if home is not None:
            store_settings, registry_settings = home_settings(home)
            store_factory = store_factory or (lambda: open_feature_store(store_settings))
            registry_factory = registry_factory or (lambda: open_registry(registry_settings))
        assert store_factory is not None and registry_factory is not None
        return create_app(settings, store_factory, registry_factory, min_gain_over_naive=0.15, **kwargs)

    return build


@pytest.fixture
def client(make_app: AppFactory, filled_home: Path) -> Iterator[TestClient]:
    with TestClient(make_app(filled_home)) as test_client:
        yield test_client


@pytest.fixture
def empty_client(make_app: AppFactory, tmp_path: Path) -> Iterator[TestClient]:
    """An API over an ENERGY_HOME where no pipeline has run yet."""
    with TestClient(make_app(tmp_path / "empty_home")) as test_client:
        yield test_client
