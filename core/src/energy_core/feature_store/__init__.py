"""Feature store: the interface (`base`) and its backends, chosen by `FeatureStoreSettings`."""

from __future__ import annotations

from energy_core.feature_store.base import (
    DeleteResult,
    FeatureGroupNotFound,
    FeatureStore,
    FeatureStoreError,
    FeatureStoreUnavailable,
    FeatureValidationError,
    InsertResult,
    Split,
    StoreFormatError,
    TrainingData,
    TrainingDatasetMeta,
    TrainingDatasetNotFound,
    ValidatedBatch,
)
from energy_core.settings import FeatureStoreSettings, load

__all__ = [
    "DeleteResult",
    "FeatureGroupNotFound",
    "FeatureStore",
    "FeatureStoreError",
    "FeatureStoreUnavailable",
    "FeatureValidationError",
    "InsertResult",
    "Split",
    "StoreFormatError",
    "TrainingData",
    "TrainingDatasetMeta",
    "TrainingDatasetNotFound",
    "ValidatedBatch",
    "open_feature_store",
]


def open_feature_store(settings: FeatureStoreSettings | None = None) -> FeatureStore:
    """The configured feature store. Imports a backend only when it is selected."""
    settings = settings or load(FeatureStoreSettings)
    if settings.backend == "hopsworks":
        from energy_core.feature_store.hopsworks_store import HopsworksFeatureStore

        return HopsworksFeatureStore(settings)
    from energy_core.feature_store.embedded import EmbeddedFeatureStore

    return EmbeddedFeatureStore(settings.root, lock_timeout_s=settings.lock_timeout_s)
