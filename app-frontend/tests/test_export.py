"""The CSV download holds what the chart shows: every observed and every forecast hour."""

from __future__ import annotations

import io

import pandas as pd

from energy_core.api_models import Forecast
from energy_frontend.export import EXPORT_COLUMNS, shown_table, to_csv_bytes


def series() -> Forecast:
    return Forecast.model_validate(
        {
            "area": "DK1",
            "consumer_type": "111",
            "consumer_type_label": "Households",
            "forecast_made_at": "2023-01-24T22:00:00Z",
            "model_name": "m",
            "model_version": 7,
            "latest_data_at": "2023-01-24T22:00:00Z",
            "history": [
                {"datetime_utc": "2023-01-24T21:00:00Z", "energy_consumption_kwh": 1.0},
                {"datetime_utc": "2023-01-24T22:00:00Z", "energy_consumption_kwh": 2.0},
            ],
            "forecast": [
                {
                    "datetime_utc": "2023-01-24T23:00:00Z",
                    "hours_ahead": 1,
                    "prediction_kwh": 3.0,
                    "prediction_q10_kwh": 2.5,
                    "prediction_q90_kwh": 3.5,
                }
            ],
        }
    )


def test_table_has_observed_rows_then_forecast_rows() -> None:
    table = shown_table(series())
    assert list(table.columns) == list(EXPORT_COLUMNS)
    assert table["kind"].tolist() == ["observed", "observed", "forecast"]
    assert table.loc[2, "model_version"] == 7 and pd.isna(table.loc[0, "prediction_kwh"])


def test_csv_round_trips_with_iso_utc_times() -> None:
    csv = to_csv_bytes(shown_table(series())).decode()
    back = pd.read_csv(io.StringIO(csv), dtype={"consumer_type": str})
    assert back["datetime_utc"].tolist() == [
        "2023-01-24T21:00:00Z",
        "2023-01-24T22:00:00Z",
        "2023-01-24T23:00:00Z",
    ]
    assert back.loc[2, "forecast_made_at"] == "2023-01-24T22:00:00Z"
    assert back["consumer_type"].unique().tolist() == ["111"]
