"""A seasonal-naive-24 pyfunc that follows the forecast contract, for batch prediction's tests.

Shipped with the registered model through `code_paths`, so loading it imports only this file. The
forecast for T+h is the value at T+h-24; the 0.1/0.9 quantiles add the empirical quantiles of the
series' own 24-hour differences. Deterministic, so tests can compute the expected rows by hand.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

LABEL = "energy_consumption_kwh"


class SeasonalNaive24(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        out = []
        for (area, consumer_type), rows in model_input.groupby(["area", "consumer_type"], sort=True):
            rows = rows.sort_values("datetime_utc")
            history = rows[rows[LABEL].notna()]
            future = rows[rows[LABEL].isna()]
            by_time = history.set_index("datetime_utc")[LABEL]
            diffs = (by_time - by_time.shift(24, freq="h")).dropna()
            q10, q90 = (np.quantile(diffs, [0.1, 0.9]) if len(diffs) else (0.0, 0.0))
            last = history["datetime_utc"].max()
            for target in future["datetime_utc"]:
                point = float(by_time[target - pd.Timedelta(hours=24)])
                out.append(
                    {
                        "area": area,
                        "consumer_type": consumer_type,
                        "datetime_utc": target,
                        "hours_ahead": int((target - last) / pd.Timedelta(hours=1)),
                        "prediction_kwh": point,
                        "prediction_q10_kwh": point + float(q10),
                        "prediction_q90_kwh": point + float(q90),
                    }
                )
        return pd.DataFrame(out)
