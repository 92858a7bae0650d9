"""Fixtures for the training-pipeline tests: tiny synthetic view frames built in code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_core.schemas import UTC_DTYPE


def view_frame(
    hours: int = 24 * 21, series: tuple[tuple[str, str], ...] = (("DK1", "111"), ("DK2", "122"))
) -> pd.DataFrame:
    """Feature-view-shaped rows: a daily-and-weekly pattern per series plus calendar columns."""
    start = pd.Timestamp("2023-01-01T00:00Z")
    times = pd.date_range(start, periods=hours, freq="h")
    parts = []
    for i, (area, ct) in enumerate(series):
        hour = np.asarray(times.hour)
        level = 1000.0 * (i + 1)
        y = level * (1 + 0.3 * np.sin(2 * np.pi * hour / 24) + 0.1 * (np.asarray(times.dayofweek) >= 5))
        parts.append(
            pd.DataFrame(
                {
                    "datetime_utc": pd.Series(times).astype(UTC_DTYPE),
                    "area": pd.Series([area] * hours, dtype="string"),
                    "consumer_type": pd.Series([ct] * hours, dtype="string"),
                    "energy_consumption_kwh": y,
                    "local_hour": hour.astype("int64"),
                    "local_weekday": np.asarray(times.dayofweek).astype("int64"),
                    "is_weekend": np.asarray(times.dayofweek) >= 5,
                    "is_holiday_like": np.zeros(hours, dtype=bool),
                    "weather_temperature_c": np.where(area == "DK1", np.nan, 2.0),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def frame() -> pd.DataFrame:
    return view_frame()
