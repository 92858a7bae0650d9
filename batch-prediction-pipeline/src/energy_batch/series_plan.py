"""Step 1 of predict: which series to forecast, and by what (the catalogue and cold start).

The series come from the catalogue (`series` group, written by the feature pipeline): every leaf
first seen at or before the as-of hour. A store written before the catalogue existed has no such
group; then the leaves are the distinct series of `energy_consumption` (logged), and no parent
totals can be formed because nothing records the hierarchy.

Each leaf with a value at the as-of hour is routed by its history (hours from its first value in
the read window through the as-of hour):

- **model**: the champion trained on it and it has the history the champion's lags need;
- **seasonal_naive_24**: at least 24 h of history, but too little for the champion or a series the
  champion never saw (until the next training includes it). A batch never fails for such a series;
- **none**: under 24 h, not even yesterday's value exists for every target hour. Recorded with the
  reason, like a series without a value at the as-of hour.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from energy_batch.model_input import SERIES, series_at, series_summary
from energy_batch.model_needs import ModelNeeds
from energy_core.feature_store import FeatureStore
from energy_core.schemas import ENERGY_CONSUMPTION, UTC_DTYPE, series_id, split_series_id
from energy_core.schemas import SERIES as SERIES_GROUP
from energy_core.series import LEAF, read_catalogue

log = logging.getLogger(__name__)

NAIVE_FAMILY = "seasonal_naive_24"
MIN_NAIVE_HISTORY_HOURS = 24


@dataclass(frozen=True)
class SeriesNote:
    """Why one series is not forecast by the champion (cold start) or not forecast at all."""

    series_id: str
    hours_of_history: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SeriesPlan:
    """The leaves of one as-of hour, split by what forecasts them (frames of area, consumer_type)."""

    model: pd.DataFrame
    naive: pd.DataFrame
    cold_start: list[SeriesNote]
    not_forecast: list[SeriesNote]


@dataclass(frozen=True)
class Catalogue:
    """The catalogue as predict uses it; `from_group` is False for the fallback built from the data."""

    frame: pd.DataFrame
    from_group: bool

    def leaves_at(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """Leaves (area, consumer_type) whose first value is at or before `as_of`."""
        cat = self.frame
        first = cat["first_seen_utc"]
        known = (cat["level"] == LEAF) & first.notna() & (first <= as_of)
        return cat.loc[known, SERIES].drop_duplicates().sort_values(SERIES).reset_index(drop=True)


def read_forecast_catalogue(
    store: FeatureStore, as_of: pd.Timestamp, table_versions: dict[str, int] | None = None
) -> Catalogue:
    """The `series` catalogue, or (old store) a leaves-only stand-in from `energy_consumption`; at
    `table_versions` when given (a table not among them had not been written then)."""
    pins = table_versions or {}
    written = SERIES_GROUP.table_name in pins if table_versions is not None else store.exists(SERIES_GROUP)
    if written:
        return Catalogue(read_catalogue(store, pins.get(SERIES_GROUP.table_name)), True)
    log.warning(
        "the series catalogue (feature group %r) has never been written: forecasting the distinct series of %r "
        "instead, without parent totals; run the feature pipeline to build the catalogue",
        SERIES_GROUP.name, ENERGY_CONSUMPTION.name,
    )  # fmt: skip
    end = (as_of + pd.Timedelta(hours=1)).to_pydatetime()
    seen = store.read(ENERGY_CONSUMPTION, end=end, columns=[*SERIES, "datetime_utc"],
                      version=pins.get(ENERGY_CONSUMPTION.table_name))  # fmt: skip
    spans = seen.groupby(SERIES, observed=True)["datetime_utc"].agg(["min", "max"]).reset_index()
    frame = pd.DataFrame(
        {
            "area": spans["area"].astype("string"),
            "consumer_type": spans["consumer_type"].astype("string"),
            "level": pd.Series(LEAF, index=spans.index, dtype="string"),
            "parent_id": pd.Series(pd.NA, index=spans.index, dtype="string"),
            "first_seen_utc": spans["min"].astype(UTC_DTYPE),
            "last_seen_utc": spans["max"].astype(UTC_DTYPE),
        }
    ).reindex(columns=list(SERIES_GROUP.columns))
    return Catalogue(frame, False)


def hours_of_history(summary: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, int]:
    """Series id -> hours from its first labelled hour in the window through `as_of` (inclusive),
    from a `series_summary` (a series without any labelled hour is left out)."""
    first = summary[summary["first_known"].notna()]
    return {
        series_id(str(a), str(c)): int((as_of - t) / pd.Timedelta(hours=1)) + 1
        for a, c, t in first[[*SERIES, "first_known"]].itertuples(index=False)
    }


def plan_series(
    history: pd.DataFrame,
    leaves: pd.DataFrame,
    as_of: pd.Timestamp,
    needs: ModelNeeds,
    model_label: str,
    label: str = "energy_consumption_kwh",
) -> SeriesPlan:
    """Route every catalogue leaf in `history` to the model, the naive fallback or nothing.

    `history` is the feature view up to `as_of`; `leaves` the catalogue's leaves. Raises
    NoDataAtAsOf (via `series_at`) when no leaf has a value at the as-of hour.
    """
    summary = series_summary(history, as_of, label)
    matched = summary.merge(leaves[SERIES].drop_duplicates(), on=SERIES, how="left", indicator=True)
    outside = matched[matched["_merge"] == "left_only"]
    if not outside.empty:
        log.warning(
            "%d series in %s are not leaves of the catalogue and are not forecast: %s",
            len(outside), ENERGY_CONSUMPTION.name,
            ", ".join(series_id(str(a), str(c)) for a, c in outside[SERIES].head(20).itertuples(index=False)),
        )  # fmt: skip
    in_catalogue = matched[matched["_merge"] == "both"].drop(columns="_merge").reset_index(drop=True)
    at = series_at(in_catalogue, as_of)
    hours = hours_of_history(in_catalogue, as_of)
    at_ids = {series_id(str(a), str(c)) for a, c in at.itertuples(index=False)}

    not_forecast = [
        SeriesNote(sid, hours[sid], "no value at the as-of hour")
        for sid in sorted(set(hours) - at_ids)
    ]
    model_ids: list[str] = []
    naive_ids: list[str] = []
    cold_start: list[SeriesNote] = []
    for sid in sorted(at_ids):
        h = hours[sid]
        if h < MIN_NAIVE_HISTORY_HOURS:
            not_forecast.append(
                SeriesNote(sid, h, f"{h} h of history; the {NAIVE_FAMILY} fallback needs {MIN_NAIVE_HISTORY_HOURS} h")
            )
        elif not needs.knows(sid):
            dataset = f" (dataset #{needs.training_dataset_version})" if needs.training_dataset_version else ""
            naive_ids.append(sid)
            cold_start.append(
                SeriesNote(sid, h, f"not in the training data of {model_label}{dataset}; {NAIVE_FAMILY} until the "
                                   "next training includes it")
            )
        elif h < needs.history_hours:
            naive_ids.append(sid)
            cold_start.append(
                SeriesNote(sid, h, f"{h} h of history; {model_label} needs {needs.history_hours} h; {NAIVE_FAMILY} "
                                   "until then")
            )
        else:
            model_ids.append(sid)
    for note in not_forecast:
        if note.reason != "no value at the as-of hour":
            log.warning("as of %s, %s is not forecast: %s", as_of.isoformat(), note.series_id, note.reason)
    for note in cold_start:
        log.info("as of %s, %s is forecast by %s: %s", as_of.isoformat(), note.series_id, NAIVE_FAMILY, note.reason)
    return SeriesPlan(_frame(model_ids), _frame(naive_ids), cold_start, not_forecast)


def _frame(ids: list[str]) -> pd.DataFrame:
    pairs = [split_series_id(sid) for sid in ids]
    return pd.DataFrame(
        {
            "area": pd.Series([p[0] for p in pairs], dtype="string"),
            "consumer_type": pd.Series([p[1] for p in pairs], dtype="string"),
        }
    )
