"""Validate every group's batch before any write; quarantine a rejected batch whole.

Two layers of rules, one error:
- core's pandera rules (`energy_core.feature_store.relational.validate_batch`, the very function the
  store applies on insert, so the pipeline and every backend never disagree): dtypes, key
  patterns, the reserved `total` key, kWh >= 0, one value per key and hour;
- the rules about series that need the source's geography and the stored history, which a single
  batch cannot check on its own: `known_region` / `required_category` (rows the transform could
  not place), `known_parent` (a leaf's area has no known country), `known_unit` (a series' unit is
  kWh, the same as in the catalogue) and `implausible_jump` (a value above 10x the series' own
  maximum over the previous 28 days of stored history, when it has at least 48 hours of it).

Validating here is about *order*: a run writes several groups, and a bad batch in any of them must
stop the run before anything reaches the store. The rejected batch and its failures go to
ENERGY_HOME/quarantine/ for a person to inspect; the error (core's FeatureValidationError) names
each broken rule with its column, row and value.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from energy_core.feature_store import FeatureValidationError, ValidatedBatch
from energy_core.feature_store.relational import validated
from energy_core.schemas import FeatureGroupSpec
from energy_features.quarantine import quarantine_batch
from energy_features.transform.consumption import PROBLEM_COLUMNS, ConsumptionBatch

log = logging.getLogger(__name__)

JUMP_FACTOR = 10.0
JUMP_LOOKBACK = timedelta(days=28)
JUMP_MIN_HISTORY_HOURS = 48
UNIT = "kWh"


def validate_or_quarantine(
    batches: Sequence[tuple[FeatureGroupSpec, pd.DataFrame]],
    quarantine_dir: Path,
    now: datetime,
    label: str,
    extra_failures: dict[str, pd.DataFrame] | None = None,
) -> list[ValidatedBatch]:
    """Every batch as validated (in order) if all are valid; else quarantine the first bad one and raise.

    `extra_failures` adds, per group name, failures of rules checked outside the schema (same
    columns: rule, column, row, value); they reject the batch exactly like a schema rule. The
    validated batches go to the store as they are, which then does not run the schema again.
    """
    extra_failures = extra_failures or {}
    passed: list[ValidatedBatch] = []
    for spec, frame in batches:
        failures = [f for f in [extra_failures.get(spec.name)] if f is not None and not f.empty]
        try:
            batch = validated(spec, frame)
        except FeatureValidationError as exc:
            failures.insert(0, exc.failures)
        if not failures:
            passed.append(batch)
            continue
        merged = pd.concat(failures, ignore_index=True)
        rows = [r for r in merged["row"].dropna().unique() if r in frame.index]
        error = FeatureValidationError(spec.name, merged, frame.loc[rows])
        folder = quarantine_batch(quarantine_dir, spec.name, frame, merged, str(error), now, label)
        log.error("%s batch rejected, nothing written; quarantined in %s\n%s", spec.name, folder, error)
        raise error
    return passed


def series_failures(batch: ConsumptionBatch, catalogue: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Failures of the series rules for a consumption batch (empty when it passes).

    `history` holds stored leaf rows of at least the 28 days before the batch's hours.
    """
    parts = [
        batch.problems,
        _unknown_parents(batch),
        _wrong_units(batch, catalogue),
        implausible_jumps(batch.leaves, history),
    ]
    return pd.concat([p for p in parts if not p.empty] or [_no_failures()], ignore_index=True)


def _unknown_parents(batch: ConsumptionBatch) -> pd.DataFrame:
    leaves = batch.leaves
    bad = leaves["area"].notna() & ~leaves["area"].isin(list(batch.area_country))
    return _failures("known_parent", "area", leaves.loc[bad, "area"])


def _wrong_units(batch: ConsumptionBatch, catalogue: pd.DataFrame) -> pd.DataFrame:
    known = dict(zip(catalogue["area"] + "|" + catalogue["consumer_type"], catalogue["unit"], strict=True))
    bad_ids = {
        info.id: info.unit
        for info in batch.series
        if info.unit != UNIT or (info.id in known and known[info.id] != info.unit)
    }
    if not bad_ids:
        return _no_failures()
    ids = batch.leaves["area"].astype(str) + "|" + batch.leaves["consumer_type"].astype(str)
    units = ids[ids.isin(list(bad_ids))].map(bad_ids)
    return _failures("known_unit", "unit", units)


