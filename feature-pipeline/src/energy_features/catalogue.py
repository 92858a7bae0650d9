"""The series catalogue and the parent totals a batch implies, computed before anything is written.

Why here and not in the transform: which series exist is learned across runs (the `series` group),
and a total depends on every leaf *stored* for its hour, not only on the leaves in this batch. So
this step reads the catalogue and the stored leaves of the hours the batch touches, and returns:

- the catalogue rows to upsert (new series admitted with a warning; known ones keep their
  `registered_at`, their first/last seen only widen);
- the `energy_consumption_totals` rows for every touched hour, summed bottom-up from the leaves as
  they will be stored after this batch (so a revised leaf revises its totals), and only for hours
  where every leaf the catalogue knows under that parent has a value (otherwise: an honest gap).

Pure functions of frames; the pipeline does the reading and writing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from energy_core.schemas import ENERGY_CONSUMPTION, ENERGY_CONSUMPTION_TOTALS, UTC_DTYPE, split_series_id
from energy_core.series import COUNTRY, LEAF, SeriesInfo, bottom_up, catalogue_update, complete_totals, with_totals
from energy_features.transform.consumption import ConsumptionBatch

log = logging.getLogger(__name__)

VALUE = "energy_consumption_kwh"


@dataclass(frozen=True)
class SeriesPlan:
    """What the catalogue and the totals become once this batch is stored."""

    catalogue_rows: pd.DataFrame  # SERIES rows to upsert (identical rows are skipped by the store)
    catalogue: pd.DataFrame  # the whole catalogue after the upsert
    new_series: list[str]  # ids the catalogue did not know before
    totals: pd.DataFrame  # ENERGY_CONSUMPTION_TOTALS rows for the touched hours


def plan_series(
    batch: ConsumptionBatch, existing: pd.DataFrame, stored_leaves: pd.DataFrame, now: datetime
) -> SeriesPlan:
    """Catalogue update and totals for `batch`, given the catalogue and the stored leaves.

    `stored_leaves` must hold at least every stored leaf row of the hours in `batch.leaves`.
    """
    leaves = {info.id: info for info in _leaves_of(existing)}
    leaves.update({info.id: info for info in batch.series})
    geography = {**areas_of(existing), **batch.area_country}
    infos = with_totals(list(leaves.values()), geography)
    seen = batch.leaves[["area", "consumer_type", "datetime_utc"]].dropna()
    rows, new_ids = catalogue_update(existing, infos, seen, now)
    catalogue = _upserted(existing, rows)
    if new_ids:
        shown = ", ".join(new_ids[:20]) + (f", ... ({len(new_ids) - 20} more)" if len(new_ids) > 20 else "")
        log.warning(
            "admitted %d series never seen before to the catalogue (source %s): %s",
            len(new_ids), ",".join(sorted({i.source_dataset for i in batch.series})) or "-", shown,
        )  # fmt: skip
    totals = totals_for(batch.leaves, stored_leaves, catalogue)
    return SeriesPlan(rows, catalogue, new_ids, totals)


def totals_for(batch_leaves: pd.DataFrame, stored_leaves: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Bottom-up totals for every hour in `batch_leaves`, over the leaves as stored after the batch."""
    if batch_leaves.empty:
        return ENERGY_CONSUMPTION_TOTALS.empty_frame()
    hours = batch_leaves["datetime_utc"].dropna().unique()
    key = list(ENERGY_CONSUMPTION.key)
    stored = stored_leaves[stored_leaves["datetime_utc"].isin(hours)]
    merged = pd.concat([batch_leaves[list(ENERGY_CONSUMPTION.columns)], stored[list(ENERGY_CONSUMPTION.columns)]])
    merged = merged.drop_duplicates(subset=key, keep="first")  # the batch's value wins over the stored one
    totals = bottom_up(merged, catalogue, [VALUE])
    totals = complete_totals(totals, _expected_through(catalogue, pd.DatetimeIndex(hours)))
    totals = totals.dropna(subset=[VALUE])
    times = totals["datetime_utc"]
    # tz-aware times are converted directly: pd.to_datetime samples a Series element by element first
    times = (
        times.dt.tz_convert("UTC") if isinstance(times.dtype, pd.DatetimeTZDtype) else pd.to_datetime(times, utc=True)
    )
    out = pd.DataFrame(
        {
            "datetime_utc": times.astype(UTC_DTYPE),
            "area": totals["area"].astype("string"),
            "consumer_type": totals["consumer_type"].astype("string"),
            VALUE: totals[VALUE].astype("float64"),
            "leaf_count": totals["leaf_count"].astype("int64"),
        }
    )
    return out.sort_values(list(ENERGY_CONSUMPTION_TOTALS.key), kind="stable").reset_index(drop=True)


def _expected_through(catalogue: pd.DataFrame, hours: pd.DatetimeIndex) -> pd.DataFrame:
    """The catalogue as completeness sees it for these hours.

    A leaf counts as expected from its first seen hour while it is reported. A leaf reported in or
    after these hours whose last value is simply not published yet (its last seen is before the
    batch's last hour) is still expected up to that hour: otherwise a total of the leaves that did
    arrive would be written as if it were complete.
    """
    if catalogue.empty or len(hours) == 0:
        return catalogue
    first, last = hours.min(), hours.max()
    out = catalogue.copy()
    is_leaf = out["level"] == LEAF
    active = is_leaf & out["last_seen_utc"].notna() & (out["last_seen_utc"] >= first)
    out.loc[active, "last_seen_utc"] = out.loc[active, "last_seen_utc"].where(
        out.loc[active, "last_seen_utc"] >= last, last
    )
    return out


def areas_of(catalogue: pd.DataFrame) -> dict[str, str]:
    """The geography (area -> country) already recorded in the catalogue's parent links."""
    if catalogue.empty:
        return {}
    level = dict(zip(catalogue["area"] + "|" + catalogue["consumer_type"], catalogue["level"], strict=True))
    out: dict[str, str] = {}
    for area, parent in zip(catalogue["area"], catalogue["parent_id"], strict=True):
        if isinstance(parent, str) and level.get(parent) == COUNTRY:
            out[str(area)] = split_series_id(parent)[0]
    return out


def _leaves_of(catalogue: pd.DataFrame) -> list[SeriesInfo]:
    leaves = catalogue[catalogue["level"] == LEAF]
    return [
        SeriesInfo(
            area=str(row["area"]),
            consumer_type=str(row["consumer_type"]),
            label=str(row["label"]),
            source_dataset=str(row["source_dataset"]),
            unit=str(row["unit"]),
            attributes=_attributes(row["attributes"]),
        )
        for row in leaves.to_dict("records")
    ]


def _attributes(text: object) -> Mapping[str, str]:
    if not isinstance(text, str) or not text:
        return {}
    value = json.loads(text)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _upserted(existing: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    if existing.empty:
        return rows.reset_index(drop=True)
    ids = set(rows["area"] + "|" + rows["consumer_type"])
    kept = existing[~(existing["area"] + "|" + existing["consumer_type"]).isin(ids)]
    return pd.concat([kept, rows], ignore_index=True)
