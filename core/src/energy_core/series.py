"""The series catalogue and its hierarchy: which series exist is learned from the data, not declared.

A series is the pair (`area`, `consumer_type`) (see `schemas.AREA_PATTERN` and
`schemas.CONSUMER_TYPE_PATTERN`). Series form a small tree, country -> area total -> leaf:

- a **leaf** is what a source measures (a DE35 consumer type in DK1, a region's consumer category,
  a user's series from a file) and lives in `energy_consumption`;
- an **area total** (`DK1|total`) exists for an area with at least two leaves;
- a **country total** (`DK|total`) exists for a country with at least two areas that have leaves.
  A leaf whose area has a single leaf hangs directly under the country total (no one-child total).

Parents are never measured: their actuals and forecasts are *bottom-up* sums of their leaves
(`bottom_up`), so totals add up by construction. The rule lives here once; the feature pipeline
applies it to actuals and batch prediction to forecasts.

Why sum quantiles for the intervals of a total: the quantile of a sum equals the sum of the
quantiles when the parts move together (comonotonic), which is close to true for load series that
share weather and calendar; for independent parts it gives a wider, conservative band. The width
is therefore an upper bound, and monitoring measures the totals' real coverage like any series.
"""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from energy_core.schemas import AREA_LABELS, SERIES, TOTAL, UTC_DTYPE, series_id, split_series_id

if TYPE_CHECKING:
    from energy_core.feature_store.base import FeatureStore

LEAF, AREA, COUNTRY = "leaf", "area", "country"
COUNTRY_LABELS: dict[str, str] = {"DK": "Denmark"}


@dataclass(frozen=True)
class SeriesInfo:
    """What a source knows about one series when it first sees it."""

    area: str
    consumer_type: str
    label: str
    source_dataset: str
    level: str = LEAF
    parent_id: str | None = None
    unit: str = "kWh"
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return series_id(self.area, self.consumer_type)


_TRANSLITERATE = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "ae", "Ø": "oe", "Å": "aa", "ß": "ss"})


def slug(text: str) -> str:
    """A key-safe form of a human name: `Offentlige foretagender` -> `offentlige-foretagender`.

    Danish letters are transliterated the Danish way (æ -> ae), other accents dropped, anything
    else that is not a letter or digit becomes one '-'.
    """
    ascii_text = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE)).encode("ascii", "ignore").decode()
    out: list[str] = []
    for ch in ascii_text.lower():
        if ch.isalnum():
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


def with_totals(
    leaves: Sequence[SeriesInfo],
    area_country: Mapping[str, str],
    country_labels: Mapping[str, str] | None = None,
    area_labels: Mapping[str, str] | None = None,
) -> list[SeriesInfo]:
    """The leaves with their parent filled in, followed by the area and country totals they imply.

    `area_country` maps an area to its country (DK1 -> DK); an area without a country has no
    country total above it. The source dataset of a total is its leaves' (joined when mixed).
    """
    country_labels = {**COUNTRY_LABELS, **(country_labels or {})}
    area_labels = {**AREA_LABELS, **(area_labels or {})}
    by_area: dict[str, list[SeriesInfo]] = defaultdict(list)
    for leaf in leaves:
        by_area[leaf.area].append(leaf)
    areas_by_country: dict[str, list[str]] = defaultdict(list)
    for area in sorted(by_area):
        if area in area_country:
            areas_by_country[area_country[area]].append(area)
    countries = {c for c, areas in areas_by_country.items() if len(areas) >= 2}

    def sources(infos: Iterable[SeriesInfo]) -> str:
        return ",".join(sorted({i.source_dataset for i in infos}))

    out: list[SeriesInfo] = []
    totals: list[SeriesInfo] = []
    for area in sorted(by_area):
        country = area_country.get(area)
        country_parent = series_id(country, TOTAL) if country in countries else None
        has_area_total = len(by_area[area]) >= 2
        leaf_parent = series_id(area, TOTAL) if has_area_total else country_parent
        for leaf in sorted(by_area[area], key=lambda i: i.consumer_type):
            out.append(replace(leaf, parent_id=leaf_parent, level=LEAF))
        if has_area_total:
            name = area_labels.get(area)
            label = f"{area} · all consumers" if name is None else f"{area} {name} · all consumers"
            totals.append(
                SeriesInfo(area, TOTAL, label, sources(by_area[area]), AREA, country_parent, by_area[area][0].unit)
            )
    for country in sorted(countries):
        members = [leaf for a in areas_by_country[country] for leaf in by_area[a]]
        label = f"{country_labels.get(country, country)} · all consumers"
        totals.append(SeriesInfo(country, TOTAL, label, sources(members), COUNTRY, None, members[0].unit))
    return out + totals


