"""Meteostat records into the `weather` group, with event time = when the observation is complete.

A daily value for local day D is known only after D ends, so its event time is the end of the
Danish local day D in UTC (`period_start_utc` its start, `period_hours` 23/24/25 on DST days).
An hourly value's event time is the end of its hour. Stations map back to their price area; an
area without a station's data simply has no rows (never another area's weather).
"""

from __future__ import annotations

import pandas as pd

from energy_core.schemas import WEATHER
from energy_features.transform.calendar import LOCAL_TZ
from energy_features.transform.columns import as_float, require_columns

_DAILY = {"tavg": "temperature_c", "tmin": "temperature_min_c", "tmax": "temperature_max_c",
          "prcp": "precipitation_mm", "wspd": "wind_speed_kmh", "pres": "pressure_hpa"}  # fmt: skip
_HOURLY = {"temp": "temperature_c", "prcp": "precipitation_mm", "wspd": "wind_speed_kmh", "pres": "pressure_hpa"}


def weather_from_daily(records: pd.DataFrame, stations: dict[str, str]) -> pd.DataFrame:
    """Daily Meteostat rows (`station`, `date`, tavg/tmin/tmax/prcp/wspd/pres) per area."""
    require_columns(records, ["station", "date"], "Meteostat daily")
    if records.empty:
        return WEATHER.empty_frame()
    day = pd.to_datetime(records["date"], format="%Y-%m-%d", errors="coerce")
    # Midnight is never ambiguous or missing in Copenhagen (DST changes at 02:00/03:00 local).
    start = day.dt.tz_localize(LOCAL_TZ).dt.tz_convert("UTC")
    end = (day + pd.Timedelta(days=1)).dt.tz_localize(LOCAL_TZ).dt.tz_convert("UTC")
    frame = pd.DataFrame(
        {
            "datetime_utc": end.astype("datetime64[us, UTC]"),
            "station": records["station"].astype("string"),
            "period_start_utc": start.astype("datetime64[us, UTC]"),
            "period_hours": ((end - start) / pd.Timedelta(hours=1)).astype("Int64").astype("int64"),
        }
    )
    for source, target in _DAILY.items():
        frame[target] = as_float(records[source]) if source in records else float("nan")
    return _canonical(frame, stations)


def weather_from_hourly(records: pd.DataFrame, stations: dict[str, str]) -> pd.DataFrame:
    """Hourly meteostat 2.x rows (`station`, `time` in UTC, temp/prcp/wspd/pres) per area.

    An hour has no min/max temperature of its own, so those stay missing (not copied from temp).
    """
    require_columns(records, ["station", "time"], "Meteostat hourly")
    if records.empty:
        return WEATHER.empty_frame()
    start = pd.to_datetime(records["time"], utc=True).astype("datetime64[us, UTC]")
    frame = pd.DataFrame(
        {
            "datetime_utc": start + pd.Timedelta(hours=1),
            "station": records["station"].astype("string"),
            "period_start_utc": start,
            "period_hours": 1,
        }
    )
    for target in ("temperature_c", "temperature_min_c", "temperature_max_c", "precipitation_mm",
                   "wind_speed_kmh", "pressure_hpa"):  # fmt: skip
        frame[target] = float("nan")
    for source, target in _HOURLY.items():
        if source in records:
            frame[target] = as_float(records[source])
    frame["period_hours"] = frame["period_hours"].astype("int64")
    return _canonical(frame, stations)


def _canonical(frame: pd.DataFrame, stations: dict[str, str]) -> pd.DataFrame:
    area_of = {station: area for area, station in stations.items()}
    unknown = sorted(set(frame["station"].dropna()) - set(area_of))
    if unknown:
        raise ValueError(
            f"weather records from station(s) {unknown} that no area is configured for "
            f"(ENERGY_WEATHER_STATIONS={stations})"
        )
    frame["area"] = frame["station"].map(area_of).astype("string")
    frame = frame[list(WEATHER.columns)].drop_duplicates()
    return frame.sort_values(list(WEATHER.key), kind="stable").reset_index(drop=True)
