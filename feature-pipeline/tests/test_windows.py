"""Which hours a run or backfill touches (pure planning, no I/O)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from energy_features.windows import CALENDAR, CONSUMPTION, WEATHER, WindowPolicy, plan_backfill, plan_run

from .support import utc

POLICY = WindowPolicy(reread_hours=48, initial_history_hours=720, calendar_ahead_hours=192)


def test_first_run_reads_the_initial_history_up_to_and_including_the_as_of_hour() -> None:
    plan = plan_run(utc("2023-01-24T22:00"), {}, POLICY)
    assert plan.consumption.end == utc("2023-01-24T23:00")
    assert plan.consumption.start == utc("2023-01-24T23:00") - timedelta(hours=720)
    assert plan.weather.end == utc("2023-01-24T23:00")


def test_later_run_reads_new_hours_plus_the_reread_window() -> None:
    marks = {CONSUMPTION: utc("2023-01-24T21:00"), WEATHER: utc("2023-01-23T23:00"), CALENDAR: utc("2023-02-01T21:00")}
    plan = plan_run(utc("2023-01-24T22:00"), marks, POLICY)
    assert plan.consumption.start == utc("2023-01-24T22:00") - timedelta(hours=48)
    assert plan.consumption.end == utc("2023-01-24T23:00")
    assert plan.weather.start == utc("2023-01-24T00:00") - timedelta(hours=48)


def test_calendar_is_planned_ahead_of_the_as_of_hour_and_covers_the_consumption_window() -> None:
    plan = plan_run(utc("2023-01-24T22:00"), {}, POLICY)
    assert plan.calendar.end == utc("2023-01-24T23:00") + timedelta(hours=192)
    assert plan.calendar.start <= plan.consumption.start


def test_publication_lag_holds_back_the_newest_consumption_hours() -> None:
    plan = plan_run(utc("2023-01-24T22:00"), {}, WindowPolicy(publication_lag_hours=360))
    assert plan.consumption.end == utc("2023-01-24T23:00") - timedelta(hours=360)


def test_replaying_an_earlier_as_of_than_the_watermark_rereads_only_known_hours() -> None:
    plan = plan_run(utc("2023-01-10T00:00"), {CONSUMPTION: utc("2023-01-24T22:00")}, POLICY)
    assert plan.consumption.end == utc("2023-01-10T01:00")
    assert plan.consumption.hours == 48


def test_backfill_is_split_into_contiguous_chunks_covering_exactly_the_range() -> None:
    plans = plan_backfill(utc("2022-12-21T16:00"), utc("2023-01-24T23:00"), timedelta(days=7), POLICY)
    assert plans[0].consumption.start == utc("2022-12-21T16:00")
    assert plans[-1].consumption.end == utc("2023-01-24T23:00")
    assert all(a.consumption.end == b.consumption.start for a, b in itertools.pairwise(plans))
    assert sum(p.consumption.hours for p in plans) == 823


def test_backfill_rejects_an_empty_range() -> None:
    with pytest.raises(ValueError, match="start < end"):
        plan_backfill(utc("2023-01-02T00:00"), utc("2023-01-01T00:00"), timedelta(days=7), POLICY)
