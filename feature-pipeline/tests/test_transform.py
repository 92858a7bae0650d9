"""Raw records into canonical feature-group columns: types, de-duplication, no silent filling."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_core.schemas import ENERGY_CONSUMPTION, WEATHER
from energy_features.transform.columns import MissingColumnError
from energy_features.transform.consumption import consumption_from_de35
from energy_features.transform.weather import weather_from_daily, weather_from_hourly

from .support import de35_records, utc

STATIONS = {"DK1": "06060", "DK2": "06180"}


def test_de35_records_become_canonical_columns_with_declared_dtypes() -> None:
    frame = consumption_from_de35(de35_records("2023-01-01T00:00", 2)).leaves
    assert list(frame.columns) == list(ENERGY_CONSUMPTION.columns)
    assert frame.dtypes.astype(str).to_dict() == {
        "datetime_utc": "datetime64[us, UTC]",
        "area": "string",
        "consumer_type": "string",
        "energy_consumption_kwh": "float64",
    }
    assert frame["datetime_utc"].min() == pd.Timestamp("2023-01-01T00:00Z")
    assert len(frame) == 2 * 2 * 2


def test_exact_duplicate_records_are_dropped_but_conflicting_ones_are_kept_for_validation() -> None:
    records = de35_records("2023-01-01T00:00", 1)
    conflicting = records.iloc[[0]].assign(TotalCon=5)
    frame = consumption_from_de35(pd.concat([records, records, conflicting])).leaves
    assert len(frame) == len(records) + 1
    assert frame.duplicated(list(ENERGY_CONSUMPTION.key)).sum() == 1


def test_hour_utc_is_the_truth_even_when_hour_dk_repeats_in_october() -> None:
    records = de35_records("2022-10-30T00:00", 2, areas=("DK1",), types=("111",))
    assert records["HourDK"].tolist() == ["2022-10-30T02:00:00", "2022-10-30T02:00:00"]
    frame = consumption_from_de35(records).leaves
    assert frame["datetime_utc"].is_unique


def test_missing_source_column_is_named_in_the_error() -> None:
    with pytest.raises(MissingColumnError, match="TotalCon"):
        consumption_from_de35(de35_records("2023-01-01T00:00", 1).drop(columns="TotalCon"))


def test_a_missing_value_stays_missing() -> None:
    records = de35_records("2023-01-01T00:00", 1).astype({"TotalCon": "float64"})
    records.loc[0, "TotalCon"] = float("nan")
    assert consumption_from_de35(records).leaves["energy_consumption_kwh"].isna().sum() == 1


def test_daily_weather_event_time_is_the_end_of_the_local_day_with_dst_aware_length() -> None:
    records = pd.DataFrame(
        {"station": "06180", "date": ["2022-10-30", "2023-01-01", "2023-03-26"], "tavg": [10.0, 5.0, 3.0],
         "tmin": [8.0, 2.0, 1.0], "tmax": [12.0, 7.0, 5.0], "prcp": [0.0, 1.0, None], "wspd": [10.0, 20.0, 5.0],
         "pres": [1010.0, 1000.0, 1020.0]}
    )  # fmt: skip
    frame = weather_from_daily(records, STATIONS)
    assert list(frame.columns) == list(WEATHER.columns)
    assert frame["area"].unique().tolist() == ["DK2"]
    assert frame["period_hours"].tolist() == [25, 24, 23]
    assert frame["datetime_utc"].tolist() == [
        pd.Timestamp("2022-10-30T23:00Z"), pd.Timestamp("2023-01-01T23:00Z"), pd.Timestamp("2023-03-26T22:00Z")
    ]  # fmt: skip
    assert frame["precipitation_mm"].isna().sum() == 1  # not filled


def test_hourly_weather_event_time_is_the_end_of_the_hour_and_has_no_invented_min_max() -> None:
    records = pd.DataFrame({"station": "06060", "time": [pd.Timestamp("2024-01-01T00:00")], "temp": [1.5],
                            "prcp": [0.0], "wspd": [12.0], "pres": [1001.0]})  # fmt: skip
    frame = weather_from_hourly(records, STATIONS)
    assert frame.loc[0, "datetime_utc"] == pd.Timestamp(utc("2024-01-01T01:00"))
    assert frame.loc[0, "area"] == "DK1"
    assert pd.isna(frame.loc[0, "temperature_min_c"])


def test_weather_from_an_unconfigured_station_is_an_error_not_a_guess() -> None:
    records = pd.DataFrame({"station": ["99999"], "date": ["2023-01-01"], "tavg": [1.0]})
    with pytest.raises(ValueError, match="99999"):
        weather_from_daily(records, STATIONS)
