"""The API's row lists as pandas frames, the form both dashboards' Plotly charts and tables take.

Why one converter: a frame built from pydantic rows must keep its columns when the list is empty (a
chart of nothing still needs its axes) and its times as UTC datetimes, sorted (Plotly draws lines
in row order); written once, both pages get the same columns from the same body.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from pydantic import BaseModel

from energy_core.api_models import (
    AlertCheck,
    AlertStatus,
    AreaOverview,
    Forecast,
    ForecastPoint,
    HistoryPoint,
    HourlyErrorPoint,
    MonitoringMetrics,
    SeriesOverview,
)

TIME_COLUMNS = ("datetime_utc", "forecast_made_at", "created_at", "promoted_at")


def rows_frame(rows: Sequence[BaseModel], model: type[BaseModel]) -> pd.DataFrame:
    """One row per model, one column per field of `model` (even when empty), times as UTC,
    sorted by `datetime_utc` when there is one."""
    frame = pd.DataFrame([row.model_dump() for row in rows], columns=list(model.model_fields))
    for column in TIME_COLUMNS:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    if "datetime_utc" in frame:
        frame = frame.sort_values("datetime_utc", ignore_index=True)
    return frame


def history_frame(series: Forecast) -> pd.DataFrame:
    """The series' history (`datetime_utc`, `energy_consumption_kwh`), oldest first."""
    return rows_frame(series.history, HistoryPoint)


def forecast_frame(series: Forecast) -> pd.DataFrame:
    """The series' forecast, one row per target hour, nearest first."""
    return rows_frame(series.forecast, ForecastPoint)


def overview_frame(overview: AreaOverview) -> pd.DataFrame:
    """Every series of one area (next-24-hour total against the same hours last week), with `area`."""
    frame = rows_frame(overview.series, SeriesOverview)
    frame.insert(0, "area", overview.area)
    return frame


def timeline_frame(timeline: MonitoringMetrics) -> pd.DataFrame:
    """The aggregate error per monitored hour, oldest first."""
    return rows_frame(timeline.points, HourlyErrorPoint)


def checks_frame(alerts: AlertStatus) -> pd.DataFrame:
    """The latest row of every drift and performance check."""
    return rows_frame(alerts.checks, AlertCheck)