# An hourly ingest judges one hour; a batch of at most this many distinct hours is judged hour by
# hour against its own 28-day window, a longer one (a backfill chunk) in one rolling pass. Both are
# the fallbacks (and the tests' oracles) of the grid path, which whole-hour data always takes.
_FEW_JUMP_HOURS = 24
_GRID_CELLS = 20_000_000  # hours x series of the grid path's arrays; beyond it, the pandas paths


def implausible_jumps(leaves: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Rows whose value exceeds JUMP_FACTOR x the series' max over the previous 28 days stored.

    Only series with at least JUMP_MIN_HISTORY_HOURS stored hours in that window are judged: a
    young series has no "own history" to be implausible against. The window of a batch hour t is
    [t - 28 days, t): never the hour itself. The feature worker runs this every simulated hour on a
    49-hour batch (the new hour and the 48 re-read ones) against 28 days x 76 series of history,
    so it works on integer codes and an hours x series array (`_windows_on_grid`, half the cost of
    the rolling pandas pass it replaced, which cost ~10 % of an hourly ingest); time stamps that
    are not whole hours, or a span too long for the array, take the pandas paths.
    """
    value = "energy_consumption_kwh"
    if leaves.empty or history.empty or leaves[value].dtype != "float64":
        return _no_failures()
    usable = (history["datetime_utc"].notna() & history[value].notna()).to_numpy()
    stored = history if usable.all() else history[usable]
    if stored.empty:
        return _no_failures()
    rows = leaves[leaves["datetime_utc"].notna()]
    stored_code, row_code = _series_codes(stored, rows)
    known = row_code >= 0
    rows, row_code = rows[known], row_code[known]
    if rows.empty:
        return _no_failures()
    windows = _windows_on_grid(stored, stored_code, rows, row_code, value)
    if windows is None:
        stored_key = stored["area"].astype(str) + "|" + stored["consumer_type"].astype(str)
        row_key = rows["area"].astype(str) + "|" + rows["consumer_type"].astype(str)
        few = rows["datetime_utc"].nunique() <= _FEW_JUMP_HOURS
        paths = _windows_hour_by_hour if few else _windows_rolling
        windows = paths(stored, stored_key, rows, row_key, value)
    limit, judged = windows
    old_enough = np.bincount(stored_code)[row_code] >= JUMP_MIN_HISTORY_HOURS
    bad = old_enough & judged & (rows[value].to_numpy() > limit * JUMP_FACTOR)
    if not bad.any():
        return _no_failures()
    return _failures("implausible_jump", value, rows.loc[bad, value])


def _series_codes(stored: pd.DataFrame, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """One integer per (area, consumer_type) pair of the stored rows (0 … n-1), and the same code
    for each batch row (-1 for a pair no stored row has, or a null part)."""
    stored_parts, row_parts = [], []
    for column in ("area", "consumer_type"):
        codes, uniques = pd.factorize(stored[column])
        stored_parts.append(codes.astype(np.int64))
        row_parts.append(pd.Index(uniques).get_indexer(rows[column].astype(uniques.dtype)))
    width = max(int(stored_parts[1].max()), 0) + 1
    pairs = np.where(
        (stored_parts[0] < 0) | (stored_parts[1] < 0), -1, stored_parts[0] * width + stored_parts[1]
    )
    codes, uniques = pd.factorize(pairs)
    row_pairs = np.where((row_parts[0] < 0) | (row_parts[1] < 0), -1, row_parts[0] * width + row_parts[1])
    row_code = pd.Index(uniques).get_indexer(row_pairs)
    row_code[row_pairs < 0] = -1
    return codes, row_code


def _hour_stamps(times: pd.Series, unit: str | None = None) -> tuple[np.ndarray, int, str]:
    """Integer stamps of `times` in `unit` (default: its own), with the length of an hour in them."""
    index = pd.DatetimeIndex(times)
    if unit is not None and index.unit != unit:
        index = index.as_unit(unit)
    return index.asi8, int(pd.Timedelta(hours=1) / pd.Timedelta(1, unit=index.unit)), index.unit


def _windows_on_grid(
    stored: pd.DataFrame, stored_code: np.ndarray, rows: pd.DataFrame, row_code: np.ndarray, value: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """`_windows_hour_by_hour` on an hours x series array: per batch row its series' max over its
    window (NaN when the window is empty) and whether the window holds at least
    JUMP_MIN_HISTORY_HOURS distinct stored hours. None when a time stamp is not a whole hour or
    the array would exceed _GRID_CELLS (the caller then takes the pandas paths)."""
    stamps, hour, unit = _hour_stamps(stored["datetime_utc"])
    row_stamps = _hour_stamps(rows["datetime_utc"], unit)[0]
    if (stamps % hour).any() or (row_stamps % hour).any():
        return None
    lookback = int(JUMP_LOOKBACK / timedelta(hours=1))
    first = int(row_stamps.min()) // hour - lookback
    hours = int(row_stamps.max()) // hour - first
    series = int(stored_code.max()) + 1
    if hours * series > _GRID_CELLS:
        return None
    at = stamps // hour - first
    inside = (at >= 0) & (at < hours)
    at, codes = at[inside], stored_code[inside]
    peak = np.full((hours, series), -np.inf)
    np.maximum.at(peak, (at, codes), stored[value].to_numpy(dtype="float64")[inside])
    present = np.zeros((hours + 1, series), dtype=np.int32)
    present[at + 1, codes] = 1  # a repeated (hour, series) counts once
    seen = present.cumsum(axis=0)
    limit = np.full(len(rows), np.nan)
    judged = np.zeros(len(rows), dtype=bool)
    row_hour = row_stamps // hour - first
    for end in np.unique(row_hour):
        start = end - lookback
        these = row_hour == end
        counts = seen[end] - seen[start]
        window = peak[start:end].max(axis=0) if end > start else np.full(series, -np.inf)
        window = np.where(counts > 0, window, np.nan)
        limit[these] = window[row_code[these]]
        judged[these] = counts[row_code[these]] >= JUMP_MIN_HISTORY_HOURS
    return limit, judged


def _windows_hour_by_hour(
    stored: pd.DataFrame, stored_key: pd.Series, rows: pd.DataFrame, row_key: pd.Series, value: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per batch row: its series' max over its window and whether the window holds at least
    JUMP_MIN_HISTORY_HOURS distinct stored hours (duplicate rows of one hour count once)."""
    codes, uniques = pd.factorize(stored_key)
    times = pd.DatetimeIndex(stored["datetime_utc"])
    values = stored[value].to_numpy(dtype="float64")
    stamps = times.asi8  # (a tz-aware column's to_numpy() would build one Timestamp object per row)
    order = np.lexsort((stamps, codes))
    repeat = (np.diff(codes[order]) == 0) & (np.diff(stamps[order]) == 0)
    once = np.ones(len(codes), dtype=bool)
    once[order[1:][repeat]] = False
    limit = np.full(len(rows), np.nan)
    judged = np.zeros(len(rows), dtype=bool)
    row_times = pd.DatetimeIndex(rows["datetime_utc"])
    row_codes = uniques.get_indexer(row_key)
    for hour in row_times.unique():
        inside = np.asarray((times >= hour - JUMP_LOOKBACK) & (times < hour))
        peak = pd.Series(values[inside]).groupby(codes[inside]).max()
        hours = np.bincount(codes[inside & once], minlength=len(uniques))
        at = np.asarray(row_times == hour)
        limit[at] = peak.reindex(row_codes[at]).to_numpy()
        judged[at] = hours[row_codes[at]] >= JUMP_MIN_HISTORY_HOURS
    return limit, judged


def _windows_rolling(
    stored: pd.DataFrame, stored_key: pd.Series, rows: pd.DataFrame, row_key: pd.Series, value: str
) -> tuple[np.ndarray, np.ndarray]:
    """`_windows_hour_by_hour` for many batch hours: one rolling window over hours x series."""
    wide = stored.groupby([stored["datetime_utc"], stored_key])[value].max().unstack()
    # The batch hours join the index with no value, so they are the evaluation points but never
    # part of their own history (the window is left-closed).
    probes = pd.DatetimeIndex(rows["datetime_utc"].unique()).difference(wide.index)
    timeline = wide.reindex(wide.index.append(probes)).sort_index()
    window = timeline.rolling(JUMP_LOOKBACK, closed="left")
    hour_at = timeline.index.get_indexer(rows["datetime_utc"])
    series_at = timeline.columns.get_indexer(row_key)
    limit = window.max().to_numpy()[hour_at, series_at]
    judged = window.count().to_numpy()[hour_at, series_at] >= JUMP_MIN_HISTORY_HOURS
    return limit, judged


def _failures(rule: str, column: str, values: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {"rule": rule, "column": column, "row": values.index, "value": values.astype(str).to_numpy()},
        columns=list(PROBLEM_COLUMNS),
    )


def _no_failures() -> pd.DataFrame:
    return pd.DataFrame(columns=list(PROBLEM_COLUMNS))
