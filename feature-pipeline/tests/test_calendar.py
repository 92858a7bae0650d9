"""Calendar features: Danish local time from UTC, correct across daylight-saving changes."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from energy_core.feature_store.relational import validate_batch
from energy_core.schemas import CALENDAR
from energy_features.transform.calendar import calendar_features
from energy_features.windows import Window

from .support import utc


def _local_day(day: str) -> Window:
    """The UTC hours of one Danish local day (local midnight to local midnight)."""
    start = pd.Timestamp(day).tz_localize("Europe/Copenhagen").tz_convert("UTC").to_pydatetime()
    end = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize("Europe/Copenhagen").tz_convert("UTC")
    return Window(start, end.to_pydatetime())


def test_october_dst_day_has_25_local_hours_with_two_o_clock_twice() -> None:
    cal = calendar_features(_local_day("2022-10-30"))
    assert len(cal) == 25
    assert list(cal["local_hour"]).count(2) == 2
    assert sorted(set(cal["utc_offset_hours"])) == [1, 2]
    validate_batch(CALENDAR, cal)


def test_march_dst_day_has_23_local_hours_and_no_two_o_clock() -> None:
    cal = calendar_features(_local_day("2023-03-26"))
    assert len(cal) == 23
    assert 2 not in set(cal["local_hour"])
    assert cal["datetime_utc"].is_unique
    validate_batch(CALENDAR, cal)


def test_local_hour_and_weekday_follow_copenhagen_time_not_utc() -> None:
    cal = calendar_features(Window(utc("2023-01-01T23:00"), utc("2023-01-02T00:00")))
    row = cal.iloc[0]
    assert row["local_hour"] == 0  # 23:00 UTC is midnight in winter Copenhagen
    assert row["local_weekday"] == 0  # Monday 2 January 2023
    assert row["utc_offset_hours"] == 1


def test_public_holidays_and_dec_24_and_31_are_holiday_like() -> None:
    start = utc("2022-12-23T23:00")  # local midnight, 24 December
    cal = calendar_features(Window(start, start + timedelta(days=9)))
    by_day = cal.groupby(cal["local_day_of_year"]).first()
    christmas_eve, christmas_day, new_years_eve = by_day.loc[358], by_day.loc[359], by_day.loc[365]
    assert christmas_eve["is_holiday_like"] and not christmas_eve["is_holiday"]
    assert christmas_eve["holiday_name"] == "Christmas Eve"
    assert christmas_day["is_holiday"] and christmas_day["is_holiday_like"]
    assert new_years_eve["is_holiday_like"] and not new_years_eve["is_holiday"]
    ordinary = by_day.loc[362]  # 28 December, a Wednesday
    assert not ordinary["is_holiday"] and not ordinary["is_holiday_like"]


def test_new_years_day_local_starts_at_23_utc_the_day_before() -> None:
    cal = calendar_features(Window(utc("2022-12-31T22:00"), utc("2023-01-01T00:00")))
    assert list(cal["is_holiday"]) == [False, True]
    assert cal["holiday_name"].iloc[1] == "New Year's Day"


def test_calendar_matches_the_declared_schema_dtypes() -> None:
    cal = calendar_features(Window(utc("2023-01-01T00:00"), utc("2023-01-08T00:00")))
    assert list(cal.columns) == list(CALENDAR.columns)
    validate_batch(CALENDAR, cal)