def empty_catalogue() -> pd.DataFrame:
    return SERIES.empty_frame()


def read_catalogue(store: FeatureStore, version: int | None = None) -> pd.DataFrame:
    """The whole catalogue (empty, with the SERIES columns, before anything was ingested), at table
    `version` when given (default: latest)."""
    if not store.exists(SERIES):
        return empty_catalogue()
    return store.read(SERIES, version=version)


def catalogue_update(
    existing: pd.DataFrame, infos: Sequence[SeriesInfo], seen: pd.DataFrame, now: datetime
) -> tuple[pd.DataFrame, list[str]]:
    """Catalogue rows to upsert for `infos`, and the ids of series the catalogue did not know.

    `seen` holds the leaf rows observed (`area`, `consumer_type`, `datetime_utc`). An existing entry
    keeps its `registered_at` (its event time, so the upsert updates it in place); first/last seen
    only widen. A parent's first/last seen span its leaves'.
    """
    known = {series_id(str(a), str(c)): row for a, c, row in zip(
        existing["area"], existing["consumer_type"], existing.to_dict("records"), strict=True
    )}
    leaf_span: dict[str, tuple[pd.Timestamp, pd.Timestamp]] = {}
    if not seen.empty:
        spans = seen.groupby(["area", "consumer_type"], observed=True)["datetime_utc"].agg(["min", "max"])
        for (area, ctype), lo, hi in zip(spans.index, spans["min"], spans["max"], strict=True):
            leaf_span[series_id(str(area), str(ctype))] = (lo, hi)
    parent_of = {i.id: i.parent_id for i in infos}
    span: dict[str, tuple[pd.Timestamp, pd.Timestamp]] = dict(leaf_span)
    for sid, (lo, hi) in leaf_span.items():
        parent = parent_of.get(sid)
        while parent is not None:
            old = span.get(parent)
            span[parent] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
            parent = parent_of.get(parent)
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    rows: list[dict[str, Any]] = []
    new_ids: list[str] = []
    for info in infos:
        before = known.get(info.id)
        first, last = span.get(info.id, (pd.NaT, pd.NaT))
        if before is None:
            new_ids.append(info.id)
            registered = now_ts
        else:
            registered = before["registered_at"]
            first = _widen(before["first_seen_utc"], first, min)
            last = _widen(before["last_seen_utc"], last, max)
        rows.append(
            {
                "registered_at": registered,
                "area": info.area,
                "consumer_type": info.consumer_type,
                "level": info.level,
                "parent_id": info.parent_id,
                "label": info.label,
                "unit": info.unit,
                "source_dataset": info.source_dataset,
                "first_seen_utc": first,
                "last_seen_utc": last,
                "status": "active",
                "attributes": json.dumps(dict(info.attributes), ensure_ascii=False, sort_keys=True)
                if info.attributes
                else None,
            }
        )
    frame = pd.DataFrame(rows, columns=list(SERIES.columns)) if rows else empty_catalogue()
    for col in ("registered_at", "first_seen_utc", "last_seen_utc"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype(UTC_DTYPE)
    for col in SERIES.columns:
        if str(SERIES.columns[col].dtype) == "string[python]":
            frame[col] = frame[col].astype("string")
    return frame, new_ids


def _widen(old: Any, new: Any, pick: Any) -> Any:
    if pd.isna(old):
        return new
    if pd.isna(new):
        return old
    return pick(old, new)


def ancestors(catalogue: pd.DataFrame) -> dict[str, list[str]]:
    """Every series id -> its ancestors' ids, nearest first (empty for a root)."""
    parent = {
        series_id(str(a), str(c)): (None if pd.isna(p) else str(p))
        for a, c, p in zip(catalogue["area"], catalogue["consumer_type"], catalogue["parent_id"], strict=True)
    }
    out: dict[str, list[str]] = {}
    for sid in parent:
        chain: list[str] = []
        node = parent[sid]
        while node is not None and node not in chain:
            chain.append(node)
            node = parent.get(node)
        out[sid] = chain
    return out


def bottom_up(
    frame: pd.DataFrame,
    catalogue: pd.DataFrame,
    value_columns: Sequence[str],
    keys: Sequence[str] = ("datetime_utc",),
) -> pd.DataFrame:
    """Sum leaf rows into every ancestor the catalogue gives them.

    `frame` has `area`, `consumer_type`, the `keys` columns and `value_columns` for leaves. Returns
    one row per (ancestor, keys) with the summed values and `leaf_count`; a missing value in any
    summed leaf makes that sum missing (never a silently smaller total).
    """
    columns = ["area", "consumer_type", *keys, *value_columns, "leaf_count"]
    chains = ancestors(catalogue)
    if frame.empty or not chains:
        return _empty_totals(frame, columns)
    ids = frame["area"].astype(str) + "|" + frame["consumer_type"].astype(str)
    parent_lists = ids.map(lambda s: chains.get(s, []))
    exploded = frame.assign(_parent=parent_lists).explode("_parent")
    exploded = exploded[exploded["_parent"].notna()]
    if exploded.empty:
        return _empty_totals(frame, columns)
    grouped = exploded.groupby(["_parent", *keys], observed=True, sort=True)
    sums = grouped[list(value_columns)].sum(min_count=1)
    complete = grouped[list(value_columns)].count().eq(grouped.size(), axis=0)
    sums = sums.where(complete)
    sums["leaf_count"] = grouped.size().astype("int64")
    out = sums.reset_index()
    parts = out["_parent"].map(split_series_id)
    out.insert(0, "area", parts.map(lambda p: p[0]).astype("string"))
    out.insert(1, "consumer_type", parts.map(lambda p: p[1]).astype("string"))
    return out.drop(columns="_parent")[columns].reset_index(drop=True)


def _empty_totals(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({c: frame[c].iloc[:0] if c in frame.columns else pd.Series(dtype="int64") for c in columns})
    out["area"] = out["area"].astype("string")
    out["consumer_type"] = out["consumer_type"].astype("string")
    return out


def expected_leaf_counts(catalogue: pd.DataFrame, parents: pd.Series, at: pd.Series) -> pd.Series:
    """How many leaves the catalogue knows under each parent at each time (first_seen <= t <= last_seen).

    A total is complete when its leaf_count reaches this; anything less is a partial sum, which the
    callers drop instead of presenting as the total.
    """
    chains = ancestors(catalogue)
    leaves = catalogue[catalogue["level"] == LEAF]
    spans: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = defaultdict(list)
    for a, c, lo, hi in zip(
        leaves["area"], leaves["consumer_type"], leaves["first_seen_utc"], leaves["last_seen_utc"], strict=True
    ):
        if pd.isna(lo) or pd.isna(hi):
            continue
        for parent in chains.get(series_id(str(a), str(c)), []):
            spans[parent].append((lo, hi))
    counts = [
        sum(1 for lo, hi in spans.get(str(p), []) if lo <= t <= hi)
        for p, t in zip(parents, at, strict=True)
    ]
    return pd.Series(counts, index=parents.index, dtype="int64")


def complete_totals(totals: pd.DataFrame, catalogue: pd.DataFrame, time_column: str = "datetime_utc") -> pd.DataFrame:
    """Only the total rows whose leaf_count covers every leaf known under that parent at `time_column`.

    Forecasts pass `forecast_made_at`: a parent forecast is complete when every leaf known at the
    forecast origin was forecast.
    """
    if totals.empty:
        return totals
    parents = totals["area"].astype(str) + "|" + totals["consumer_type"].astype(str)
    expected = expected_leaf_counts(catalogue, parents, totals[time_column])
    return totals[totals["leaf_count"].to_numpy() >= expected.to_numpy()].reset_index(drop=True)


def labels(catalogue: pd.DataFrame) -> dict[str, str]:
    """Series id -> label, for readers that show series to people."""
    return {
        series_id(str(a), str(c)): str(label)
        for a, c, label in zip(catalogue["area"], catalogue["consumer_type"], catalogue["label"], strict=True)
    }
