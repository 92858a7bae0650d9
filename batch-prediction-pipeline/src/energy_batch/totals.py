"""Step 3 of predict: forecasts of the parent totals, summed bottom-up from the leaf forecasts.

A parent's point forecast is the sum of its leaves' (whatever forecast each leaf: champion or
cold-start baseline), so the totals add up by construction. Its q10/q90 are the sums of the leaves'
quantiles, the method documented in `energy_core.series` (exact when the leaves move together, an
upper bound on the width otherwise); one leaf without an interval leaves the total without one.

A total is written only when every leaf the catalogue knows under it at the forecast origin was
forecast (`complete_totals`): its actual (`energy_consumption_totals`) sums all of them, so a total
missing a leaf would be scored as a large, spurious error. Rows carry the leaves' model name and
version (monitoring groups by version) and `model_family = bottom_up`.
"""

from __future__ import annotations

import pandas as pd

from energy_core.schemas import PREDICTIONS, UTC_DTYPE
from energy_core.series import bottom_up, complete_totals

BOTTOM_UP = "bottom_up"
VALUES = ["prediction_kwh", "prediction_q10_kwh", "prediction_q90_kwh"]
KEYS = ("datetime_utc", "forecast_made_at", "hours_ahead")


def forecast_totals(
    leaf_rows: pd.DataFrame, catalogue: pd.DataFrame, model_name: str, model_version: int
) -> pd.DataFrame:
    """PREDICTIONS rows for every complete parent total of `leaf_rows` (PREDICTIONS rows of leaves)."""
    sums = bottom_up(leaf_rows, catalogue, VALUES, keys=KEYS)
    sums = complete_totals(sums, catalogue, time_column="forecast_made_at")
    sums = sums[sums["prediction_kwh"].notna()]
    if sums.empty:
        return PREDICTIONS.empty_frame()
    out = pd.DataFrame(
        {
            "datetime_utc": pd.to_datetime(sums["datetime_utc"], utc=True).astype(UTC_DTYPE),
            "area": sums["area"].astype("string"),
            "consumer_type": sums["consumer_type"].astype("string"),
            "hours_ahead": sums["hours_ahead"].astype("int64"),
            "forecast_made_at": pd.to_datetime(sums["forecast_made_at"], utc=True).astype(UTC_DTYPE),
            **{c: sums[c].astype("float64") for c in VALUES},
            "model_name": pd.Series(model_name, index=sums.index, dtype="string"),
            "model_version": pd.Series(int(model_version), index=sums.index, dtype="int64"),
            "model_family": pd.Series(BOTTOM_UP, index=sums.index, dtype="string"),
        }
    )
    return out[list(PREDICTIONS.columns)].reset_index(drop=True)
