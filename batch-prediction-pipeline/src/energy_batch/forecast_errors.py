"""Step 1 of monitor: join stored predictions with actuals into per-row forecast errors.

Sign convention: `error_kwh = prediction - actual`, so a positive bias means over-forecasting.
`pct_error = error_kwh / actual_kwh` is a signed fraction (0.05 = 5 % over), null when the actual
is zero; MAPE is the mean of its absolute value.

A target hour without an actual is written with `actual_missing=True` and null errors once we know
it is missing: a later hour of the same series has arrived, or the hour is older than the grace
period. Until then it is simply not monitored yet. Nothing is ever imputed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_core.schemas import MONITORING, TOTAL

SERIES = ["area", "consumer_type"]


def latest_actual_per_series(actuals: pd.DataFrame) -> pd.DataFrame:
    """The newest hour with an actual, per series (columns area, consumer_type, latest_actual_utc)."""
    return (
        actuals.groupby(SERIES, observed=True)["datetime_utc"]
        .max()
        .rename("latest_actual_utc")
        .reset_index()
    )


def forecast_errors(
    predictions: pd.DataFrame,
    actuals: pd.DataFrame,
    as_of: pd.Timestamp,
    grace_hours: int,
) -> pd.DataFrame:
    """Monitoring rows for predictions whose target hour is <= as_of and whose actual is known or
    known to be missing. `actuals` holds energy_consumption rows up to as_of (later rows ignored)."""
    preds = predictions[predictions["datetime_utc"] <= as_of]
    actuals = actuals.loc[actuals["datetime_utc"] <= as_of, [*SERIES, "datetime_utc", "energy_consumption_kwh"]]
    rows = preds.merge(actuals, on=[*SERIES, "datetime_utc"], how="left")
    rows = rows.merge(latest_actual_per_series(actuals), on=SERIES, how="left")
    has_actual = rows["energy_consumption_kwh"].notna()
    later_arrived = rows["latest_actual_utc"].notna() & (rows["latest_actual_utc"] > rows["datetime_utc"])
    past_grace = rows["datetime_utc"] <= as_of - pd.Timedelta(hours=grace_hours)
    rows = rows[has_actual | later_arrived | past_grace].copy()

    actual = rows["energy_consumption_kwh"].astype("float64")
    error = rows["prediction_kwh"] - actual
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = (error / actual).where(actual != 0)
    q10, q90 = rows["prediction_q10_kwh"], rows["prediction_q90_kwh"]
    known_interval = actual.notna() & q10.notna() & q90.notna()
    in_interval = pd.Series(pd.NA, index=rows.index, dtype="boolean")
    in_interval[known_interval] = (q10[known_interval] <= actual[known_interval]) & (
        actual[known_interval] <= q90[known_interval]
    )

    out = pd.DataFrame(
        {
            "datetime_utc": rows["datetime_utc"],
            "area": rows["area"],
            "consumer_type": rows["consumer_type"],
            "hours_ahead": rows["hours_ahead"].astype("int64"),
            "forecast_made_at": rows["forecast_made_at"],
            "model_version": rows["model_version"].astype("int64"),
            "prediction_kwh": rows["prediction_kwh"],
            "prediction_q10_kwh": q10,
            "prediction_q90_kwh": q90,
            "actual_kwh": actual,
            "actual_missing": actual.isna(),
            "error_kwh": error,
            "abs_error_kwh": error.abs(),
            "pct_error": pct.astype("float64"),
            "in_interval": in_interval,
        }
    )
    return out[list(MONITORING.columns)].sort_values(list(MONITORING.key)).reset_index(drop=True)


def leaf_rows(monitoring: pd.DataFrame) -> pd.DataFrame:
    """The rows of leaf series (not parent totals, whose key `total` is reserved for them).

    Aggregates, error checks and the simulation's WAPE use leaves only: a total re-counts its
    leaves' kWh, so including it would weigh every kWh two or three times.
    """
    return monitoring[monitoring["consumer_type"].astype("string") != TOTAL]


def changed_since_stored(rows: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    """`rows` (monitoring rows) less those stored with exactly the same values.

    Why: monitor recomputes every target hour of its lookback (48 h: ~87,000 rows at 76 series),
    so late and revised actuals are picked up, but in a normal hour only the newest target hour's
    ~1,900 rows are new. The store's upsert would skip the identical rows too, after validating and
    converting all of them, which made monitor the slowest step of a steady-state hour. Dropping
    them first changes nothing that is stored (a row is dropped only if every column equals the
    stored row's, nulls equal to nulls), and a row compared wrongly as changed is merely written
    again, which the store turns into a no-op.
    """
    if rows.empty or stored.empty:
        return rows
    at = _positions(rows, stored)
    same = at >= 0
    taken = np.where(same, at, 0)
    for column in (c for c in MONITORING.columns if c not in MONITORING.key):  # the keys matched already
        new, old = _comparable(rows[column]), _comparable(stored[column])[taken]
        equal = new == old
        if new.dtype.kind == "f":
            equal |= np.isnan(new) & np.isnan(old)
        same &= equal
    return rows[~same]


def _positions(rows: pd.DataFrame, stored: pd.DataFrame) -> np.ndarray:
    """Per row of `rows`, the position of the stored row with the same key (-1: none)."""
    key = list(MONITORING.key)
    both = pd.concat([rows[key], stored[key]], ignore_index=True)
    codes = [pd.factorize(both[k].astype(object) if both[k].dtype == "string" else both[k])[0] for k in key]
    combined = pd.MultiIndex.from_arrays(codes)
    n = len(rows)
    return np.asarray(combined[n:].get_indexer(combined[:n]), dtype=np.int64)


def _comparable(values: pd.Series) -> np.ndarray:
    """Values as a numpy array where `==` compares like the stored data: floats (nullable ones
    with NaN for null), time stamps as integers (NaT as one sentinel), text as objects."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or values.dtype.kind == "M":
        return np.asarray(values.array.asi8, dtype=np.int64)
    if values.dtype == "boolean":
        return values.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    if values.dtype == "string":
        return values.to_numpy(dtype=object, na_value=None)
    return values.to_numpy()
