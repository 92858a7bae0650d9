"""A scheduled retrain refreshes the champion's own configuration, read from its registered params.

The `retrain` profile backtests two LightGBMs a day; a champion the full model search crowned
(an ensemble, the log-change model that wins on aggregated totals, a tuned winner) is none of them,
and without this it could never be replaced by a fresher copy of itself. The registry here is a
stand-in object (only `get(alias=...)` is used), so the test needs no MLflow store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from energy_core.registry import ModelNotFound
from energy_training.config import ConfigError, config_from_params, load_profile
from energy_training.pipeline import champion_config


def logged(cfg: Any) -> dict[str, str]:
    """What the pipeline logs on a registered version (pipeline._register)."""
    return {f"{cfg.name}.{k}": json.dumps(v) for k, v in cfg.as_dict().items()}


@pytest.mark.parametrize("profile", ["full", "smoke", "weak"])
def test_every_shipped_configuration_comes_back_from_its_logged_params(profile: str) -> None:
    for cfg in load_profile(profile).models:
        params = {**logged(cfg), "other_model.family": json.dumps("lightgbm"), "threads": "2"}
        assert config_from_params(cfg.name, params) == cfg


def test_a_tuned_winner_comes_back_with_its_tuned_parameters() -> None:
    tuned = load_profile("full").model("lightgbm_recursive").with_params("lightgbm_recursive_tuned", num_leaves=71)
    assert config_from_params(tuned.name, logged(tuned)).params["num_leaves"] == 71


def test_params_of_a_version_this_pipeline_did_not_register_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"no 'foreign\.family' param"):
        config_from_params("foreign", {"foreign.lags": "[1]"})


@dataclass
class Version:
    version: int
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Registry:
    champion: Version | None

    def get(self, version: int | None = None, alias: str | None = None) -> Version:
        if self.champion is None:
            raise ModelNotFound("no champion")
        return self.champion


def test_the_retrain_profile_adds_a_champion_it_does_not_train_and_only_then() -> None:
    retrain, full = load_profile("retrain"), load_profile("full")
    assert retrain.refresh_champion and not full.refresh_champion
    candidates = list(retrain.models)
    log_model = full.model("lightgbm_recursive_log")
    champion = Version(4, {"model_config": log_model.name}, logged(log_model))
    assert champion_config(Registry(champion), candidates) == [log_model]
    ensemble = full.model("lightgbm_ensemble")
    assert champion_config(Registry(Version(5, {"model_config": ensemble.name}, logged(ensemble))), candidates) == [
        ensemble
    ]
    same = retrain.model("lightgbm_recursive")
    assert champion_config(Registry(Version(6, {"model_config": same.name}, logged(same))), candidates) == []
    assert champion_config(Registry(None), candidates) == []


def test_a_champion_without_config_params_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    champion = Version(3, {"model_config": "hand_made"}, {})
    assert champion_config(Registry(champion), list(load_profile("retrain").models)) == []
    assert "cannot refresh champion v3's configuration 'hand_made'" in caplog.text
