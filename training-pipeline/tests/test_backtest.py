"""The backtest never hands a model a value from after its origin, and scores every origin."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from energy_core.settings import BacktestSettings
from energy_training import backtest
from energy_training.config import ModelConfig
from energy_training.protocol import backtest_protocol


def _protocol(frame: pd.DataFrame):
    return backtest_protocol(frame["datetime_utc"].max(), BacktestSettings(ENERGY_BACKTEST_ORIGINS=3))


def test_contract_input_blanks_every_label_after_the_origin(frame: pd.DataFrame) -> None:
    origin = pd.Timestamp("2023-01-10T05:00Z")
    window = backtest.contract_input(frame, origin, 24)
    after = window[window["datetime_utc"] > origin]
    assert after["energy_consumption_kwh"].isna().all()
    assert after["datetime_utc"].max() == origin + pd.Timedelta(hours=24)
    assert window.loc[window["datetime_utc"] <= origin, "energy_consumption_kwh"].notna().all()


def test_predictor_sees_no_actual_after_any_origin(frame: pd.DataFrame) -> None:
    protocol = _protocol(frame)
    seen: list[tuple[pd.Timestamp, pd.Timestamp]] = []

    def spy(inp: pd.DataFrame) -> pd.DataFrame:
        labelled = inp[inp["energy_consumption_kwh"].notna()]
        future = inp[inp["energy_consumption_kwh"].isna()]
        seen.append((labelled["datetime_utc"].max(), future["datetime_utc"].min()))
        out = future[["area", "consumer_type", "datetime_utc"]].copy()
        out["hours_ahead"] = out.groupby(["area", "consumer_type"]).cumcount() + 1
        out["prediction_kwh"] = out["prediction_q10_kwh"] = out["prediction_q90_kwh"] = 1.0
        return out

    result = backtest.score_predictor(spy, frame, protocol, "spy")
    assert [s[0] for s in seen] == list(protocol.origins)
    assert all(first_future == origin + pd.Timedelta(hours=1) for origin, first_future in seen)
    assert len(result) == 3 * 24 * 2
    assert sorted(result["hours_ahead"].unique()) == list(range(1, 25))
    assert result["actual_kwh"].notna().all()


def test_models_are_fitted_only_on_rows_up_to_the_first_origin(
    frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    protocol = _protocol(frame)
    fitted_on: list[pd.Timestamp] = []
    real_fit = backtest.fit_model

    def spy_fit(cfg, data, horizon, seed, threads=2):
        fitted_on.append(data["datetime_utc"].max())
        return real_fit(cfg, data, horizon, seed, threads)

    monkeypatch.setattr(backtest, "fit_model", spy_fit)
    backtest.backtest_model(ModelConfig("naive", "seasonal_naive_24"), frame, protocol, seed=1)
    assert fitted_on == [protocol.fit_cutoff]


def test_seasonal_naive_24_backtest_forecasts_the_same_hour_a_day_earlier(frame: pd.DataFrame) -> None:
    protocol = _protocol(frame)
    pred = backtest.backtest_model(ModelConfig("naive", "seasonal_naive_24"), frame, protocol, seed=1)
    by_time = frame.set_index(["area", "consumer_type", "datetime_utc"])["energy_consumption_kwh"]
    expected = [
        by_time[(a, c, t - pd.Timedelta(hours=24))]
        for a, c, t in zip(pred["area"], pred["consumer_type"], pred["datetime_utc"], strict=True)
    ]
    assert pred["prediction_kwh"].tolist() == pytest.approx(expected)


def test_candidates_backtested_side_by_side_give_the_rows_of_one_after_the_other(
    frame: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    """Two at once on one-thread fits (`simulate`'s retrains) must not change any number: every
    candidate's rows equal the serial run's, in the candidates' order, and the LightGBM ones
    really ran on the pool's threads (a neural one would run alone, on the caller's)."""
    protocol = _protocol(frame)
    small = {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 5}
    level = ModelConfig("level", "lightgbm", params=small, exog=("local_hour",), lags=(1, 24),
                        intervals="conformal", calibration_origins=2)  # fmt: skip
    change = replace(level, name="change", target_transforms=("diff_24", "standard"))
    cfgs = [ModelConfig("naive", "seasonal_naive_24"), level, change]
    serial = backtest.backtest_models(cfgs, frame, protocol, seed=3, threads=1, parallel=1)
    with caplog.at_level("INFO", logger="energy_training.backtest"):
        together = backtest.backtest_models(cfgs, frame, protocol, seed=3, threads=1, parallel=2)
    for (one, _), (other, _), cfg in zip(serial, together, cfgs, strict=True):
        pd.testing.assert_frame_equal(one, other)
        assert set(one["model"]) == {cfg.name}
    threads = {r.threadName for r in caplog.records if r.getMessage().startswith("backtested")}
    assert threads and all(name.startswith("backtest") for name in threads)


def test_parallel_backtests_fill_the_cores_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENERGY_TRAINING_PARALLEL_BACKTESTS", raising=False)
    monkeypatch.setattr(backtest.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert (backtest.parallel_backtests(1), backtest.parallel_backtests(2), backtest.parallel_backtests(4)) == (2, 1, 1)
    monkeypatch.setenv("ENERGY_TRAINING_PARALLEL_BACKTESTS", "3")
    assert backtest.parallel_backtests(2) == 3
    monkeypatch.setenv("ENERGY_TRAINING_ENGINE", "dask")
    assert backtest.parallel_backtests(1) == 1
