"""The backtest protocol: origins, horizon, and tuning kept out of the backtest window."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_core.settings import BacktestSettings
from energy_training.protocol import backtest_protocol, tuning_protocol, utc_hour

T = "2023-01-24T22:00Z"


def test_scorecard_protocol_has_seven_daily_origins_ending_a_day_before_as_of() -> None:
    p = backtest_protocol(T, BacktestSettings())
    assert p.origins[0] == pd.Timestamp("2023-01-17T22:00Z")
    assert p.origins[-1] == pd.Timestamp("2023-01-23T22:00Z")
    assert len(p.origins) == 7
    assert p.horizon_hours == 24
    assert p.fit_cutoff == p.origins[0]


def test_protocol_parameters_come_from_settings() -> None:
    settings = BacktestSettings(ENERGY_BACKTEST_ORIGINS=3, ENERGY_BACKTEST_STEP_HOURS=12, ENERGY_HORIZON_HOURS=6)
    p = backtest_protocol(T, settings)
    assert list(p.origins) == [pd.Timestamp(T) - pd.Timedelta(hours=12 * k) for k in (3, 2, 1)]
    assert p.horizon_hours == 6


def test_tuning_origins_end_before_the_first_backtest_origin() -> None:
    settings = BacktestSettings()
    main = backtest_protocol(T, settings)
    tuning = tuning_protocol(main, 3, settings)
    last_tuning_target = tuning.origins[-1] + pd.Timedelta(hours=tuning.horizon_hours)
    assert last_tuning_target <= main.fit_cutoff
    assert len(tuning.origins) == 3


def test_as_of_must_be_a_whole_hour_and_naive_times_are_utc() -> None:
    assert utc_hour("2023-01-24T22:00") == pd.Timestamp("2023-01-24T22:00Z")
    with pytest.raises(ValueError, match="not on the hour"):
        utc_hour("2023-01-24T22:30Z")
