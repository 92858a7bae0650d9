"""Step 1 of monitor: join stored predictions with actuals into per-row forecast errors.

Sign convention: `error_kwh = prediction - actual`, so a positive bias means over-forecasting.
`pct_error = error_kwh / actual_kwh` is a signed fraction (0.05 = 5 % over), null when the actual
is zero; MAPE is the mean of its absolute value.

A target hour without an actual is written with `actual_missing=True` and null errors once we know
it is missing: a later hour of the same series has arrived, or the hour is older than the grace
period. Until then it is simply not monitored yet. Nothing is ever imputed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

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
    known to be missing. `actuals` holds energy_consumption rows up to as_of (later rows ignored).

    Why two paths: monitor scores ~110,000 stored forecasts every hour, and pandas' merges hash the
    text keys of every row twice, then the sort hashes them again. When every time stamp is a
    whole hour (always, for stored rows) the actuals become a small series × hour grid, looked up
    by integer position, and the series' text is factorised once; `_forecast_errors_merge` is the
    plain version, used otherwise (and by the test that checks both agree)."""
    preds = predictions[predictions["datetime_utc"] <= as_of]
    actuals = actuals.loc[actuals["datetime_utc"] <= as_of, [*SERIES, "datetime_utc", "energy_consumption_kwh"]]
    pred_hour, actual_hour = _hour_numbers(preds["datetime_utc"]), _hour_numbers(actuals["datetime_utc"])
    if pred_hour is None or actual_hour is None or preds.empty or actuals.empty:
        return _forecast_errors_merge(preds, actuals, as_of, grace_hours)
    codes, n_series = _series_codes(preds, actuals)
    pred_series, actual_series = codes[: len(preds)], codes[len(preds) :]
    first = int(min(pred_hour.min(), actual_hour.min()))
    span = int(max(pred_hour.max(), actual_hour.max())) - first + 1
    if n_series * span > _GRID_MAX_CELLS or _repeated(actual_series * span + (actual_hour - first)):
        return _forecast_errors_merge(preds, actuals, as_of, grace_hours)  # years of hours; or a key twice
    grid = np.full((n_series, span), np.nan)  # the actual kWh per series and hour (NaN: none, or null)
    kwh = actuals["energy_consumption_kwh"].to_numpy(dtype="float64", na_value=np.nan)
    grid[actual_series, actual_hour - first] = kwh
    latest = np.full(n_series, np.iinfo(np.int64).min)  # the newest hour with an actual row (null or not)
    np.maximum.at(latest, actual_series, actual_hour)

    actual_all = grid[pred_series, pred_hour - first]
    has_actual = ~np.isnan(actual_all)
    later_arrived = latest[pred_series] > pred_hour
    past_grace = (preds["datetime_utc"] <= as_of - pd.Timedelta(hours=grace_hours)).to_numpy()
    keep = has_actual | later_arrived | past_grace
    rows = preds[keep]
    return in_scoring_order(_monitoring_frame(rows, pd.Series(actual_all[keep], index=rows.index, dtype="float64")))


def in_scoring_order(rows: pd.DataFrame) -> pd.DataFrame:
    """Monitoring rows (time stamps in one unit) in MONITORING's columns, in scoring order: by
    target hour, then area, consumer_type and hours_ahead (`_forecast_errors_merge` sorts them the
    same way). Hour first so that the rows of whole hours scored apart join by a stable sort on
    the hour alone (`join_hours`); the store keeps its own order on disk."""
    order = np.lexsort(
        (
            rows["hours_ahead"].to_numpy(),
            _sorted_codes(rows["consumer_type"]),
            _sorted_codes(rows["area"]),
            rows["datetime_utc"].array.asi8,
        )
    )
    return rows[list(MONITORING.columns)].take(order).reset_index(drop=True)


