"""The CSV behind the download button: exactly the rows the forecast chart shows.

One long table (observed hours then forecast hours) rather than two files, so a spreadsheet user
can plot it as is; the model version and forecast time travel in every forecast row so an exported
file is still traceable to the model that made it.
"""

from __future__ import annotations

import pandas as pd

from energy_core.api_models import Forecast
from energy_core.dashboard.frames import forecast_frame, history_frame

EXPORT_COLUMNS: tuple[str, ...] = (
    "area",
    "consumer_type",
    "datetime_utc",
    "kind",
    "energy_consumption_kwh",
    "hours_ahead",
    "prediction_kwh",
    "prediction_q10_kwh",
    "prediction_q90_kwh",
    "model_version",
    "forecast_made_at",
)


def shown_table(series: Forecast) -> pd.DataFrame:
    """History rows (`kind` = observed) followed by forecast rows (`kind` = forecast)."""
    observed = history_frame(series).assign(kind="observed")
    forecast = forecast_frame(series).assign(
        kind="forecast",
        model_version=series.model_version,
        forecast_made_at=pd.Timestamp(series.forecast_made_at) if series.forecast_made_at else pd.NaT,
    )
    table = pd.concat([observed, forecast], ignore_index=True)
    table["area"] = series.area
    table["consumer_type"] = series.consumer_type
    return table.reindex(columns=list(EXPORT_COLUMNS))


def to_csv_bytes(table: pd.DataFrame) -> bytes:
    """UTF-8 CSV with ISO-8601 UTC timestamps (`2023-01-24T22:00:00Z`), the API's own format."""
    out = table.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out.to_csv(index=False).encode("utf-8")
