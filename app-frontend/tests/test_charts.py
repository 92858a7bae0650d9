"""The figure builders show exactly the data they are given."""

from __future__ import annotations

import pandas as pd

from energy_frontend.charts import change_heatmap, forecast_figure


def hours(start: str, n: int) -> pd.Series:
    return pd.Series(pd.date_range(start, periods=n, freq="h", tz="UTC"))


def series_frames(with_band: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    history = pd.DataFrame({"datetime_utc": hours("2023-01-17T23:00", 168), "energy_consumption_kwh": 100.0})
    forecast = pd.DataFrame(
        {
            "datetime_utc": hours("2023-01-24T23:00", 24),
            "hours_ahead": range(1, 25),
            "prediction_kwh": 110.0,
            "prediction_q10_kwh": 90.0 if with_band else None,
            "prediction_q90_kwh": 130.0 if with_band else None,
        }
    )
    return history, forecast


def test_forecast_figure_has_observed_band_and_forecast() -> None:
    history, forecast = series_frames()
    fig = forecast_figure(history, forecast, "DK1 · 111")
    assert [t.name for t in fig.data] == ["Observed", "10–90 % interval", "Forecast"]
    observed, band, point = fig.data
    assert len(observed.y) == 168 and len(point.y) == 24
    assert max(band.y) == 130.0 and min(band.y) == 90.0
    assert fig.layout.title.text == "DK1 · 111"


def test_forecast_without_quantiles_has_no_band() -> None:
    history, forecast = series_frames(with_band=False)
    fig = forecast_figure(history, forecast, "no band")
    assert [t.name for t in fig.data] == ["Observed", "Forecast"]


def test_heatmap_is_area_by_consumer_type_centred_on_zero() -> None:
    overview = pd.DataFrame(
        {
            "area": ["DK1", "DK1", "DK2"],
            "consumer_type": ["111", "112", "111"],
            "label": ["Households", "Farms", "Households"],
            "expected_change_pct": [-12.0, 3.0, 4.0],
        }
    )
    heat = change_heatmap(overview).data[0]
    assert list(heat.y) == ["DK1", "DK2"] and list(heat.x) == ["111", "112"]
    assert heat.z[0][0] == -12.0 and pd.isna(heat.z[1][1])
    assert heat.zmid == 0 and heat.zmin == -12.0 and heat.zmax == 12.0