def join_hours(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """The rows of two frames in scoring order (`in_scoring_order`), each frame in that order and no
    target hour in both. In a steady hour `second` holds only hours after `first`'s, so nothing moves."""
    rows = pd.concat([first, second], ignore_index=True)
    hours = rows["datetime_utc"].array.asi8
    if len(hours) < 2 or bool((np.diff(hours) >= 0).all()):
        return rows
    return rows.take(np.argsort(hours, kind="stable")).reset_index(drop=True)


def _forecast_errors_merge(
    preds: pd.DataFrame, actuals: pd.DataFrame, as_of: pd.Timestamp, grace_hours: int
) -> pd.DataFrame:
    """`forecast_errors` by pandas merges (`preds` and `actuals` already cut at `as_of`)."""
    rows = preds.merge(actuals, on=[*SERIES, "datetime_utc"], how="left")
    rows = rows.merge(latest_actual_per_series(actuals), on=SERIES, how="left")
    has_actual = rows["energy_consumption_kwh"].notna()
    later_arrived = rows["latest_actual_utc"].notna() & (rows["latest_actual_utc"] > rows["datetime_utc"])
    past_grace = rows["datetime_utc"] <= as_of - pd.Timedelta(hours=grace_hours)
    rows = rows[has_actual | later_arrived | past_grace].copy()
    out = _monitoring_frame(rows, rows["energy_consumption_kwh"].astype("float64"))
    order = ["datetime_utc", "area", "consumer_type", "hours_ahead"]  # scoring order: see `in_scoring_order`
    return out[list(MONITORING.columns)].sort_values(order).reset_index(drop=True)


def _monitoring_frame(rows: pd.DataFrame, actual: pd.Series) -> pd.DataFrame:
    """The monitoring columns of the kept prediction rows, `actual` aligned with them."""
    error = rows["prediction_kwh"] - actual
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = (error / actual).where(actual != 0)
    q10, q90 = rows["prediction_q10_kwh"], rows["prediction_q90_kwh"]
    known_interval = actual.notna() & q10.notna() & q90.notna()
    in_interval = pd.Series(pd.NA, index=rows.index, dtype="boolean")
    in_interval[known_interval] = (q10[known_interval] <= actual[known_interval]) & (
        actual[known_interval] <= q90[known_interval]
    )
    return pd.DataFrame(
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


_PER_HOUR = {"s": 3_600, "ms": 3_600_000, "us": 3_600_000_000, "ns": 3_600_000_000_000}  # ticks of each unit
_GRID_MAX_CELLS = 20_000_000  # 160 MB of float64: far above monitor's 48 h × a few thousand series


def _repeated(keys: np.ndarray) -> bool:
    """Whether an integer key occurs twice (then a merge, which repeats the rows, is the truth)."""
    return len(np.unique(keys)) < len(keys)


def _hour_numbers(times: pd.Series) -> np.ndarray | None:
    """Whole hours since the epoch of a UTC time-stamp column; None when one is not a whole hour
    (or null, or not time-zone aware), for which the caller takes the merge path."""
    if not isinstance(times.dtype, pd.DatetimeTZDtype) or times.dtype.unit not in _PER_HOUR or times.isna().any():
        return None
    ticks, per_hour = np.asarray(times.array.asi8, dtype=np.int64), _PER_HOUR[times.dtype.unit]
    if (ticks % per_hour).any():
        return None
    return ticks // per_hour


def _series_codes(*frames: pd.DataFrame) -> tuple[np.ndarray, int]:
    """One integer per (area, consumer_type) over the rows of all `frames`, stacked, and how many."""
    area = pd.factorize(pd.concat([f["area"] for f in frames], ignore_index=True))[0]
    kind, kinds = pd.factorize(pd.concat([f["consumer_type"] for f in frames], ignore_index=True))
    pair, pairs = pd.factorize(area.astype(np.int64) * max(len(kinds), 1) + kind)
    return pair, len(pairs)


def _sorted_codes(values: pd.Series) -> np.ndarray:
    """Integers that sort like the text values (factorised with sorted uniques)."""
    return pd.factorize(values, sort=True)[0]


def leaf_rows(monitoring: pd.DataFrame) -> pd.DataFrame:
    """The rows of leaf series (not parent totals, whose key `total` is reserved for them).

    Aggregates, error checks and the simulation's WAPE use leaves only: a total re-counts its
    leaves' kWh, so including it would weigh every kWh two or three times.
    """
    return monitoring[leaf_mask(monitoring)]


def leaf_mask(monitoring: pd.DataFrame) -> np.ndarray:
    """Which rows of `monitoring` are leaf rows (`leaf_rows` without copying them)."""
    return np.asarray(monitoring["consumer_type"].to_numpy(dtype=object, na_value=None) != TOTAL, dtype=bool)


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
    """Per row of `rows`, the position of the stored row with the same key (-1: none).

    The key (series, hours_ahead, whole hour) packs into one integer, so the series' text is
    factorised once and the lookup is an integer hash; other time stamps take `_positions_by_frame`."""
    row_hours, stored_hours = _hour_numbers(rows["datetime_utc"]), _hour_numbers(stored["datetime_utc"])
    if row_hours is None or stored_hours is None:
        return _positions_by_frame(rows, stored)
    series, n_series = _series_codes(rows, stored)
    ahead = np.concatenate([f["hours_ahead"].to_numpy(dtype=np.int64) for f in (rows, stored)])
    hour = np.concatenate([row_hours, stored_hours])
    ahead, hour = ahead - ahead.min(), hour - hour.min()
    ahead_span, hour_span = int(ahead.max()) + 1, int(hour.max()) + 1
    if n_series * ahead_span * hour_span >= 2**62:
        return _positions_by_frame(rows, stored)
    packed = (series.astype(np.int64) * ahead_span + ahead) * hour_span + hour
    n = len(rows)
    return np.asarray(pd.Index(packed[n:]).get_indexer(packed[:n]), dtype=np.int64)


def _positions_by_frame(rows: pd.DataFrame, stored: pd.DataFrame) -> np.ndarray:
    """`_positions` by factorising each key column of both frames."""
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


@dataclass(frozen=True)
class ScoredWith:
    """What one hour's scores were computed from, for the next hour to tell which still stand.

    `actuals`: the actual rows (area, consumer_type, datetime_utc, energy_consumption_kwh) up to
    `as_of` that were read; `predictions_version`: the `predictions` table version read before
    the predictions were (the rows read may be newer, never older); `settled_hours`: the target
    hours (whole hours since the epoch) whose every forecast was scored, with its actual or as
    known to miss it."""

    as_of: pd.Timestamp
    grace_hours: int
    actuals: pd.DataFrame
    predictions_version: int
    settled_hours: np.ndarray


@dataclass
class StoredScores:
    """The monitoring rows one long-lived monitor last scored, and the `monitoring` table version
    at which they are exactly the stored rows of their keys (None: nothing known), with what they
    were scored from (`scored_with`).

    Why: a steady-state hour re-reads ~87,000 rows it wrote itself an hour before, only to find the
    ~2,000 that changed. A worker that remembers them reads nothing while the table is still at the
    version its own write left (no other writer since). Only presence is trusted, never absence: a
    key it does not hold counts as changed and is written again, which the store's upsert turns
    into a no-op when the stored row is equal. "No other writer" is read from consecutive version
    numbers (Delta's); a store whose versions are commit times (Hopsworks) never matches, so its
    monitor simply reads the rows back every hour, as before.

    `scored_with` lets the next hour score again only the target hours whose inputs may have
    changed (`hours_to_keep`), instead of re-reading and re-scoring all 48 h of forecasts.
    """

    rows: pd.DataFrame | None = None
    version: int | None = None
    scored_with: ScoredWith | None = None

    def rows_at(self, version: int | None) -> pd.DataFrame | None:
        """The remembered rows if the table is still at the version they belong to."""
        return self.rows if self.rows is not None and version is not None and version == self.version else None

    def remember(self, rows: pd.DataFrame, version: int | None, scored_with: ScoredWith | None = None) -> None:
        if version is None:
            self.forget()
        else:
            self.rows, self.version, self.scored_with = rows, version, scored_with

    def forget(self) -> None:
        self.rows, self.version, self.scored_with = None, None, None


def settled_hours(
    predictions: pd.DataFrame, rows: pd.DataFrame, first_hour: pd.Timestamp, as_of: pd.Timestamp
) -> np.ndarray:
    """The target hours from `first_hour` to `as_of` (whole hours since the epoch) where every
    forecast in `predictions` has its monitoring row in `rows` (with an actual, or known to miss
    it), hours without forecasts included; empty when time stamps are not whole hours."""
    first, last = _hour_of(first_hour), _hour_of(as_of)
    pred_hours = _hour_numbers(predictions.loc[predictions["datetime_utc"] <= as_of, "datetime_utc"])
    scored_hours = _hour_numbers(rows["datetime_utc"])
    if first is None or last is None or pred_hours is None or scored_hours is None or last < first:
        return np.empty(0, dtype=np.int64)
    window = np.arange(first, last + 1, dtype=np.int64)
    forecasts = np.bincount(np.clip(pred_hours - first, 0, len(window)), minlength=len(window) + 1)
    scored = np.bincount(np.clip(scored_hours - first, 0, len(window)), minlength=len(window) + 1)
    return window[forecasts[: len(window)] == scored[: len(window)]]


def hours_to_keep(
    before: ScoredWith,
    as_of: pd.Timestamp,
    grace_hours: int,
    first_hour: pd.Timestamp,
    actuals: pd.DataFrame,
    changed_forecasts: tuple[datetime, datetime] | None,
) -> np.ndarray | None:
    """The target hours (whole hours since the epoch) whose remembered rows are exactly what
    scoring them again would give; None when the remembered scores cannot be used at all.

    A target hour's rows are a function of its forecasts, its actuals and, for a forecast without
    an actual, of whether it is known to miss it: a later hour of its series has an actual, or the
    grace period is over. Both only ever become true as the hours pass, unless an actual row
    vanishes. So an hour stands when it was settled (every forecast scored), is still in the
    window, none of its forecasts changed (`changed_forecasts`: the event-time span the store says
    may differ since `before.predictions_version`) and none of its actual rows changed or appeared;
    a vanished actual row anywhere in the window makes every hour count as changed."""
    first, last = _hour_of(first_hour), _hour_of(before.as_of)
    if as_of < before.as_of or grace_hours != before.grace_hours or first is None or last is None:
        return None
    now = actuals[actuals["datetime_utc"] <= before.as_of]
    then = before.actuals[before.actuals["datetime_utc"] >= pd.Timestamp(first_hour)]  # still in the window
    now_hours, then_hours = _hour_numbers(now["datetime_utc"]), _hour_numbers(then["datetime_utc"])
    if now_hours is None or then_hours is None:
        return None
    keep = before.settled_hours[(before.settled_hours >= first) & (before.settled_hours <= last)]
    if changed_forecasts is not None:  # hours overlapping the span, rounded outwards
        lo, hi = (math.floor(t.timestamp() / 3600) for t in changed_forecasts)
        keep = keep[(keep < lo) | (keep > hi)]
    if len(now) or len(then):
        series, _ = _series_codes(now, then)
        hours = np.concatenate([now_hours, then_hours])
        hours, span = hours - hours.min(), int(hours.max() - hours.min()) + 1
        key = series.astype(np.int64) * span + hours
        key_now, key_then = key[: len(now)], key[len(now) :]
        if _repeated(key_now) or _repeated(key_then):
            return None
        at = pd.Index(key_then).get_indexer(key_now)  # per actual row now, the row then with its key
        kwh_now = now["energy_consumption_kwh"].to_numpy(dtype="float64", na_value=np.nan)
        kwh_then = then["energy_consumption_kwh"].to_numpy(dtype="float64", na_value=np.nan)
        old = kwh_then[np.where(at >= 0, at, 0)]
        same = (at >= 0) & ((kwh_now == old) | (np.isnan(kwh_now) & np.isnan(old)))
        if len(np.unique(at[at >= 0])) < len(then):
            return None  # an actual row vanished: a known-missing forecast may no longer be known
        keep = keep[~np.isin(keep, now_hours[~same])]
    return keep


def _hour_of(time: pd.Timestamp) -> int | None:
    """Whole hours since the epoch of one time stamp; None when it is not a whole hour."""
    seconds = pd.Timestamp(time).timestamp()
    return int(seconds // 3600) if seconds % 3600 == 0 else None


def hour_numbers(times: pd.Series) -> np.ndarray | None:
    """Whole hours since the epoch of a UTC time-stamp column (None: not whole hours)."""
    return _hour_numbers(times)
