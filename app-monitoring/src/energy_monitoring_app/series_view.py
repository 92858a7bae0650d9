"""Which forecast to compare with each actual hour when a series was forecast several times.

With hourly batch runs every target hour is predicted up to 24 times (hours_ahead 24 … 1). Plotting
all of them is unreadable, so by default the page shows the most recent forecast per hour — the one
an operator would have acted on last — and lets the user pick one fixed horizon instead.
"""

from __future__ import annotations

import pandas as pd


def latest_forecast_per_hour(points: pd.DataFrame) -> pd.DataFrame:
    """One row per `datetime_utc`: the row with the smallest `hours_ahead`, sorted by time."""
    if points.empty:
        return points
    ordered = points.sort_values(["datetime_utc", "hours_ahead"], kind="stable")
    return ordered.drop_duplicates("datetime_utc", keep="first").reset_index(drop=True)
