"""Extract: each source behind one small interface that returns raw records for a window.

`open_sources(settings)` picks the sources from `DataSourceSettings.source`: `snapshot` (offline
files replayed through the as-of clock), `api` (Energi Data Service + meteostat) or `files` (the
user's own series through a YAML mapping, `extract/files.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from energy_core.settings import DataSourceSettings
from energy_features.extract.datasets import ConsumptionDataset, dataset_named
from energy_features.extract.snapshot import SnapshotConsumption
from energy_features.extract.weather import Granularity, MeteostatHourlyWeather, SnapshotDailyWeather
from energy_features.windows import Window

if TYPE_CHECKING:
    import httpx


class ConsumptionSource(Protocol):
    """Raw consumption records (API record format) whose time column lies in the window."""

    @property
    def dataset(self) -> ConsumptionDataset: ...

    def fetch(self, window: Window) -> pd.DataFrame: ...


class WeatherSource(Protocol):
    """Raw Meteostat records with a `station` column, covering at least the window."""

    @property
    def granularity(self) -> Granularity: ...

    @property
    def stations(self) -> dict[str, str]: ...

    def fetch(self, window: Window) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Sources:
    consumption: ConsumptionSource
    weather: WeatherSource


def open_sources(settings: DataSourceSettings, transport: httpx.BaseTransport | None = None) -> Sources:
    """The sources named by the settings; `transport` lets tests point the API client at a fake."""
    stations = dict(settings.weather_stations)
    if settings.source == "snapshot":
        directory = settings.resolved_snapshot_dir
        return Sources(SnapshotConsumption(directory), SnapshotDailyWeather(directory, stations))
    if settings.source == "files" and settings.files_mapping is not None:
        # The user's own series (extract/files.py); yaml and the mapping model load only when chosen.
        from energy_features.extract.files import FilesConsumption, NoWeather

        return Sources(FilesConsumption.from_yaml(settings.files_mapping), NoWeather())
    # httpx is only needed for the live API; importing it lazily keeps the hourly `run` quick.
    from energy_features.extract.eds import EdsConsumption
    from energy_features.extract.eds_client import EdsClient

    client = EdsClient(
        base_url=settings.eds_base_url,
        timeout_s=settings.eds_timeout_s,
        max_wait_s=settings.eds_max_wait_s,
        page_size=settings.eds_page_size,
        transport=transport,
    )
    return Sources(EdsConsumption(client, dataset_named(settings.eds_dataset)), MeteostatHourlyWeather(stations))


__all__ = ["ConsumptionSource", "Sources", "WeatherSource", "open_sources"]
