"""Data access through core's FeatureStore: functions that take a store and return frames.

Every read pushes its time range and series filter down to the store so a request touches one
series, not the table. A group that has never been written reads as an empty frame with the
group's columns: the dashboards then show "no data yet" instead of an error.

Aggregates re-weight the stored per-hour metrics (MAPE by count, WAPE by actual volume) rather
than recomputing them from raw sums, so they keep whatever unit the monitoring pipeline writes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from energy_api.time_window import HOUR, TimeWindow
from energy_core.feature_store import FeatureGroupNotFound, FeatureStore
from energy_core.schemas import (
    ALERTS,
    ENERGY_CONSUMPTION,
    ENERGY_CONSUMPTION_TOTALS,
    MONITORING,
    MONITORING_HORIZON,
    MONITORING_HOURLY,
    PREDICTIONS,
    SERIES,
    TOTAL,
    FeatureGroupSpec,
    consumer_type_label,
)
from energy_core.series import LEAF, read_catalogue

# Forecasts made this long before the newest data hour are found by a windowed read; older
# ones need a full read of the series (rare: a stalled batch pipeline).
LATEST_FORECAST_LOOKBACK = timedelta(hours=48)
STATUS_SEVERITY = {"ok": 0, "warn": 1, "alert": 2}


def read_or_empty(
    store: FeatureStore,
    group: FeatureGroupSpec,
    start: datetime | None = None,
    end: datetime | None = None,
    filters: dict[str, Any] | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """`store.read`, with a never-written group read as zero rows of the requested columns."""
    try:
        return store.read(group, start=start, end=end, filters=filters, columns=columns)
    except FeatureGroupNotFound:
        empty = group.empty_frame()
        return empty[columns] if columns else empty


def latest_time(frame: pd.DataFrame, column: str) -> datetime | None:
    """The newest value of a timestamp column as a datetime, None for an empty frame."""
    if frame.empty:
        return None
    value = frame[column].max()
    return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()


# -- the series catalogue -------------------------------------------------------------------------
def catalogue(store: FeatureStore) -> pd.DataFrame:
    """The `series` catalogue; for a store written before it existed, the leaves of `energy_consumption`.

    The fallback keeps an old store browsable (no totals, labels from core) instead of answering
    404 for every series until the feature pipeline has rebuilt the catalogue.
    """
    frame = read_catalogue(store)
    return frame if not frame.empty else derived_catalogue(store)


def derived_catalogue(store: FeatureStore) -> pd.DataFrame:
    """Catalogue rows (leaves only) for every series `energy_consumption` has rows for."""
    spans = read_or_empty(store, ENERGY_CONSUMPTION, columns=["area", "consumer_type", "datetime_utc"])
    spans = spans.groupby(["area", "consumer_type"], as_index=False, observed=True)["datetime_utc"].agg(
        first_seen_utc="min", last_seen_utc="max"
    )
    rows = spans.assign(
        registered_at=spans["first_seen_utc"],
        level=LEAF,
        parent_id=None,
        label=[consumer_type_label(str(c)) for c in spans["consumer_type"]],
        unit="kWh",
        source_dataset=None,
        status="active",
        attributes=None,
    )
    return rows.reindex(columns=list(SERIES.columns))


# -- consumption ---------------------------------------------------------------------------------
def actuals_group(consumer_type: str) -> FeatureGroupSpec:
    """Where a series' observations live: leaves in energy_consumption, parent totals beside it."""
    return ENERGY_CONSUMPTION_TOTALS if consumer_type == TOTAL else ENERGY_CONSUMPTION


def series_catalog(store: FeatureStore) -> pd.DataFrame:
    """One row per leaf series with data: `area`, `consumer_type`, `latest_data_at`."""
    return _latest_per_series(store, ENERGY_CONSUMPTION)


def totals_catalog(store: FeatureStore) -> pd.DataFrame:
    """One row per parent total with (complete, bottom-up) actuals: `area`, `consumer_type`, `latest_data_at`."""
    return _latest_per_series(store, ENERGY_CONSUMPTION_TOTALS)


