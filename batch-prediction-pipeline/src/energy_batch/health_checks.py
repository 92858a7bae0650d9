"""Step 3 of monitor: measure drift and recent error for the alert checks.

The reference distribution is the champion's own training dataset, re-read through its lineage at
the pinned table versions, so "drift" means "different from what this model learned on", not from
whatever the store holds today. Re-reading it costs a view materialisation, hence the cache.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_batch.aggregates import wape
from energy_batch.alerts import Check, drift_checks, error_check
from energy_batch.drift import feature_drift
from energy_batch.forecast_errors import leaf_rows
from energy_batch.settings import BatchSettings
from energy_core.feature_store import FeatureStore, FeatureStoreError
from energy_core.registry import ModelVersionInfo
from energy_core.schemas import ENERGY_FORECASTING_VIEW, MONITORING, FeatureViewSpec
from energy_core.settings import AlertSettings

log = logging.getLogger(__name__)

ReferenceCache = dict[tuple[str, int], pd.DataFrame]


@dataclass(frozen=True)
class ScoredLeaves:
    """Monitoring rows of every target hour from `first_hour` to the as-of hour, as stored, and
    which of them are leaf rows (`leaf`; None: all), so a caller need not copy the leaves out."""

    rows: pd.DataFrame
    first_hour: pd.Timestamp
    leaf: np.ndarray | None = None


def training_reference(
    store: FeatureStore, champion: ModelVersionInfo, cache: ReferenceCache, view: FeatureViewSpec
) -> pd.DataFrame | None:
    """The champion's training dataset (all splits), or None when its lineage cannot be followed."""
    lineage = champion.lineage
    if lineage is None:
        return None
    key = (view.name, lineage.training_dataset_version)
    if key not in cache:
        try:
            cache[key] = store.read_training_dataset(view, lineage.training_dataset_version).all
        except FeatureStoreError as exc:
            log.warning("cannot read champion v%d's training dataset: %s", champion.version, exc)
            return None
    return cache[key]


def run_checks(
    store: FeatureStore,
    champion: ModelVersionInfo | None,
    as_of: pd.Timestamp,
    settings: BatchSettings,
    thresholds: AlertSettings,
    cache: ReferenceCache,
    view: FeatureViewSpec = ENERGY_FORECASTING_VIEW,
    table_versions: dict[str, int] | None = None,
    scored: ScoredLeaves | None = None,
) -> list[Check]:
    """Drift checks (one per float feature) and the error-ratio check, as of `as_of`; the drift
    window's features at `table_versions` when given (see `pipeline.monitor`).

    `scored`: the leaf monitoring rows monitor has just computed and stored, with the first target
    hour they cover. When they cover the error window, the error check takes its rows from them
    instead of reading back what was just written (they are the stored rows of those hours)."""
    end = (as_of + pd.Timedelta(hours=1)).to_pydatetime()
    if champion is None:
        return [Check("champion", "warn", None, None, "no champion in the registry: nothing to compare")]

    reference = training_reference(store, champion, cache, view)
    checks: list[Check] = []
    if reference is None:
        checks.append(
            Check("psi:training_dataset", "warn", None, None,
                  f"champion v{champion.version} has no readable training dataset lineage")
        )
    else:
        start = (as_of - pd.Timedelta(hours=settings.drift_window_hours - 1)).to_pydatetime()
        recent = store.read_view(view, start=start, end=end, table_versions=table_versions)
        drifts = feature_drift(view, reference, recent, settings.min_drift_values)
        version = champion.lineage.training_dataset_version if champion.lineage else None
        checks.extend(drift_checks(drifts, thresholds, version))

    start = as_of - pd.Timedelta(hours=settings.error_window_hours - 1)
    # leaves only, like the backtest it is compared with (totals would count every kWh again)
    recent_errors: pd.DataFrame | None
    if scored is not None and scored.first_hour <= start:
        rows = scored.rows
        recent = ((rows["datetime_utc"] >= start) & (rows["datetime_utc"] < end)).to_numpy(dtype=bool)
        recent_errors = rows[recent & scored.leaf if scored.leaf is not None else recent]
    elif store.exists(MONITORING):
        recent_errors = leaf_rows(store.read(MONITORING, start=start.to_pydatetime(), end=end))
    else:
        recent_errors = None
    known = 0 if recent_errors is None else int((~recent_errors["actual_missing"]).sum())
    recent_wape = None if recent_errors is None else wape(recent_errors)
    checks.append(
        error_check(recent_wape, known, champion.metrics.get("backtest_wape"), thresholds, settings.min_error_count)
    )
    return checks
