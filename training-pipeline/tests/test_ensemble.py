"""The mean-of-members LightGBM ensemble and the profile/level lag transforms (issue 13)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_training.backtest import contract_input
from energy_training.config import ConfigError, ModelConfig, load_profile
from energy_training.forecaster_model import CONFORMAL_KEY, MEMBERS_KEY, forecast, load_bundle, save_bundle
from energy_training.models import fit_model
from energy_training.models.lightgbm import lag_transforms

ORIGIN = pd.Timestamp("2023-01-20T23:00Z")
LEVEL = ModelConfig(
    "level",
    "lightgbm",
    params={"n_estimators": 20, "num_leaves": 7, "min_child_samples": 5},
    exog=("local_hour", "is_weekend"),
    lags=(1, 24),
    lag_transforms={24: ("rolling_mean_24", "seasonal_mean_24x3")},
    intervals="conformal",
)
CHANGE = replace(
    LEVEL,
    name="change",
    exog=("local_hour",),
    target_transforms=("diff_24", "standard"),
    lag_transforms={1: ("ewm_0.2",)},
    params={**LEVEL.params, "objective": "huber"},
)
ENSEMBLE = ModelConfig(
    "ensemble", "lightgbm", exog=("local_hour", "is_weekend"), members=(LEVEL, CHANGE), intervals="conformal"
)


def test_the_ensemble_serves_the_mean_of_its_members_and_survives_the_bundle(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    train = frame[frame["datetime_utc"] <= ORIGIN]
    inp = contract_input(frame, ORIGIN, 24)
    members = [forecast(fit_model(m, train, 24, 3), inp)["prediction_kwh"].to_numpy() for m in (LEVEL, CHANGE)]
    assert not np.allclose(members[0], members[1])  # two different models, or the test proves nothing
    fitted = fit_model(ENSEMBLE, train, 24, 3)
    assert len(fitted.model) == 2
    assert fitted.extra[MEMBERS_KEY] == [
        {"config": "level", "exog": ["local_hour", "is_weekend"]},
        {"config": "change", "exog": ["local_hour"]},
    ]
    out = forecast(fitted, inp)
    np.testing.assert_allclose(out["prediction_kwh"].to_numpy(), np.maximum((members[0] + members[1]) / 2, 0.0))
    assert len(fitted.extra[CONFORMAL_KEY]["lo"]) == 24
    assert (out["prediction_q10_kwh"] <= out["prediction_kwh"]).all()
    assert (out["prediction_kwh"] <= out["prediction_q90_kwh"]).all()
    pd.testing.assert_frame_equal(out, forecast(load_bundle(save_bundle(fitted, tmp_path / "b")), inp))
    # the model card's importance sums the members' gains per feature (each member has its own)
    from energy_training.pipeline import _feature_importance

    importance = _feature_importance(fitted)
    assert importance is not None and importance.index.is_unique
    assert {"lag1", "lag24", "is_weekend"} <= set(importance.index)
    assert any(name.startswith("seasonal_rolling_mean") for name in importance.index)  # the level member's
    assert any(name.startswith("exponentially_weighted_mean") for name in importance.index)  # the change member's


def test_profile_and_level_transforms_are_built_and_bad_names_are_refused() -> None:
    built = lag_transforms({24: ("seasonal_mean_24x7",), 1: ("ewm_0.1", "rolling_max_6")})
    seasonal, ewm = built[24][0], built[1][0]
    assert type(seasonal).__name__ == "SeasonalRollingMean"
    assert (seasonal.season_length, seasonal.window_size) == (24, 7)
    assert type(ewm).__name__ == "ExponentiallyWeightedMean" and ewm.alpha == pytest.approx(0.1)
    for bad in ("ewm_1.5", "ewm_x", "seasonal_mean_24", "seasonal_mean_24x", "median_3"):
        with pytest.raises(ValueError, match="unknown lag transform"):
            lag_transforms({1: (bad,)})


def test_the_full_profile_ensemble_resolves_its_members() -> None:
    ensemble = load_profile("full").model("lightgbm_ensemble")
    assert [m.name for m in ensemble.members] == [
        "lightgbm_recursive",
        "lightgbm_recursive_diff",
        "lightgbm_recursive_ewm",
    ]
    assert set(ensemble.exog) == {c for m in ensemble.members for c in m.exog}
    assert ensemble.as_dict()["members"][1]["target_transforms"] == ["diff_24", "standard"]


@pytest.mark.parametrize(
    ("ensemble", "message"),
    [
        ("{name: e, family: lightgbm, members: [a], intervals: conformal}", "at least two distinct members"),
        ("{name: e, family: lightgbm, members: [a, zz], intervals: conformal}", "'zz'\\] not in the profile"),
        ("{name: e, family: lightgbm, members: [a, d], intervals: conformal}", "\\['d'\\] is not"),
        ("{name: e, family: lightgbm, members: [a, b]}", "needs `intervals: conformal`"),
    ],
)
def test_bad_ensembles_are_named(tmp_path: Path, ensemble: str, message: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        "profiles:\n  p:\n    models:\n"
        "      - {name: a, family: lightgbm, lags: [1]}\n"
        "      - {name: b, family: lightgbm, lags: [2]}\n"
        "      - {name: d, family: lightgbm, strategy: direct, lags: [24]}\n"
        f"      - {ensemble}\n"
    )
    with pytest.raises(ConfigError, match=message):
        load_profile("p", path)


def test_tuning_adds_a_tuned_copy_of_every_ensemble_holding_the_tuned_model() -> None:
    from energy_training.pipeline import tuned_ensembles

    profile = load_profile("full")
    assert profile.tuning is not None
    base = profile.model(profile.tuning.model)
    tuned = base.with_params(f"{base.name}_tuned", num_leaves=63)
    (copy,) = tuned_ensembles(profile.models, base.name, tuned)
    assert copy.name == "lightgbm_ensemble_tuned"
    assert [m.name for m in copy.members] == [
        "lightgbm_recursive_tuned",
        "lightgbm_recursive_diff",
        "lightgbm_recursive_ewm",
    ]
    assert copy.members[0].params["num_leaves"] == 63
    assert tuned_ensembles(profile.models, "lightgbm_direct", tuned) == []
