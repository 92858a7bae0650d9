"""The figure builders show exactly the data they are given."""

from __future__ import annotations

import pandas as pd

from energy_monitoring_app.charts import actuals_figure, error_timeline_figure, horizon_figure


def hours(n: int) -> pd.Series:
    return pd.Series(pd.date_range("2023-01-24T00:00", periods=n, freq="h", tz="UTC"))


def test_error_timeline_has_wape_mape_and_the_backtest_line() -> None:
    points = pd.DataFrame({"datetime_utc": hours(3), "wape": [0.04, 0.05, 0.06], "mape": [0.05, 0.06, 0.07]})
    fig = error_timeline_figure(points, backtest_wape=0.045)
    assert [t.name for t in fig.data] == ["WAPE", "MAPE"] and list(fig.data[0].y) == [0.04, 0.05, 0.06]
    (line,) = fig.layout.shapes
    assert line.y0 == line.y1 == 0.045
    assert "4.5%" in fig.layout.annotations[0].text


def test_error_timeline_without_a_champion_has_no_reference_line() -> None:
    points = pd.DataFrame({"datetime_utc": hours(1), "wape": [0.1], "mape": [0.1]})
    assert not error_timeline_figure(points, backtest_wape=None).layout.shapes


def test_horizon_figure_has_one_bar_per_hours_ahead() -> None:
    horizons = pd.DataFrame({"hours_ahead": range(1, 25), "wape": 0.05, "mape": 0.06, "count": 10})
    bars, line = horizon_figure(horizons).data
    assert list(bars.x) == list(range(1, 25)) and line.name == "MAPE"


def test_actuals_figure_leaves_a_gap_where_the_actual_is_missing() -> None:
    points = pd.DataFrame(
        {
            "datetime_utc": hours(3),
            "hours_ahead": 1,
            "model_version": 2,
            "actual_kwh": [10.0, None, 12.0],
            "prediction_kwh": [11.0, 11.0, 11.0],
            "prediction_q10_kwh": 9.0,
            "prediction_q90_kwh": 13.0,
        }
    )
    band, forecast, actual = actuals_figure(points, "DK1 · 111").data
    assert band.name == "10–90 % interval" and forecast.name == "Forecast"
    assert actual.connectgaps is False and pd.isna(actual.y[1])
