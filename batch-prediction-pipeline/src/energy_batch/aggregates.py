"""Step 2 of monitor: error aggregated per target hour (all series) and per hours_ahead.

Definitions (fractions, not percent): WAPE = Σ|error| / Σ|actual|; MAPE = mean |error / actual|
over rows with a non-zero actual; MAE = mean |error|; bias = mean error (positive = over-forecast);
interval coverage = share of actuals inside [q10, q90]. Rows marked `actual_missing` count only in
`missing_count`: an absent actual never becomes a zero error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_core.schemas import MONITORING_HORIZON, MONITORING_HOURLY


def _aggregate(monitoring: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    """Vectorised group metrics (one pass of `groupby.agg`; pandas' mean skips NaN)."""
    if monitoring.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    missing = monitoring["actual_missing"].astype(bool)
    known = ~missing
    parts = pd.DataFrame(
        {
            **{k: monitoring[k] for k in by},
            "abs_error": monitoring["abs_error_kwh"].where(known),
            "abs_actual": monitoring["actual_kwh"].abs().where(known),
            "error": monitoring["error_kwh"].where(known),
            "abs_pct": monitoring["pct_error"].abs().where(known),
            "inside": monitoring["in_interval"].astype("Float64").astype("float64").where(known),
            "known": known.astype("int64"),
            "missing": missing.astype("int64"),
        }
    )
    g = parts.groupby(by, sort=True).agg(
        abs_error_sum_kwh=("abs_error", "sum"),
        actual_sum_kwh=("abs_actual", "sum"),
        mae_kwh=("abs_error", "mean"),
        bias_kwh=("error", "mean"),
        mape=("abs_pct", "mean"),
        interval_coverage=("inside", "mean"),
        count=("known", "sum"),
        missing_count=("missing", "sum"),
    )
    none_known = g["count"] == 0
    g["wape"] = (g["abs_error_sum_kwh"] / g["actual_sum_kwh"]).where(g["actual_sum_kwh"] > 0)
    g.loc[none_known, ["abs_error_sum_kwh", "actual_sum_kwh"]] = np.nan
    out = g.reset_index()
    for col in ("count", "missing_count"):
        out[col] = out[col].astype("int64")
    for col in ("mape", "wape", "mae_kwh", "bias_kwh", "interval_coverage", "abs_error_sum_kwh", "actual_sum_kwh"):
        out[col] = out[col].astype("float64")
    return out


def hourly_aggregates(monitoring: pd.DataFrame) -> pd.DataFrame:
    """One `monitoring_hourly` row per target hour present in `monitoring`."""
    out = _aggregate(monitoring, ["datetime_utc"], list(MONITORING_HOURLY.columns))
    if out.empty:
        return MONITORING_HOURLY.empty_frame()
    return out[list(MONITORING_HOURLY.columns)]


def horizon_aggregates(monitoring: pd.DataFrame) -> pd.DataFrame:
    """One `monitoring_horizon` row per (target hour, hours_ahead) present in `monitoring`."""
    out = _aggregate(monitoring, ["datetime_utc", "hours_ahead"], list(MONITORING_HORIZON.columns))
    if out.empty:
        return MONITORING_HORIZON.empty_frame()
    out["hours_ahead"] = out["hours_ahead"].astype("int64")
    return out[list(MONITORING_HORIZON.columns)]


def wape(monitoring: pd.DataFrame) -> float | None:
    """WAPE over every known-actual row of a monitoring frame; None when there is none."""
    known = monitoring[~monitoring["actual_missing"].astype(bool)]
    denominator = float(known["actual_kwh"].abs().sum())
    return float(known["abs_error_kwh"].sum()) / denominator if denominator > 0 else None
