"""Metric functions against hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from energy_training.metrics import coverage, mape, naive_scale, pinball, rmse, score, scorecard, wape

Y = np.array([100.0, 200.0, 300.0])
F = np.array([110.0, 180.0, 300.0])


def test_wape_is_total_absolute_error_over_total_actual() -> None:
    assert wape(Y, F) == pytest.approx((10 + 20 + 0) / 600)


def test_mape_averages_percentage_errors_and_skips_zero_actuals() -> None:
    assert mape(Y, F) == pytest.approx((0.1 + 0.1 + 0.0) / 3)
    assert mape(np.array([0.0, 100.0]), np.array([5.0, 90.0])) == pytest.approx(0.1)


def test_rmse_is_root_of_mean_squared_error() -> None:
    assert rmse(Y, F) == pytest.approx(math.sqrt((100 + 400 + 0) / 3))


def test_pinball_charges_under_forecasts_q_and_over_forecasts_one_minus_q() -> None:
    # y - f = [-10, 20, 0]: over-forecast by 10 costs 0.9*10, under-forecast by 20 costs 0.1*20
    assert pinball(Y, F, 0.1) == pytest.approx((0.9 * 10 + 0.1 * 20 + 0) / 3)
    assert pinball(Y, F, 0.5) == pytest.approx((5 + 10 + 0) / 3)


def test_coverage_counts_actuals_inside_the_interval_bounds_included() -> None:
    assert coverage(Y, np.array([100.0, 210.0, 250.0]), np.array([120.0, 220.0, 300.0])) == pytest.approx(2 / 3)


def test_wape_refuses_all_zero_actuals() -> None:
    with pytest.raises(ValueError, match="undefined"):
        wape(np.zeros(3), np.ones(3))


def _predictions(model: str, prediction: list[float]) -> pd.DataFrame:
    n = len(prediction)
    return pd.DataFrame(
        {
            "model": model,
            "area": "DK1",
            "consumer_type": "111",
            "hours_ahead": range(1, n + 1),
            "actual_kwh": [100.0] * n,
            "prediction_kwh": prediction,
            "prediction_q10_kwh": [p - 5 for p in prediction],
            "prediction_q90_kwh": [p + 5 for p in prediction],
        }
    )


def test_mase_divides_mae_by_in_sample_seasonal_naive_mae() -> None:
    times = pd.date_range("2023-01-01T00:00Z", periods=48, freq="h")
    history = pd.DataFrame(
        {
            "area": "DK1",
            "consumer_type": "111",
            "datetime_utc": times,
            "energy_consumption_kwh": [100.0] * 24 + [120.0] * 24,
        }
    )
    scale = naive_scale(history)  # every in-sample seasonal error is 20
    assert scale.loc[("DK1", "111")] == pytest.approx(20.0)
    assert score(_predictions("m", [110.0, 90.0]), scale)["mase"] == pytest.approx(10 / 20)


def test_scorecard_ranks_models_by_wape() -> None:
    table = scorecard(pd.concat([_predictions("worse", [150.0, 150.0]), _predictions("better", [101.0, 99.0])]))
    assert list(table["model"]) == ["better", "worse"]
    assert table.loc[0, "coverage_80"] == pytest.approx(1.0)
