"""The predict path's shortcuts compute exactly what the code they replaced computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_training.forecaster_model import _utc, recent_scale


@pytest.mark.parametrize(
    "times",
    [
        pd.Series(pd.date_range("2023-01-01", periods=60, freq="h", tz="UTC")).astype("datetime64[us, UTC]"),
        pd.Series(pd.date_range("2023-03-25", periods=60, freq="h", tz="Europe/Copenhagen")),
        pd.Series(pd.date_range("2023-01-01", periods=60, freq="h")),  # naive: read as UTC
        pd.Series(["2023-01-01T00:00Z", None, "2023-01-01T02:00+01:00"] * 20),
    ],
)
def test_utc_equals_pd_to_datetime(times: pd.Series) -> None:
    pd.testing.assert_series_equal(_utc(times), pd.to_datetime(times, utc=True).dt.tz_convert("UTC"))


def test_recent_scale_equals_the_per_series_formula_it_replaced() -> None:
    rng = np.random.default_rng(3)
    hours = pd.date_range("2023-01-01", periods=400, freq="h")
    parts = []
    for uid, values in {
        "DK1|111": rng.gamma(2.0, 50.0, 400),
        "DK1|112": np.full(400, 7.0),  # no seasonal change at all: the fallback scale
        "DK2|111": np.where(rng.random(400) < 0.1, np.nan, rng.normal(100.0, 5.0, 400)),
        "DK2|112": np.zeros(400),  # the fallback of the fallback: 1e-9
    }.items():
        parts.append(pd.DataFrame({"unique_id": uid, "ds": hours, "y": values}))
    history = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=0)  # any row order

    h = history.sort_values(["unique_id", "ds"], kind="stable")
    diff = (h["y"] - h.groupby("unique_id")["y"].shift(24)).abs()
    recent = h["ds"] > h.groupby("unique_id")["ds"].transform("max") - pd.Timedelta(hours=168)
    scale = diff[recent].groupby(h.loc[recent, "unique_id"]).mean()
    fallback = h.groupby("unique_id")["y"].apply(lambda y: float(np.abs(y).mean()) * 0.05 + 1e-9)
    scale = scale.reindex(fallback.index)
    expected = scale.where(scale > 0, fallback).fillna(fallback)

    got = recent_scale(history)

    pd.testing.assert_series_equal(got, expected, check_exact=False, rtol=1e-12)
    assert got["DK1|112"] == pytest.approx(7.0 * 0.05 + 1e-9) and got["DK2|112"] == pytest.approx(1e-9)
