"""The lean recursive loop (`forecaster_model.predict_recursive`) forecasts mlforecast's numbers.

It drives mlforecast's own TimeSeries, transforms and target-transform inverses with one numpy
matrix per step instead of mlforecast's per-step DataFrames, so every configuration the profiles
use is compared here with `MLForecast.predict` itself: lags, rolling, seasonal and ewm features,
diff / standard / log target transforms, exogenous columns with nulls (DK1 has no weather),
series that end at different hours (the stacked backtest origins) and a series that starts late.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from energy_training.backtest import contract_input
from energy_training.config import ModelConfig
from energy_training.forecaster_model import (
    _lean_loop,
    predict_recursive,
    split_history_future,
    stack_origins,
    to_model_frame,
)
from energy_training.models import fit_model

# Every kind of lag feature the profiles use, and expanding_mean, which none uses but the loop supports.
FEATURES = {
    1: ("rolling_mean_6", "ewm_0.2", "expanding_mean"),
    24: ("rolling_mean_24", "rolling_std_24", "seasonal_mean_24x3"),
}
SMALL = {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 5}
LEVEL = ModelConfig("level", "lightgbm", params=SMALL, exog=("local_hour", "is_weekend"), lags=(1, 2, 24),
                    lag_transforms=FEATURES, intervals="conformal", calibration_origins=2)  # fmt: skip
CONFIGS = [
    LEVEL,
    replace(LEVEL, name="change", target_transforms=("diff_24", "standard")),
    replace(
        LEVEL,
        name="log",
        target_transforms=("log", "diff_24", "standard"),
        exog=("local_hour", "weather_temperature_c"),
    ),
    replace(LEVEL, name="no_exog", exog=()),
]
ORIGINS = tuple(pd.Timestamp("2023-01-18T23:00Z") + pd.Timedelta(hours=24 * k) for k in range(3))


@pytest.fixture
def noisy(frame: pd.DataFrame) -> pd.DataFrame:
    """Three series with noise; the third starts late."""
    third = frame[frame["consumer_type"] == "122"].assign(consumer_type="999")
    frame = pd.concat([frame, third], ignore_index=True)
    rng = np.random.default_rng(11)
    frame["energy_consumption_kwh"] *= 1 + 0.05 * rng.standard_normal(len(frame))
    late = (frame["consumer_type"] == "999") & (frame["datetime_utc"] < pd.Timestamp("2023-01-05T00:00Z"))
    return frame[~late].reset_index(drop=True)


def _inputs(fitted_exog: list[str], frames: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame | None, int]:
    history, future = stack_origins([split_history_future(to_model_frame(f, fitted_exog)) for f in frames])
    steps = int(future.groupby("unique_id").size().max())
    x_df = future[["unique_id", "ds", *fitted_exog]] if fitted_exog else None
    return history[["unique_id", "ds", "y", *fitted_exog]], x_df, steps


def _mlforecast(mlf: object, steps: int, new_df: pd.DataFrame, x_df: pd.DataFrame | None) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found null values", category=UserWarning)
        return mlf.predict(h=steps, new_df=new_df, X_df=x_df)  # type: ignore[attr-defined]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
@pytest.mark.parametrize("origins", [ORIGINS[:1], ORIGINS], ids=["one origin", "stacked origins"])
def test_the_lean_loop_forecasts_what_mlforecast_forecasts(
    noisy: pd.DataFrame, cfg: ModelConfig, origins: tuple[pd.Timestamp, ...]
) -> None:
    fitted = fit_model(cfg, noisy[noisy["datetime_utc"] <= ORIGINS[0]], 24, 3)
    new_df, x_df, steps = _inputs(fitted.exog, [contract_input(noisy, o, 24) for o in origins])

    lean = _lean_loop(fitted.model, steps, new_df, x_df)
    expected = _mlforecast(fitted.model, steps, new_df, x_df)

    assert lean is not None  # the lean loop ran, not the fallback
    pd.testing.assert_frame_equal(lean.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_exact=False, rtol=1e-12, atol=1e-9)  # fmt: skip
    assert lean["point"].notna().all() and np.isfinite(lean["point"]).all()


def test_models_outside_the_lean_case_go_through_mlforecast(noisy: pd.DataFrame) -> None:
    """Quantile intervals (three models) and a direct model fall back, with the same numbers."""
    train = noisy[noisy["datetime_utc"] <= ORIGINS[0]]
    for cfg in (replace(LEVEL, name="quantile", intervals="quantile"),
                replace(LEVEL, name="direct", strategy="direct", lags=(24, 48), lag_transforms={})):  # fmt: skip
        fitted = fit_model(cfg, train, 24, 3)
        new_df, x_df, steps = _inputs(fitted.exog, [contract_input(noisy, ORIGINS[0], 24)])
        assert _lean_loop(fitted.model, steps, new_df, x_df) is None
        pd.testing.assert_frame_equal(predict_recursive(fitted.model, steps, new_df, x_df),
                                      _mlforecast(fitted.model, steps, new_df, x_df))  # fmt: skip


def test_future_rows_that_miss_an_hour_fall_back_to_mlforecast(noisy: pd.DataFrame) -> None:
    fitted = fit_model(LEVEL, noisy[noisy["datetime_utc"] <= ORIGINS[0]], 24, 3)
    new_df, x_df, steps = _inputs(fitted.exog, [contract_input(noisy, ORIGINS[0], 24)])
    assert x_df is not None
    assert _lean_loop(fitted.model, steps, new_df, x_df.drop(index=x_df.index[5])) is None
