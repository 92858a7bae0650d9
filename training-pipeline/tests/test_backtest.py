"""The backtest never hands a model a value from after its origin, and scores every origin."""

from __future__ import annotations

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
