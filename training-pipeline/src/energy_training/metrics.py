"""Forecast metrics and the scorecard tables (overall, per series, per horizon).

WAPE (Σ|error| / Σ actual) is primary: it weighs series by volume, which is what an operator
pays for, and stays defined when a small series is near zero (MAPE does not). MASE divides each
series' MAE by the in-sample MAE of seasonal naive 24 on the data the model was fitted on
(Hyndman & Koehler), then averages over series, so 1.0 means "as good as yesterday's same hour".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

METRICS: tuple[str, ...] = (
    "wape",
    "mape",
    "rmse",
    "mase",
    "pinball_q10",
    "pinball_q50",
    "pinball_q90",
    "coverage_80",
)
PRIMARY = "wape"
LOWER_IS_BETTER = {m: m != "coverage_80" for m in METRICS}


def wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum(np.abs(actual)))
    if total == 0:
        raise ValueError("WAPE is undefined when every actual is 0")
    return float(np.sum(np.abs(actual - predicted)) / total)


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean |error| / actual over hours with a non-zero actual."""
    mask = actual != 0
    return float(np.mean(np.abs(actual[mask] - predicted[mask]) / np.abs(actual[mask])))


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - predicted) ** 2)))


def pinball(actual: np.ndarray, quantile_forecast: np.ndarray, q: float) -> float:
    """Mean quantile (pinball) loss: under-forecasts cost q, over-forecasts cost 1 - q per kWh."""
    diff = actual - quantile_forecast
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def coverage(actual: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Share of actuals inside [low, high]; 0.8 is ideal for a 10 %-90 % interval."""
    return float(np.mean((actual >= low) & (actual <= high)))


def naive_scale(history: pd.DataFrame, season: int = 24) -> pd.Series:
    """Per series: in-sample MAE of seasonal naive `season` (MASE's denominator).

    `history` needs columns area, consumer_type, datetime_utc, energy_consumption_kwh on an hourly grid.
    """
    h = history.sort_values(["area", "consumer_type", "datetime_utc"])
    y = h.set_index(["area", "consumer_type", "datetime_utc"])["energy_consumption_kwh"]
    shifted = h.groupby(["area", "consumer_type"])["energy_consumption_kwh"].shift(season).to_numpy()
    err = (y - shifted).abs().dropna()
    scale: pd.Series = err.groupby(level=["area", "consumer_type"]).mean().rename("scale")
    return scale


def _mase(group: pd.DataFrame, scale: pd.Series | None) -> float:
    if scale is None or scale.empty:
        return float("nan")
    mae = (group["actual_kwh"] - group["prediction_kwh"]).abs().groupby([group["area"], group["consumer_type"]]).mean()
    ratio = (mae / scale.reindex(mae.index)).replace([np.inf, -np.inf], np.nan).dropna()
    return float(ratio.mean()) if len(ratio) else float("nan")


def score(predictions: pd.DataFrame, scale: pd.Series | None = None) -> dict[str, float]:
    """Every metric over the rows of `predictions` that have an actual."""
    p = predictions[predictions["actual_kwh"].notna()]
    if p.empty:
        raise ValueError("no forecast has an actual: nothing to score")
    y = p["actual_kwh"].to_numpy(dtype="float64")
    yhat = p["prediction_kwh"].to_numpy(dtype="float64")
    q10 = p["prediction_q10_kwh"].to_numpy(dtype="float64")
    q90 = p["prediction_q90_kwh"].to_numpy(dtype="float64")
    return {
        "wape": wape(y, yhat),
        "mape": mape(y, yhat),
        "rmse": rmse(y, yhat),
        "mase": _mase(p, scale),
        "pinball_q10": pinball(y, q10, 0.1),
        "pinball_q50": pinball(y, yhat, 0.5),
        "pinball_q90": pinball(y, q90, 0.9),
        "coverage_80": coverage(y, q10, q90),
    }


def scorecard(predictions: pd.DataFrame, scale: pd.Series | None = None) -> pd.DataFrame:
    """One row per model, one column per metric, best WAPE first."""
    rows = [{"model": model, **score(group, scale)} for model, group in predictions.groupby("model", sort=False)]
    return pd.DataFrame(rows).sort_values(PRIMARY, kind="stable").reset_index(drop=True)


def _grouped(predictions: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    p = predictions[predictions["actual_kwh"].notna()].copy()
    p["abs_error"] = (p["actual_kwh"] - p["prediction_kwh"]).abs()
    p["pct_error"] = p["abs_error"] / p["actual_kwh"].where(p["actual_kwh"] != 0)
    p["inside"] = (p["actual_kwh"] >= p["prediction_q10_kwh"]) & (p["actual_kwh"] <= p["prediction_q90_kwh"])
    g = p.groupby(["model", *by], sort=True)
    out = pd.DataFrame(
        {
            "wape": g["abs_error"].sum() / g["actual_kwh"].sum(),
            "mape": g["pct_error"].mean(),
            "mae_kwh": g["abs_error"].mean(),
            "coverage_80": g["inside"].mean(),
            "count": g.size(),
        }
    )
    return out.reset_index()


def per_series(predictions: pd.DataFrame) -> pd.DataFrame:
    return _grouped(predictions, ["area", "consumer_type"])


def per_horizon(predictions: pd.DataFrame) -> pd.DataFrame:
    return _grouped(predictions, ["hours_ahead"])