def _latest_per_series(store: FeatureStore, group: FeatureGroupSpec) -> pd.DataFrame:
    frame = read_or_empty(store, group, columns=["area", "consumer_type", "datetime_utc"])
    return frame.groupby(["area", "consumer_type"], as_index=False, observed=True).agg(
        latest_data_at=("datetime_utc", "max")
    )


def history(store: FeatureStore, area: str, consumer_type: str, last_hour: datetime, hours: int) -> pd.DataFrame:
    """The `hours` observed hours ending with `last_hour` (inclusive), oldest first."""
    frame = read_or_empty(
        store,
        actuals_group(consumer_type),
        start=last_hour - (hours - 1) * HOUR,
        end=last_hour + HOUR,
        filters={"area": area, "consumer_type": consumer_type},
        columns=["datetime_utc", "energy_consumption_kwh"],
    )
    return frame.sort_values("datetime_utc", ignore_index=True)


def actuals(store: FeatureStore, area: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Observed consumption of every series of `area` (its leaves and its total) in [start, end)."""
    columns = ["consumer_type", "datetime_utc", "energy_consumption_kwh"]
    frames = [
        read_or_empty(store, group, start=start, end=end, filters={"area": area}, columns=columns)
        for group in (ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS)
    ]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else ENERGY_CONSUMPTION.empty_frame()[columns]


# -- predictions ---------------------------------------------------------------------------------
def latest_forecasts(store: FeatureStore, filters: dict[str, Any], anchor: datetime | None) -> pd.DataFrame:
    """For every series matching `filters`, the rows of its most recent forecast.

    Two pushed-down reads instead of one scan of every forecast ever made: find each series'
    newest `forecast_made_at` among targets after `anchor - 48 h` (falling back to all targets
    when none is that recent), then read targets after the oldest of those times and keep each
    series' rows of its own newest forecast. Relies on a forecast's targets following its
    `forecast_made_at`, which the forecast contract guarantees (hours_ahead >= 1).
    """
    keys = ["area", "consumer_type", "forecast_made_at"]
    made = pd.DataFrame(columns=keys)
    if anchor is not None:
        made = read_or_empty(store, PREDICTIONS, start=anchor - LATEST_FORECAST_LOOKBACK, filters=filters, columns=keys)
    if made.empty:
        made = read_or_empty(store, PREDICTIONS, filters=filters, columns=keys)
    if made.empty:
        return PREDICTIONS.empty_frame()
    newest = made.groupby(["area", "consumer_type"], as_index=False, observed=True)["forecast_made_at"].max()
    rows = read_or_empty(store, PREDICTIONS, start=newest["forecast_made_at"].min() + HOUR, filters=filters)
    rows = rows.merge(newest, on=keys, how="inner")
    return rows.sort_values(["area", "consumer_type", "datetime_utc"], ignore_index=True)


def latest_forecast_time(store: FeatureStore, anchor: datetime | None) -> datetime | None:
    """When the newest forecast of any series was made."""
    made = pd.DataFrame(columns=["forecast_made_at"])
    if anchor is not None:
        made = read_or_empty(
            store, PREDICTIONS, start=anchor - LATEST_FORECAST_LOOKBACK, columns=["forecast_made_at"]
        )
    if made.empty:
        made = read_or_empty(store, PREDICTIONS, columns=["forecast_made_at"])
    return latest_time(made, "forecast_made_at")


# -- monitoring ----------------------------------------------------------------------------------
def latest_monitored_hour(store: FeatureStore) -> datetime | None:
    """The newest target hour with monitoring: the anchor of the default 7-day window."""
    return latest_time(read_or_empty(store, MONITORING_HOURLY, columns=["datetime_utc"]), "datetime_utc")


def hourly_errors(store: FeatureStore, window: TimeWindow) -> pd.DataFrame:
    frame = read_or_empty(store, MONITORING_HOURLY, start=window.start, end=window.end)
    return frame.sort_values("datetime_utc", ignore_index=True)


def _weighted_mean(values: pd.Series, weights: pd.Series) -> float:
    """Mean of `values` weighted by `weights`, ignoring rows where either is missing; NaN if none."""
    valid = values.notna() & weights.notna() & (weights > 0)
    total = float(weights[valid].sum())
    return float((values[valid] * weights[valid]).sum() / total) if total > 0 else float("nan")


def horizon_errors(store: FeatureStore, window: TimeWindow) -> pd.DataFrame:
    """Error per `hours_ahead` over the window, one row per horizon, ascending."""
    frame = read_or_empty(store, MONITORING_HORIZON, start=window.start, end=window.end)
    columns = ["hours_ahead", "mape", "wape", "mae_kwh", "bias_kwh", "count"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for _, group in frame.groupby("hours_ahead", sort=True):
        rows.append(
            {
                "hours_ahead": int(group["hours_ahead"].iloc[0]),
                "mape": _weighted_mean(group["mape"], group["count"]),
                "wape": _weighted_mean(group["wape"], group["actual_sum_kwh"]),
                "mae_kwh": _weighted_mean(group["mae_kwh"], group["count"]),
                "bias_kwh": _weighted_mean(group["bias_kwh"], group["count"]),
                "count": int(group["count"].sum()),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def series_errors(
    store: FeatureStore, area: str, consumer_type: str, window: TimeWindow, hours_ahead: int | None
) -> pd.DataFrame:
    """Predictions against actuals for one series, ordered by target hour then horizon."""
    filters: dict[str, Any] = {"area": area, "consumer_type": consumer_type}
    if hours_ahead is not None:
        filters["hours_ahead"] = hours_ahead
    frame = read_or_empty(store, MONITORING, start=window.start, end=window.end, filters=filters)
    return frame.sort_values(["datetime_utc", "hours_ahead"], ignore_index=True)


def series_ranking(store: FeatureStore, window: TimeWindow, limit: int) -> pd.DataFrame:
    """Series sorted by WAPE over the window, worst first (series without actuals last)."""
    columns = ["area", "consumer_type", "wape", "mape", "mae_kwh", "bias_kwh", "count"]
    frame = read_or_empty(
        store,
        MONITORING,
        start=window.start,
        end=window.end,
        columns=["area", "consumer_type", "actual_kwh", "actual_missing", "error_kwh", "abs_error_kwh", "pct_error"],
    )
    frame = frame[~frame["actual_missing"].astype(bool) & frame["abs_error_kwh"].notna()]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.assign(abs_pct_error=frame["pct_error"].abs())
    grouped = frame.groupby(["area", "consumer_type"], as_index=False, observed=True).agg(
        abs_error_sum=("abs_error_kwh", "sum"),
        actual_sum=("actual_kwh", "sum"),
        mape=("abs_pct_error", "mean"),
        mae_kwh=("abs_error_kwh", "mean"),
        bias_kwh=("error_kwh", "mean"),
        count=("abs_error_kwh", "size"),
    )
    grouped["wape"] = grouped["abs_error_sum"] / grouped["actual_sum"].where(grouped["actual_sum"] > 0)
    grouped = grouped.sort_values(["wape", "area", "consumer_type"], ascending=[False, True, True], na_position="last")
    return grouped[columns].head(limit).reset_index(drop=True)


# -- alerts --------------------------------------------------------------------------------------
def latest_alerts(store: FeatureStore) -> pd.DataFrame:
    """The newest row of every check, worst status first."""
    frame = read_or_empty(store, ALERTS)
    if frame.empty:
        return frame
    newest = frame.sort_values("datetime_utc").groupby("check_name", as_index=False).tail(1)
    severity = newest["status"].map(STATUS_SEVERITY)
    return newest.assign(_severity=severity).sort_values(
        ["_severity", "check_name"], ascending=[False, True], ignore_index=True
    ).drop(columns="_severity")
