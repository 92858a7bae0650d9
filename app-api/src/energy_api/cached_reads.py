"""Reads several endpoints share, cached on the table versions they depend on."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from energy_api import queries, registry_queries
from energy_api.dependencies import Services
from energy_core.feature_store import FeatureStore
from energy_core.registry import ModelVersionInfo
from energy_core.schemas import ENERGY_CONSUMPTION, MONITORING_HOURLY, PREDICTIONS


def series_catalog(services: Services, store: FeatureStore) -> pd.DataFrame:
    (version,) = services.versions.versions(store, ENERGY_CONSUMPTION)
    return services.cache.get_or_compute(("series_catalog", version), lambda: queries.series_catalog(store))


def latest_data_at(services: Services, store: FeatureStore) -> datetime | None:
    return queries.latest_time(series_catalog(services, store), "latest_data_at")


def latest_forecast_at(services: Services, store: FeatureStore) -> datetime | None:
    versions = services.versions.versions(store, ENERGY_CONSUMPTION, PREDICTIONS)
    anchor = latest_data_at(services, store)
    made = services.cache.get_or_compute(
        ("latest_forecast_at", versions), lambda: (queries.latest_forecast_time(store, anchor),)
    )
    return made[0]


def latest_monitored_hour(services: Services, store: FeatureStore) -> datetime | None:
    versions = services.versions.versions(store, MONITORING_HOURLY)
    latest = services.cache.get_or_compute(
        ("latest_monitored_hour", versions), lambda: (queries.latest_monitored_hour(store),)
    )
    return latest[0]


def champion(services: Services) -> ModelVersionInfo | None:
    """The champion, cached for the TTL (the registry has no cheap version to key on)."""
    registry = services.registry.get()
    return services.cache.get_or_compute(("champion",), lambda: (registry_queries.champion(registry),))[0]
