"""Profiles and search spaces load from YAML; mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from energy_training.config import ConfigError, load_profile


def test_every_shipped_profile_loads_with_flattened_feature_lists() -> None:
    for name in ("full", "smoke", "weak"):
        profile = load_profile(name)
        assert profile.models
    full = load_profile("full")
    # `[*calendar, *weather]` flattens to one list of column names
    assert "weather_temperature_c" in full.model("lightgbm_recursive_log").exog
    assert "local_hour" in full.model("lightgbm_recursive_log").exog
    assert full.tuning is not None and full.tuning.model == "lightgbm_recursive"
    assert "num_leaves" in full.search_space["lightgbm"]
    assert load_profile("smoke").tuning is None


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known profiles"):
        load_profile("nope")


def test_a_lightgbm_model_without_lags_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("profiles:\n  p:\n    models:\n      - {name: m, family: lightgbm}\n")
    with pytest.raises(ConfigError, match="needs at least one lag"):
        load_profile("p", path)


def test_an_unknown_family_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("profiles:\n  p:\n    models:\n      - {name: m, family: prophet}\n")
    with pytest.raises(ConfigError, match="unknown family 'prophet'"):
        load_profile("p", path)
