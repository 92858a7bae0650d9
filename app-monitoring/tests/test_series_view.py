"""With several forecasts per target hour, the default view keeps the most recent one."""

from __future__ import annotations

import pandas as pd

from energy_monitoring_app.series_view import latest_forecast_per_hour


def test_keeps_the_smallest_hours_ahead_per_target_hour() -> None:
    t0, t1 = pd.Timestamp("2023-01-24T20:00Z"), pd.Timestamp("2023-01-24T21:00Z")
    points = pd.DataFrame(
        {"datetime_utc": [t1, t0, t0, t1], "hours_ahead": [3, 2, 1, 24], "prediction_kwh": [13.0, 2.0, 1.0, 124.0]}
    )
    shown = latest_forecast_per_hour(points)
    assert shown["datetime_utc"].tolist() == [t0, t1]
    assert shown["hours_ahead"].tolist() == [1, 3] and shown["prediction_kwh"].tolist() == [1.0, 13.0]


def test_empty_input_stays_empty() -> None:
    assert latest_forecast_per_hour(pd.DataFrame(columns=["datetime_utc", "hours_ahead"])).empty
