"""Cold start, piece by piece: what the champion needs, the seasonal-naive-24 fallback, the routing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from energy_batch.cold_start import MIN_INTERVAL_ERRORS, seasonal_naive_24
from energy_batch.exceptions import NoDataAtAsOf
from energy_batch.model_needs import CONTRACT_MIN_HISTORY_HOURS, ModelNeeds, required_history_hours
from energy_batch.series_plan import plan_series
from energy_core.registry import ModelVersionInfo
from energy_core.schemas import UTC_DTYPE

AS_OF = pd.Timestamp("2023-01-22T23:00Z")
H = pd.Timedelta(hours=1)


def info(family: str | None, config: dict[str, object] | None = None) -> ModelVersionInfo:
    """A registry record as training logs it: `<config>.<field>` params holding JSON."""
    params = {f"cfg.{k}": json.dumps(v) for k, v in (config or {}).items()}
    tags = {"model_config": "cfg", **({"model_family": family} if family else {})}
    return ModelVersionInfo("m", 1, [], datetime(2023, 1, 1, tzinfo=UTC), None, params=params, tags=tags)


def history(series: dict[tuple[str, str], int], as_of: pd.Timestamp = AS_OF) -> pd.DataFrame:
    """Feature-view rows: each series has `hours` hourly values ending at `as_of` (value = 100 + hour
    of day + 10 × day index, so yesterday's value differs from today's by exactly 10)."""
    rows = []
    for (area, consumer_type), hours in series.items():
        for k in range(hours):
            t = as_of - (hours - 1 - k) * H
            rows.append((area, consumer_type, t, 100.0 + t.hour + 10.0 * t.dayofyear))
    frame = pd.DataFrame(rows, columns=["area", "consumer_type", "datetime_utc", "energy_consumption_kwh"])
    frame["datetime_utc"] = frame["datetime_utc"].astype(UTC_DTYPE)
    for col in ("area", "consumer_type"):
        frame[col] = frame[col].astype("string")
    return frame


def series(*pairs: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"area": pd.Series([p[0] for p in pairs], dtype="string"),
         "consumer_type": pd.Series([p[1] for p in pairs], dtype="string")}
    )


# ------------------------------------------------------------------------------ what the model needs
def test_lightgbm_needs_its_longest_lag_plus_rolling_window() -> None:
    lightgbm = info("lightgbm", {"lags": [1, 24, 168], "lag_transforms": {"24": ["rolling_mean_168"],
                                                                         "168": ["rolling_mean_24", "expanding_mean"]}})
    assert required_history_hours(lightgbm) == 168 + 24 - 1  # lag 168 with a 24 h window (and 24 + 167)


def test_nhits_needs_its_input_window_and_the_contract_floor_holds_for_short_models() -> None:
    assert required_history_hours(info("nhits", {"params": {"input_size": 336}})) == 336
    assert required_history_hours(info("seasonal_naive_24")) == CONTRACT_MIN_HISTORY_HOURS
    assert required_history_hours(info("seasonal_naive_336")) == 336
    assert required_history_hours(info(None)) == CONTRACT_MIN_HISTORY_HOURS


# --------------------------------------------------------------------------------- seasonal naive 24
def test_naive_forecast_is_yesterdays_value_with_no_interval_on_a_short_history() -> None:
    frame = history({("DK1", "new"): 30})

    out, failed = seasonal_naive_24(frame, series(("DK1", "new")), AS_OF, 24)

    assert failed == {}
    assert out["hours_ahead"].tolist() == list(range(1, 25))
    assert (out["datetime_utc"] == AS_OF + pd.to_timedelta(out["hours_ahead"], unit="h")).all()
    by_time = frame.set_index("datetime_utc")["energy_consumption_kwh"]
    expected = by_time.loc[out["datetime_utc"] - pd.Timedelta(hours=24)].to_numpy()
    assert out["prediction_kwh"].to_numpy() == pytest.approx(expected)
    assert out[["prediction_q10_kwh", "prediction_q90_kwh"]].isna().all().all()  # 6 errors < 24


def test_naive_interval_comes_from_the_series_own_day_over_day_errors() -> None:
    frame = history({("DK1", "111"): 24 + MIN_INTERVAL_ERRORS})  # each day is 10 kWh above the one before

    out, _ = seasonal_naive_24(frame, series(("DK1", "111")), AS_OF, 24)

    # every error is +10, so q10 = q90 = point + 10 (the point itself stays the lower bound)
    assert (out["prediction_q10_kwh"] == out["prediction_kwh"]).all()
    assert out["prediction_q90_kwh"].to_numpy() == pytest.approx(out["prediction_kwh"].to_numpy() + 10)


def test_a_missing_hour_yesterday_falls_back_to_the_same_hour_a_day_earlier() -> None:
    frame = history({("DK1", "111"): 72})
    gap = AS_OF - 23 * H  # yesterday's value for target AS_OF + 1h
    frame = frame[frame["datetime_utc"] != gap]

    out, _ = seasonal_naive_24(frame, series(("DK1", "111")), AS_OF, 24)

    first = out.loc[out["hours_ahead"] == 1, "prediction_kwh"].item()
    two_days_back = frame.set_index("datetime_utc").loc[gap - 24 * H, "energy_consumption_kwh"]
    assert first == pytest.approx(two_days_back)


def test_a_series_missing_a_target_hour_on_every_earlier_day_is_not_forecast() -> None:
    frame = history({("DK1", "111"): 24 * 8, ("DK1", "112"): 48})
    blind = (frame["consumer_type"] == "111") & (frame["datetime_utc"].dt.hour == (AS_OF + H).hour)
    frame = frame[~blind]

    out, failed = seasonal_naive_24(frame, series(("DK1", "111"), ("DK1", "112")), AS_OF, 24)

    assert set(out["consumer_type"]) == {"112"}
    assert "no value at the same hour" in failed["DK1|111"]


# ---------------------------------------------------------------------------------------- routing
def test_series_are_routed_by_history_and_by_what_the_model_was_trained_on() -> None:
    frame = history({("DK1", "old"): 200, ("DK1", "unseen"): 200, ("DK1", "young"): 30, ("DK2", "tiny"): 10})
    stale = history({("DK2", "stale"): 50}, as_of=AS_OF - 5 * H)
    frame = pd.concat([frame, stale], ignore_index=True)
    leaves = frame[["area", "consumer_type"]].drop_duplicates()
    needs = ModelNeeds(history_hours=168, trained_series=frozenset({"DK1|old", "DK1|young", "DK2|tiny"}),
                       training_dataset_version=3)

    plan = plan_series(frame, leaves, AS_OF, needs, "m v1 (lightgbm)")

    assert plan.model.astype(str).values.tolist() == [["DK1", "old"]]
    assert plan.naive.astype(str).values.tolist() == [["DK1", "unseen"], ["DK1", "young"]]
    cold = {n.series_id: n for n in plan.cold_start}
    assert "not in the training data of m v1 (lightgbm) (dataset #3)" in cold["DK1|unseen"].reason
    assert (cold["DK1|young"].hours_of_history, "needs 168 h" in cold["DK1|young"].reason) == (30, True)
    none = {n.series_id: n for n in plan.not_forecast}
    assert (none["DK2|tiny"].hours_of_history, "needs 24 h" in none["DK2|tiny"].reason) == (10, True)
    assert none["DK2|stale"].reason == "no value at the as-of hour"


def test_series_outside_the_catalogue_are_not_forecast_and_no_leaf_at_the_as_of_hour_fails() -> None:
    frame = history({("DK1", "111"): 200, ("DK1", "112"): 200})
    needs = ModelNeeds(168, None)

    plan = plan_series(frame, series(("DK1", "111")), AS_OF, needs, "m")
    assert plan.model.astype(str).values.tolist() == [["DK1", "111"]]

    with pytest.raises(NoDataAtAsOf):
        plan_series(frame, series(("DK2", "111")), AS_OF, needs, "m")
