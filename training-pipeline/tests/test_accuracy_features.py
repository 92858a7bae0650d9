"""Model-side calendar features, Christmas down-weighting, target transforms, conformal intervals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_core.settings import BacktestSettings
from energy_training import backtest
from energy_training.backtest import contract_input
from energy_training.config import ConfigError, ModelConfig, load_profile
from energy_training.forecaster_model import (
    CONFORMAL_KEY,
    FittedForecaster,
    derived_feature,
    forecast,
    load_bundle,
    save_bundle,
    to_model_frame,
)
from energy_training.models import fit_model
from energy_training.models.lightgbm import sample_weights, training_data
from energy_training.protocol import backtest_protocol

ORIGIN = pd.Timestamp("2023-01-20T23:00Z")
TINY = ModelConfig(
    "tiny",
    "lightgbm",
    params={"n_estimators": 20, "num_leaves": 7, "min_child_samples": 5},
    exog=("local_hour", "is_weekend", "christmas_window"),
    lags=(1, 24),
    lag_transforms={24: ("rolling_mean_24",)},
)


def _utc(*stamps: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(stamps), utc=True, format="ISO8601"))


def test_christmas_window_is_dec_24_to_jan_1_in_danish_local_time() -> None:
    # 23:30 UTC on Dec 23 is already Dec 24 in Copenhagen (UTC+1); 23:00 UTC on Jan 1 is Jan 2.
    hours = _utc("2022-12-23T22:00Z", "2022-12-23T23:00Z", "2023-01-01T22:00Z", "2023-01-01T23:00Z")
    assert derived_feature("christmas_window", hours).tolist() == [0.0, 1.0, 1.0, 0.0]


def test_days_to_new_year_is_signed_and_clipped() -> None:
    hours = _utc("2022-12-24T12:00Z", "2023-01-01T12:00Z", "2023-01-03T12:00Z", "2023-01-24T12:00Z", "2022-11-01")
    assert derived_feature("days_to_new_year", hours).tolist() == [-8.0, 0.0, 2.0, 14.0, -14.0]


def test_a_derived_feature_is_computed_when_the_input_lacks_it_and_unknown_columns_are_named(
    frame: pd.DataFrame,
) -> None:
    out = to_model_frame(frame, ["local_hour", "christmas_window"])
    assert out["christmas_window"].isin([0.0, 1.0]).all()
    assert out.loc[out["ds"] == pd.Timestamp("2023-01-01T00:00"), "christmas_window"].eq(1.0).all()
    with pytest.raises(ValueError, match="days_to_xmas"):
        to_model_frame(frame, ["days_to_xmas"])
    with pytest.raises(ValueError, match="unknown derived feature"):
        derived_feature("days_to_xmas", frame["datetime_utc"])


def test_christmas_window_rows_get_the_configured_weight(frame: pd.DataFrame) -> None:
    data, _ = training_data(TINY, frame)
    assert sample_weights(TINY, data) is None
    weights = sample_weights(replace(TINY, christmas_window_weight=0.25), data)
    assert weights is not None
    inside = data["ds"] < pd.Timestamp("2023-01-01T23:00")  # Jan 1 local ends at 23:00 UTC
    assert weights[inside].eq(0.25).all() and weights[~inside].eq(1.0).all()


def test_down_weighting_and_target_transforms_change_the_fitted_model(frame: pd.DataFrame) -> None:
    # Three weeks from Dec 18, with a Christmas dip, so the window holds rows past the lag warm-up.
    shift = pd.Timedelta(days=14)
    winter = frame.assign(datetime_utc=frame["datetime_utc"] - shift)
    inside = derived_feature("christmas_window", winter["datetime_utc"]) > 0
    winter.loc[inside, "energy_consumption_kwh"] *= 0.5
    train = winter[winter["datetime_utc"] <= ORIGIN - shift]
    inp = contract_input(winter, ORIGIN - shift, 24)
    plain = fit_model(TINY, train, 24, 1)
    assert "sample_weight" not in plain.model.ts.features_order_
    base = forecast(plain, inp)["prediction_kwh"]
    variants = (
        replace(TINY, christmas_window_weight=0.1),
        replace(TINY, target_transforms=("log", "standard")),
        replace(TINY, target_transforms=("diff_24", "standard")),
    )
    for variant in variants:
        fitted = fit_model(variant, train, 24, 1)
        assert "sample_weight" not in fitted.model.ts.features_order_
        other = forecast(fitted, inp)["prediction_kwh"]
        assert other.notna().all() and (other > 0).all()
        assert not np.allclose(base.to_numpy(), other.to_numpy())


def test_conformal_intervals_bracket_the_point_and_survive_the_bundle(frame: pd.DataFrame, tmp_path: Path) -> None:
    cfg = replace(TINY, intervals="conformal", calibration_origins=3)
    fitted = fit_model(cfg, frame[frame["datetime_utc"] <= ORIGIN], 24, 3)
    band = fitted.extra[CONFORMAL_KEY]
    assert len(band["lo"]) == len(band["hi"]) == 24
    assert all(lo <= hi for lo, hi in zip(band["lo"], band["hi"], strict=True))
    assert set(fitted.model.models_) == {"point"}  # no quantile regressors to fit or serve
    inp = contract_input(frame, ORIGIN, 24)
    out = forecast(fitted, inp)
    assert (out["prediction_q10_kwh"] <= out["prediction_kwh"]).all()
    assert (out["prediction_kwh"] <= out["prediction_q90_kwh"]).all()
    assert (out["prediction_q90_kwh"] > out["prediction_q10_kwh"]).any()
    pd.testing.assert_frame_equal(out, forecast(load_bundle(save_bundle(fitted, tmp_path / "b")), inp))


def test_conformal_calibration_without_enough_history_is_refused(frame: pd.DataFrame) -> None:
    short = frame[frame["datetime_utc"] <= pd.Timestamp("2023-01-10T23:00Z")]
    with pytest.raises(ValueError, match="calibration needs"):
        fit_model(replace(TINY, intervals="conformal", calibration_origins=3), short, 24, 3)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("target_transforms: [boxcox]", "target_transforms \\['boxcox'\\] unknown"),
        ("christmas_window_weight: 0", "christmas_window_weight must be in"),
        ("intervals: bootstrap", "intervals must be one of"),
        ("{intervals: conformal, calibration_origins: 0}", "calibration_origins >= 1"),
    ],
)
def test_bad_accuracy_options_are_named(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "models.yaml"
    extra = entry.strip("{}")
    path.write_text(f"profiles:\n  p:\n    models:\n      - {{name: m, family: lightgbm, lags: [1], {extra}}}\n")
    with pytest.raises(ConfigError, match=message):
        load_profile("p", path)


def test_refit_cadence_fits_at_the_right_origins_and_fit_once_equals_the_scorecard_backtest(
    frame: pd.DataFrame,
) -> None:
    protocol = backtest_protocol(frame["datetime_utc"].max(), BacktestSettings(ENERGY_BACKTEST_ORIGINS=3))
    cfg = replace(TINY, exog=("local_hour", "is_weekend"))
    daily: dict[pd.Timestamp, FittedForecaster] = {}
    every_day = backtest.backtest_with_refits(cfg, frame, protocol, 5, refit_every=1, fits=daily)
    assert sorted(daily) == list(protocol.origins)
    assert len(every_day) == len(backtest.backtest_model(cfg, frame, protocol, 5))
    once: dict[pd.Timestamp, FittedForecaster] = {}
    fit_once = backtest.backtest_with_refits(cfg, frame, protocol, 5, refit_every=3, fits=once)
    assert list(once) == [protocol.origins[0]]
    pd.testing.assert_frame_equal(fit_once, backtest.backtest_model(cfg, frame, protocol, 5))
    with pytest.raises(ValueError, match="refit_every must be >= 1"):
        backtest.backtest_with_refits(cfg, frame, protocol, 5, refit_every=0)
