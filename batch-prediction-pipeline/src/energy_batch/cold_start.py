"""The cold-start forecast: seasonal naive 24 for series the champion cannot forecast yet.

Point: the value at the same hour one day earlier (t − 24 h); for a target beyond a day ahead, or
when that hour is missing, the same hour on the nearest earlier day with a value, up to a week back.
A series that has no such value for some target is not forecast (the reason is returned).

Interval (q10, q90): the point plus the 10 % / 90 % quantiles of the series' own seasonal-naive
errors (y_t − y_{t−24}) over its last week, the rule training's `seasonal_naive_24` baseline uses,
so a cold-start row is what the scored baseline would give. With fewer than
`MIN_INTERVAL_ERRORS` errors (under two days of history) the interval is left null rather than
read off a handful of values: an unknown band is honest, an invented one is not. A parent total
over such a leaf then has a null interval too (`energy_core.series.bottom_up`), for at most a day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_batch.model_input import SERIES
from energy_core.schemas import FORECAST_OUTPUT_COLUMNS, UTC_DTYPE, series_id

SEASON_HOURS = 24
LOOKBACK_DAYS = 7
ERROR_WINDOW_HOURS = 168
MIN_INTERVAL_ERRORS = 24


def seasonal_naive_24(
    history: pd.DataFrame,
    series: pd.DataFrame,
    as_of: pd.Timestamp,
    horizon_hours: int,
    label: str = "energy_consumption_kwh",
) -> tuple[pd.DataFrame, dict[str, str]]:
    """FORECAST_OUTPUT_COLUMNS rows for `series` (area, consumer_type) from `history` up to `as_of`,
    and {series id: reason} for those that cannot be forecast."""
    wanted = history.merge(series[SERIES], on=SERIES, how="inner")
    wanted = wanted[(wanted["datetime_utc"] <= as_of) & wanted[label].notna()]
    targets = pd.DatetimeIndex([as_of + pd.Timedelta(hours=h) for h in range(1, horizon_hours + 1)])
    parts: list[pd.DataFrame] = []
    failed: dict[str, str] = {}
    for (area, consumer_type), rows in wanted.groupby(SERIES, observed=True, sort=True):
        values = rows.drop_duplicates("datetime_utc", keep="last").set_index("datetime_utc")[label].astype("float64")
        point = _same_hour_earlier(values, targets, as_of)
        if point.isna().any():
            failed[series_id(str(area), str(consumer_type))] = (
                f"no value at the same hour on any of the {LOOKBACK_DAYS} days before "
                f"{int(point.isna().sum())} target hour(s)"
            )
            continue
        low, high = _error_quantiles(values, as_of)
        q10 = np.minimum(point + low, point) if low is not None else pd.Series(np.nan, index=targets)
        q90 = np.maximum(point + high, point) if high is not None else pd.Series(np.nan, index=targets)
        parts.append(
            pd.DataFrame(
                {
                    "area": pd.Series(str(area), index=range(len(targets)), dtype="string"),
                    "consumer_type": pd.Series(str(consumer_type), index=range(len(targets)), dtype="string"),
                    "datetime_utc": pd.Series(targets, dtype=UTC_DTYPE),
                    "hours_ahead": pd.Series(range(1, horizon_hours + 1), dtype="int64"),
                    "prediction_kwh": np.maximum(point.to_numpy(), 0.0),
                    "prediction_q10_kwh": np.maximum(np.asarray(q10, dtype="float64"), 0.0),
                    "prediction_q90_kwh": np.maximum(np.asarray(q90, dtype="float64"), 0.0),
                }
            )
        )
    if not parts:
        return _empty(), failed
    return pd.concat(parts, ignore_index=True)[list(FORECAST_OUTPUT_COLUMNS)], failed


def _same_hour_earlier(values: pd.Series, targets: pd.DatetimeIndex, as_of: pd.Timestamp) -> pd.Series:
    """For each target, the value at the same hour on the nearest earlier known day (≤ as_of)."""
    point = pd.Series(np.nan, index=targets, dtype="float64")
    ahead = np.asarray((targets - as_of) / pd.Timedelta(hours=1), dtype="int64")
    first_day = np.ceil(ahead / SEASON_HOURS).astype("int64")  # the first day back that is already known
    for extra in range(LOOKBACK_DAYS):
        todo = point.isna().to_numpy()
        if not todo.any():
            break
        back = pd.to_timedelta((first_day + extra) * SEASON_HOURS, unit="h")
        earlier = values.reindex(targets - back).to_numpy(dtype="float64")
        point[todo] = earlier[todo]
    return point


def _error_quantiles(values: pd.Series, as_of: pd.Timestamp) -> tuple[float | None, float | None]:
    """The 10 % and 90 % quantiles of y_t − y_{t−24} over the last week; None with too few errors."""
    recent = values[values.index > as_of - pd.Timedelta(hours=ERROR_WINDOW_HOURS + SEASON_HOURS)]
    errors = (recent - recent.shift(SEASON_HOURS, freq="h")).dropna()
    errors = errors[errors.index > as_of - pd.Timedelta(hours=ERROR_WINDOW_HOURS)]
    if len(errors) < MIN_INTERVAL_ERRORS:
        return None, None
    low, high = np.quantile(errors.to_numpy(dtype="float64"), [0.1, 0.9])
    return float(low), float(high)


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area": pd.Series(dtype="string"),
            "consumer_type": pd.Series(dtype="string"),
            "datetime_utc": pd.Series(dtype=UTC_DTYPE),
            "hours_ahead": pd.Series(dtype="int64"),
            "prediction_kwh": pd.Series(dtype="float64"),
            "prediction_q10_kwh": pd.Series(dtype="float64"),
            "prediction_q90_kwh": pd.Series(dtype="float64"),
        }
    )
