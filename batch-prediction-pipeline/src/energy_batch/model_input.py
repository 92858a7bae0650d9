"""Step 1 of predict: the frame the champion forecasts from (the forecast contract).

Per series: its history from the feature view up to and including the as-of hour (label present),
then the next `horizon` hours (label null) whose calendar and lagged weather come from the same
view, joined onto a spine of future hours. Both halves go through `read_view`, so the point-in-time
rules that kept the future out of training keep it out of prediction too.
"""

from __future__ import annotations

import logging

import pandas as pd

from energy_batch.exceptions import NoDataAtAsOf
from energy_core.feature_store import FeatureStore
from energy_core.schemas import ENERGY_FORECASTING_VIEW, UTC_DTYPE, FeatureViewSpec

log = logging.getLogger(__name__)

SERIES = ["area", "consumer_type"]
LABEL = "energy_consumption_kwh"


def read_history(
    store: FeatureStore,
    as_of: pd.Timestamp,
    history_hours: int,
    view: FeatureViewSpec = ENERGY_FORECASTING_VIEW,
    table_versions: dict[str, int] | None = None,
) -> pd.DataFrame:
    """View rows in (as_of - history_hours, as_of]: nothing from after the as-of hour (read at
    `table_versions` when given)."""
    start = as_of - pd.Timedelta(hours=history_hours - 1)
    end = (as_of + pd.Timedelta(hours=1)).to_pydatetime()
    return store.read_view(view, start=start.to_pydatetime(), end=end, table_versions=table_versions)


def series_summary(history: pd.DataFrame, as_of: pd.Timestamp, label: str = LABEL) -> pd.DataFrame:
    """One row per series of `history`, sorted: `at_as_of` (it has a row at the as-of hour),
    `latest` (its last hour) and `first_known` (its first hour with a `label` value, NaT if none).

    One groupby over the window: predict needs these per-series facts every hour, and deriving
    them by merging and de-duplicating the whole window (~38,000 rows) cost several times more."""
    times = history["datetime_utc"]
    known = history[label].notna() if label in history.columns else pd.Series(True, index=history.index)
    parts = pd.DataFrame(
        {"area": history["area"], "consumer_type": history["consumer_type"], "at_as_of": times == as_of,
         "latest": times, "first_known": times.where(known)}
    )  # fmt: skip
    return (
        parts.groupby(SERIES, observed=True, sort=True)
        .agg(at_as_of=("at_as_of", "max"), latest=("latest", "max"), first_known=("first_known", "min"))
        .reset_index()
    )


def series_at(summary: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The series to forecast (sorted): those of `summary` (`series_summary`) with a value at the
    as-of hour.

    A series without that hour would hand the model a history that stops early and a forecast that
    starts late, so it is left out (and logged) rather than forecast from stale data.
    """
    at = summary.loc[summary["at_as_of"].astype(bool), SERIES]
    if at.empty:
        latest = summary["latest"].max() if not summary.empty else None
        raise NoDataAtAsOf(
            f"no consumption rows at the as-of hour {as_of.isoformat()} (latest in the window: {latest}); "
            "run `feature-pipeline run --as-of` for that hour or pass an earlier --as-of"
        )
    stale = summary.loc[~summary["at_as_of"].astype(bool), SERIES]
    if not stale.empty:
        log.warning(
            "as of %s, %d series have no value at the as-of hour and are not forecast: %s",
            as_of.isoformat(),
            len(stale),
            ", ".join(f"{a}|{c}" for a, c in stale[SERIES].itertuples(index=False)),
        )
    return at.reset_index(drop=True)


def future_spine(series: pd.DataFrame, as_of: pd.Timestamp, horizon_hours: int) -> pd.DataFrame:
    """Every series × the target hours as_of+1h … as_of+horizon."""
    hours = pd.date_range(as_of + pd.Timedelta(hours=1), periods=horizon_hours, freq="h").as_unit("us")
    spine = series.merge(pd.DataFrame({"datetime_utc": hours}), how="cross")
    spine["datetime_utc"] = spine["datetime_utc"].astype(UTC_DTYPE)
    return spine


def model_input(
    store: FeatureStore,
    history: pd.DataFrame,
    series: pd.DataFrame,
    as_of: pd.Timestamp,
    horizon_hours: int,
    view: FeatureViewSpec = ENERGY_FORECASTING_VIEW,
    table_versions: dict[str, int] | None = None,
) -> pd.DataFrame:
    """`history` of `series` (label present) followed by their future rows (label null), sorted by
    series then time: the frame the champion forecasts from (the future's features read at
    `table_versions` when given)."""
    history = history.merge(series[SERIES], on=SERIES, how="inner")
    spine = future_spine(series[SERIES], as_of, horizon_hours)
    future = store.read_view(view, spine=spine, table_versions=table_versions)
    label = view.label or "energy_consumption_kwh"
    future[label] = pd.Series(float("nan"), index=future.index, dtype="float64")
    frame = pd.concat([history, future[history.columns]], ignore_index=True)
    return frame.sort_values([*SERIES, "datetime_utc"], kind="stable").reset_index(drop=True)


def build_model_input(
    store: FeatureStore,
    as_of: pd.Timestamp,
    history_hours: int,
    horizon_hours: int,
    view: FeatureViewSpec = ENERGY_FORECASTING_VIEW,
) -> pd.DataFrame:
    """The model input for every series with a value at the as-of hour."""
    history = read_history(store, as_of, history_hours, view)
    return model_input(store, history, series_at(series_summary(history, as_of), as_of), as_of, horizon_hours, view)
