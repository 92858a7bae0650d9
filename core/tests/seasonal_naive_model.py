"""A tiny but real forecaster for the registry tests: seasonal naive (daily or weekly season).

It follows the forecast contract in docs/conventions.md (history rows with the label, then the
future hours with a null label; returns FORECAST_OUTPUT_COLUMNS), so the registry suite exercises
the same kind of model batch prediction loads. It is shipped with the model through `code_paths`;
loading it in a fresh process must never depend on this test folder being importable, which is
why it imports nothing from the tests and only pandas/numpy/mlflow from the environment.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

HORIZON_HOURS = 24
OUTPUT_COLUMNS = (
    "area",
    "consumer_type",
    "datetime_utc",
    "hours_ahead",
    "prediction_kwh",
    "prediction_q10_kwh",
    "prediction_q90_kwh",
)
LABEL = "energy_consumption_kwh"


class SeasonalNaive(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """Forecast each hour with the value one season earlier; the 80 % interval comes from the
    history's own seasonal-naive errors, so the quantiles are honest rather than made up.

    Two seasons (24 h and 168 h) give two models that forecast differently, which is what the
    alias and rollback tests need to tell versions apart.
    """

    def __init__(self, season_hours: int = 24) -> None:
        if season_hours < HORIZON_HOURS:
            raise ValueError(f"season_hours must be at least the {HORIZON_HOURS} h horizon, got {season_hours}")
        self.season_hours = season_hours

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        groups = model_input.groupby(["area", "consumer_type"], sort=True)
        frames = [_forecast_one_series(group, self.season_hours) for _, group in groups]
        if not frames:
            return pd.DataFrame({name: pd.Series(dtype="float64") for name in OUTPUT_COLUMNS})
        return pd.concat(frames, ignore_index=True)


def _forecast_one_series(series: pd.DataFrame, season_hours: int) -> pd.DataFrame:
    series = series.sort_values("datetime_utc")
    known = series[series[LABEL].notna()]
    future = series[series[LABEL].isna()]
    if len(future) > HORIZON_HOURS:
        raise ValueError(f"seasonal naive forecasts at most {HORIZON_HOURS} hours, got {len(future)}")
    by_hour = known.set_index("datetime_utc")[LABEL]
    season = pd.Timedelta(hours=season_hours)
    point = by_hour.reindex(future["datetime_utc"] - season).to_numpy(dtype="float64")
    errors = (by_hour - by_hour.shift(freq=season)).dropna().to_numpy(dtype="float64")
    low, high = np.quantile(errors, [0.1, 0.9]) if len(errors) else (0.0, 0.0)
    out = future[["area", "consumer_type", "datetime_utc"]].reset_index(drop=True)
    out["hours_ahead"] = np.arange(1, len(future) + 1, dtype="int64")
    out["prediction_kwh"] = point
    out["prediction_q10_kwh"] = np.maximum(point + low, 0.0)
    out["prediction_q90_kwh"] = point + high
    return out
