"""Step 1: a versioned training dataset from the feature view, read back at its pinned versions.

The pipeline reads only from the feature store. Creating a dataset pins every table version, so
`--dataset-version N` later re-reads exactly the same rows (reproducible metrics).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from energy_core.feature_store import FeatureStore, Split, TrainingDatasetMeta
from energy_core.schemas import ENERGY_CONSUMPTION, ENERGY_FORECASTING_VIEW
from energy_training.protocol import Protocol, utc_hour

log = logging.getLogger(__name__)

VIEW = ENERGY_FORECASTING_VIEW
KEYS = [*VIEW.spine.primary_key, VIEW.spine.event_time]


@dataclass(frozen=True)
class TrainingFrame:
    meta: TrainingDatasetMeta
    frame: pd.DataFrame  # the view's columns, sorted by series then hour, every hour <= as_of


def latest_hour(store: FeatureStore) -> pd.Timestamp:
    """The last known hour in the store (the default as-of time)."""
    stats = store.statistics(ENERGY_CONSUMPTION)
    if stats.event_time_max is None:
        raise ValueError("the feature store holds no consumption yet; run `feature-pipeline backfill` first")
    return utc_hour(stats.event_time_max)


def create(store: FeatureStore, protocol: Protocol) -> TrainingDatasetMeta:
    """A new dataset of every hour <= as_of; the backtest window is its validation split."""
    first_backtest_hour = protocol.fit_cutoff + pd.Timedelta(hours=1)
    return store.create_training_dataset(
        VIEW,
        end=(protocol.as_of + pd.Timedelta(hours=1)).to_pydatetime(),
        split=Split(validation_start=first_backtest_hour.to_pydatetime()),
        description=f"training-pipeline as of {protocol.as_of.isoformat()}",
    )


def read(store: FeatureStore, version: int) -> TrainingFrame:
    data = store.read_training_dataset(VIEW, version)
    frame = data.all.sort_values(KEYS, kind="stable").reset_index(drop=True)
    if frame.empty:
        raise ValueError(f"training dataset #{version} of view {VIEW.name!r} has no rows")
    log.info(
        "training dataset #%d: %d rows, %s … %s, sha256 %s",
        version,
        len(frame),
        frame[VIEW.spine.event_time].min(),
        frame[VIEW.spine.event_time].max(),
        data.meta.data_sha256[:12],
    )
    return TrainingFrame(data.meta, frame)


def dataset_as_of(meta: TrainingDatasetMeta) -> pd.Timestamp:
    """The as-of time a dataset was created for (its exclusive end minus one hour)."""
    if meta.end is None:
        raise ValueError(f"training dataset #{meta.version} has no end; cannot tell its as-of time")
    return utc_hour(meta.end) - pd.Timedelta(hours=1)
