"""One model call for every backtest origin gives the numbers of one call per origin (issue 13).

`forecast_origins` stacks the origins' inputs, each origin's copy of a series a series of its own;
the backtest and the conformal calibration use it because a recursive MLForecast pays its per-step
overhead once per call. These tests compare it with the per-origin calls row for row.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from energy_training.backtest import backtest_model, contract_input, score_predictor
from energy_training.config import ModelConfig
from energy_training.forecaster_model import forecast, forecast_origins, mean_point, stack_origins
from energy_training.models import fit_model
from energy_training.protocol import Protocol

LEVEL = ModelConfig(
    "level",
    "lightgbm",
    params={"n_estimators": 20, "num_leaves": 7, "min_child_samples": 5},
    exog=("local_hour", "is_weekend"),
    lags=(1, 2, 24),
    lag_transforms={1: ("rolling_mean_6", "ewm_0.2"), 24: ("rolling_mean_24", "seasonal_mean_24x3")},
    intervals="conformal",
    calibration_origins=2,
)
CHANGE = replace(LEVEL, name="change", target_transforms=("diff_24", "standard"), intervals="quantile")
LOG = replace(LEVEL, name="log", target_transforms=("log", "standard"), exog=("local_hour", "weather_temperature_c"))
ENSEMBLE = ModelConfig("ensemble", "lightgbm", exog=("local_hour", "is_weekend"), members=(LEVEL, CHANGE),
                       intervals="conformal", calibration_origins=2)  # fmt: skip
DIRECT = replace(LEVEL, name="direct", strategy="direct", lags=(24, 48), lag_transforms={24: ("rolling_mean_24",)},
                 intervals="quantile")  # fmt: skip
CONFIGS = [ModelConfig("naive", "seasonal_naive_24"), ModelConfig("naive168", "seasonal_naive_168"),
           LEVEL, CHANGE, LOG, ENSEMBLE, DIRECT]  # fmt: skip
ORIGINS = tuple(pd.Timestamp("2023-01-18T23:00Z") + pd.Timedelta(hours=24 * k) for k in range(3))


@pytest.fixture
def noisy(frame: pd.DataFrame) -> pd.DataFrame:
    """Three series with noise, so that each origin's forecast differs; one starts late."""
    third = frame[frame["consumer_type"] == "122"].assign(consumer_type="999")
    frame = pd.concat([frame, third], ignore_index=True)
    frame["consumer_type"] = frame["consumer_type"].astype("string")
    rng = np.random.default_rng(7)
    frame["energy_consumption_kwh"] *= 1 + 0.05 * rng.standard_normal(len(frame))
    late = (frame["consumer_type"] == "999") & (frame["datetime_utc"] < pd.Timestamp("2023-01-05T00:00Z"))
    return frame[~late].reset_index(drop=True)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_one_call_for_all_origins_equals_one_call_per_origin(noisy: pd.DataFrame, cfg: ModelConfig) -> None:
    fitted = fit_model(cfg, noisy[noisy["datetime_utc"] <= ORIGINS[0]], 24, 3)
    inputs = [contract_input(noisy, origin, 24) for origin in ORIGINS]
    separate = [forecast(fitted, x) for x in inputs]
    together = forecast_origins(fitted, inputs)
    assert len(together) == len(ORIGINS)
    for got, want in zip(together, separate, strict=True):
        pd.testing.assert_frame_equal(got, want)
    # the origins' forecasts differ (else the comparison could not catch rows from the wrong origin)
    assert not np.allclose(separate[0]["prediction_kwh"], separate[1]["prediction_kwh"])


def test_the_backtest_table_is_the_per_origin_one(noisy: pd.DataFrame) -> None:
    protocol = Protocol(as_of=ORIGINS[-1] + pd.Timedelta(hours=24), origins=ORIGINS, horizon_hours=24)
    table = backtest_model(LEVEL, noisy, protocol, 3)
    fitted = fit_model(LEVEL, noisy[noisy["datetime_utc"] <= ORIGINS[0]], 24, 3)
    reference = score_predictor(lambda x: forecast(fitted, x), noisy, protocol, LEVEL.name)
    pd.testing.assert_frame_equal(table, reference)


def test_stacked_members_mean_equals_the_per_origin_means(noisy: pd.DataFrame) -> None:
    """What the conformal calibration computes on all its origins at once."""
    from energy_training.forecaster_model import split_history_future, to_model_frame

    fitted = fit_model(ENSEMBLE, noisy[noisy["datetime_utc"] <= ORIGINS[0]], 24, 3)
    exogs = [list(m["exog"]) for m in fitted.extra["members"]]
    parts = [split_history_future(to_model_frame(contract_input(noisy, o, 24), fitted.exog)) for o in ORIGINS]
    each = [mean_point(list(fitted.model), exogs, h, f, 24) for h, f in parts]
    history, future = stack_origins(parts)
    np.testing.assert_array_equal(mean_point(list(fitted.model), exogs, history, future, 24), np.concatenate(each))


def test_frames_asking_for_different_steps_are_forecast_apart(noisy: pd.DataFrame) -> None:
    fitted = fit_model(LEVEL, noisy[noisy["datetime_utc"] <= ORIGINS[0]], 24, 3)
    inputs = [contract_input(noisy, ORIGINS[0], 24), contract_input(noisy, ORIGINS[1], 12)]
    together = forecast_origins(fitted, inputs)
    assert [len(t) for t in together] == [72, 36]
    for got, x in zip(together, inputs, strict=True):
        pd.testing.assert_frame_equal(got, forecast(fitted, x))


def test_the_noisy_frame_has_three_series_one_starting_late(noisy: pd.DataFrame) -> None:
    sizes = noisy.groupby(["area", "consumer_type"]).size()
    assert sizes.to_dict() == {("DK1", "111"): 504, ("DK2", "122"): 504, ("DK2", "999"): 408}
