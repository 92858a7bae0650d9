"""The registered model's contract: inputs, outputs, gaps, bundles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_core.schemas import FORECAST_OUTPUT_COLUMNS
from energy_training.backtest import contract_input
from energy_training.config import ModelConfig
from energy_training.forecaster_model import forecast, load_bundle, save_bundle
from energy_training.models import fit_model

ORIGIN = pd.Timestamp("2023-01-20T23:00Z")
TINY_LGBM = ModelConfig(
    "tiny",
    "lightgbm",
    params={"n_estimators": 20, "num_leaves": 7, "min_child_samples": 5},
    exog=("local_hour", "is_weekend", "weather_temperature_c"),
    lags=(1, 24),
    lag_transforms={24: ("rolling_mean_24",)},
)


def test_output_has_the_contract_columns_and_hours_ahead_1_to_24(frame: pd.DataFrame) -> None:
    fitted = fit_model(ModelConfig("n", "seasonal_naive_24"), frame, 24, 1)
    out = forecast(fitted, contract_input(frame, ORIGIN, 24))
    assert tuple(out.columns) == FORECAST_OUTPUT_COLUMNS
    assert len(out) == 48
    assert out.groupby("consumer_type")["hours_ahead"].apply(list).map(lambda h: h == list(range(1, 25))).all()
    assert str(out["datetime_utc"].dtype) == "datetime64[us, UTC]"
    assert (out["prediction_q10_kwh"] <= out["prediction_kwh"]).all()
    assert (out["prediction_kwh"] <= out["prediction_q90_kwh"]).all()


def test_a_missing_history_hour_is_filled_not_shifting_the_lags(frame: pd.DataFrame) -> None:
    fitted = fit_model(ModelConfig("n", "seasonal_naive_24"), frame, 24, 1)
    full = forecast(fitted, contract_input(frame, ORIGIN, 24))
    gap_time = ORIGIN - pd.Timedelta(hours=100)
    with_gap = contract_input(frame[frame["datetime_utc"] != gap_time], ORIGIN, 24)
    pd.testing.assert_frame_equal(forecast(fitted, with_gap), full)


def test_future_rows_must_follow_the_last_label_without_holes(frame: pd.DataFrame) -> None:
    fitted = fit_model(ModelConfig("n", "seasonal_naive_24"), frame, 24, 1)
    inp = contract_input(frame, ORIGIN, 24)
    holey = inp[inp["datetime_utc"] != ORIGIN + pd.Timedelta(hours=3)]
    with pytest.raises(ValueError, match="not the consecutive hours"):
        forecast(fitted, holey)


def test_missing_columns_are_named(frame: pd.DataFrame) -> None:
    fitted = fit_model(TINY_LGBM, frame, 24, 1)
    with pytest.raises(ValueError, match="weather_temperature_c"):
        forecast(fitted, contract_input(frame, ORIGIN, 24).drop(columns="weather_temperature_c"))


def test_asking_beyond_the_trained_horizon_is_refused(frame: pd.DataFrame) -> None:
    fitted = fit_model(TINY_LGBM, frame, 12, 1)
    with pytest.raises(ValueError, match="at most 12 hours"):
        forecast(fitted, contract_input(frame, ORIGIN, 24))


def test_lightgbm_bundle_round_trip_predicts_identically(frame: pd.DataFrame, tmp_path: Path) -> None:
    fitted = fit_model(TINY_LGBM, frame[frame["datetime_utc"] <= ORIGIN], 24, 7)
    inp = contract_input(frame, ORIGIN, 24)
    before = forecast(fitted, inp)
    after = forecast(load_bundle(save_bundle(fitted, tmp_path / "bundle")), inp)
    pd.testing.assert_frame_equal(before, after)
    assert before["prediction_kwh"].notna().all()


def test_same_seed_and_data_give_identical_lightgbm_forecasts(frame: pd.DataFrame) -> None:
    train = frame[frame["datetime_utc"] <= ORIGIN]
    inp = contract_input(frame, ORIGIN, 24)
    first = forecast(fit_model(TINY_LGBM, train, 24, 42), inp)
    second = forecast(fit_model(TINY_LGBM, train, 24, 42), inp)
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.parametrize("season", [24, 168])
def test_all_series_seasonal_naive_matches_the_per_series_reference(frame: pd.DataFrame, season: int) -> None:
    """The vectorised baseline gives the per-series loop's numbers: a series too young for one
    season (no point, no errors), horizons past one season, a filled gap and an unsorted future."""
    from energy_training.forecaster_model import _seasonal_naive, split_history_future, to_model_frame

    origin = ORIGIN - pd.Timedelta(hours=24)
    inp = contract_input(frame, origin, 48)
    inp = inp[inp["datetime_utc"] != origin - pd.Timedelta(hours=30)]  # a gap regular_history fills
    young = inp[inp["datetime_utc"] > origin - pd.Timedelta(hours=20)].assign(consumer_type="young")
    history, future = split_history_future(to_model_frame(pd.concat([inp, young]), []))
    assert history["unique_id"].str.endswith("young").any() and future.groupby("unique_id").size().max() == 48
    expected = _seasonal_naive_by_series(history, future, season)
    for got, want in zip(_seasonal_naive(history, future, season), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9, equal_nan=True)
    assert np.isnan(expected[0][future["unique_id"].str.endswith("young").to_numpy()]).any()


def _seasonal_naive_by_series(history: pd.DataFrame, future: pd.DataFrame, season: int) -> tuple[np.ndarray, ...]:
    """The per-series reference for `_seasonal_naive` (same numbers, one series at a time)."""
    points, lows, highs = [], [], []
    by_series = dict(tuple(history.groupby("unique_id", sort=False)))
    for uid, group in future.groupby("unique_id", sort=False):
        known = by_series[uid].set_index("ds")["y"]
        steps = np.arange(1, len(group) + 1)
        back = pd.to_timedelta(season * np.ceil(steps / season), unit="h")
        point = known.reindex(group["ds"].to_numpy() - back).to_numpy(dtype="float64")
        errors = (known - known.shift(season)).dropna().to_numpy(dtype="float64")
        low, high = np.quantile(errors, [0.1, 0.9]) if len(errors) else (0.0, 0.0)
        points.append(point)
        lows.append(point + low)
        highs.append(point + high)
    # `future` is sorted by unique_id then ds (to_model_frame), so the concatenation lines up.
    return np.concatenate(points), np.concatenate(lows), np.concatenate(highs)
