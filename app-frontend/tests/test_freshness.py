"""The freshness badge: coloured by how far the forecast is behind the API's newest data, with the
wall clock only deciding whether to explain that this is a replay of the snapshot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from energy_frontend.freshness import assess_freshness

DATA = datetime(2023, 1, 24, 22, tzinfo=UTC)
LIVE_NOW = DATA + timedelta(minutes=50)
DEMO_NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_forecast_from_the_newest_hour_is_green() -> None:
    result = assess_freshness(DATA, DATA, LIVE_NOW)
    assert (result.colour, result.label, result.is_replay) == ("green", "up to date", False)


def test_forecast_a_few_hours_behind_is_orange_and_says_by_how_much() -> None:
    result = assess_freshness(DATA - timedelta(hours=5), DATA, LIVE_NOW)
    assert result.colour == "orange" and result.label == "5 h behind the data"


def test_forecast_older_than_its_horizon_is_red() -> None:
    result = assess_freshness(DATA - timedelta(days=3), DATA, LIVE_NOW)
    assert result.colour == "red" and result.label == "3 days behind the data"


def test_replayed_snapshot_stays_green_and_is_explained() -> None:
    result = assess_freshness(DATA, DATA, DEMO_NOW)
    assert result.colour == "green" and result.is_replay
    assert "replay" in result.explanation


def test_missing_times_are_unknown_not_an_error() -> None:
    assert assess_freshness(None, DATA, LIVE_NOW).colour == "gray"
