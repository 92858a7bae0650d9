"""Weather sources, one Meteostat station per price area, returning raw Meteostat-format records.

- `SnapshotDailyWeather`: the offline daily exports (`meteostat_daily_<station>_*.parquet`,
  columns `date, tavg, tmin, tmax, prcp, wspd, pres, ...`). Only Copenhagen (06180, DK2) exists
  offline, so DK1 simply has no weather rows offline. We never copy DK2's weather into DK1: that
  would be invented data; the feature view's as-of join then yields nulls, which LightGBM handles.
- `MeteostatHourlyWeather`: meteostat 2.x `hourly(...)`, online or through a local endpoint or
  pre-seeded cache (`MS_HOURLY_ENDPOINT`, `MS_CACHE_DIRECTORY`, `MS_CACHE_AUTOCLEAN`, read by
  meteostat itself). meteostat is imported only when this source is used, so `run` stays fast.

Records carry a `station` column; `transform/weather.py` turns them into the weather group.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow.parquet as pq

from energy_features.windows import Window

log = logging.getLogger(__name__)

Granularity = Literal["daily", "hourly"]


@dataclass(frozen=True)
class SnapshotDailyWeather:
    """Daily observations per station from the snapshot directory."""

    directory: Path
    stations: dict[str, str]  # area -> station id
    granularity: Granularity = "daily"

    def fetch(self, window: Window) -> pd.DataFrame:
        """Days that could complete inside the window (one day of margin each side; the transform
        computes exact event times and the pipeline keeps those inside the window)."""
        first = (window.start - timedelta(days=1)).astimezone(UTC).strftime("%Y-%m-%d")
        last = (window.end + timedelta(days=1)).astimezone(UTC).strftime("%Y-%m-%d")
        frames = []
        for area, station in sorted(self.stations.items()):
            paths = sorted(self.directory.glob(f"meteostat_daily_{station}_*.parquet"))
            if not paths:
                log.info("no offline weather for %s (station %s): %s rows stay absent", area, station, area)
                continue
            for path in paths:
                table = pq.read_table(path, filters=[("date", ">=", first), ("date", "<=", last)])
                frame = table.to_pandas()
                frame.insert(0, "station", station)
                frames.append(frame)
        if not frames:
            return pd.DataFrame({"station": pd.Series(dtype="object"), "date": pd.Series(dtype="object")})
        return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class MeteostatHourlyWeather:
    """Hourly observations per station through meteostat 2.x (network, endpoint or cache)."""

    stations: dict[str, str]  # area -> station id
    granularity: Granularity = "hourly"

    def fetch(self, window: Window) -> pd.DataFrame:
        import meteostat as ms  # heavy and networked: only imported when this source is chosen

        # An hourly observation's event time is its end, so the window's hours start one earlier.
        start = (window.start - timedelta(hours=1)).astimezone(UTC).replace(tzinfo=None)
        end = window.end.astimezone(UTC).replace(tzinfo=None)
        frames = []
        for _area, station in sorted(self.stations.items()):
            data = ms.hourly(ms.Station(id=station), start, end).fetch()
            if data is None or data.empty:
                log.warning("meteostat returned no hourly data for station %s in %s", station, window)
                continue
            frame = data.reset_index()
            frame["station"] = station
            frames.append(frame)
        if not frames:
            return pd.DataFrame({"station": pd.Series(dtype="object"), "time": pd.Series(dtype="object")})
        return pd.concat(frames, ignore_index=True)
