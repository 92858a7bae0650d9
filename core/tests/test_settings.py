"""Settings: each class reads its documented variables, and bad configuration fails at start-up
with a SettingsError naming the variable, never deep inside a job.

Every test runs in an empty temporary directory with every settings variable removed from the
environment, so neither a developer's `.env` nor their shell leaks in.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from energy_core.settings import (
    AlertSettings,
    ApiSettings,
    BacktestSettings,
    DashboardSettings,
    DataSourceSettings,
    FeatureStoreSettings,
    HomeSettings,
    RegistrySettings,
    SettingsError,
    TrackingSettings,
    TrainingEngineSettings,
    load,
)

SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (
    HomeSettings,
    FeatureStoreSettings,
    RegistrySettings,
    TrackingSettings,
    DataSourceSettings,
    BacktestSettings,
    ApiSettings,
    DashboardSettings,
    AlertSettings,
    TrainingEngineSettings,
)


def variable_names(cls: type[BaseSettings]) -> set[str]:
    return {field.alias for field in cls.model_fields.values() if field.alias}


ALL_VARIABLES = set().union(*(variable_names(cls) for cls in SETTINGS_CLASSES))
ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize(
    ("cls", "variable", "raw", "attribute", "expected"),
    [
        (FeatureStoreSettings, "ENERGY_FEATURE_STORE", "embedded", "backend", "embedded"),
        (FeatureStoreSettings, "HOPSWORKS_PORT", "8443", "hopsworks_port", 8443),
        (FeatureStoreSettings, "ENERGY_FS_LOCK_TIMEOUT_S", "2.5", "lock_timeout_s", 2.5),
        (RegistrySettings, "MLFLOW_TRACKING_URI", "http://mlflow:5000", "tracking_uri", "http://mlflow:5000"),
        (RegistrySettings, "MLFLOW_REGISTRY_URI", "sqlite:///r.db", "registry_uri", "sqlite:///r.db"),
        (RegistrySettings, "ENERGY_MODEL_NAME", "m", "model_name", "m"),
        (RegistrySettings, "ENERGY_EXPERIMENT_NAME", "e", "experiment_name", "e"),
        (TrackingSettings, "WANDB_MODE", "disabled", "wandb_mode", "disabled"),
        (TrackingSettings, "WANDB_PROJECT", "p", "wandb_project", "p"),
        (TrackingSettings, "WANDB_ENTITY", "team", "wandb_entity", "team"),
        (DataSourceSettings, "ENERGY_SOURCE", "api", "source", "api"),
        (DataSourceSettings, "ENERGY_SNAPSHOT_DIR", "/data/snap", "snapshot_dir", Path("/data/snap")),
        (DataSourceSettings, "ENERGY_EDS_PAGE_SIZE", "500", "eds_page_size", 500),
        (DataSourceSettings, "ENERGY_PUBLICATION_LAG_HOURS", "6", "publication_lag_hours", 6),
        (DataSourceSettings, "ENERGY_WEATHER_STATIONS", '{"DK1": "06030"}', "weather_stations", {"DK1": "06030"}),
        (BacktestSettings, "ENERGY_BACKTEST_ORIGINS", "14", "origins", 14),
        (BacktestSettings, "ENERGY_MIN_GAIN_OVER_NAIVE", "0.2", "min_gain_over_naive", 0.2),
        (BacktestSettings, "ENERGY_MANUAL_APPROVAL", "true", "manual_approval", True),
        (ApiSettings, "ENERGY_API_PORT", "9000", "port", 9000),
        (ApiSettings, "ENERGY_API_CORS_ORIGINS", '["http://x:1"]', "cors_origins", ["http://x:1"]),
        (DashboardSettings, "ENERGY_API_URL", "http://api:8001", "api_url", "http://api:8001"),
        (DashboardSettings, "ENERGY_DASHBOARD_TIMEOUT_S", "1.5", "request_timeout_s", 1.5),
        (AlertSettings, "ENERGY_PSI_ALERT", "0.3", "psi_alert", 0.3),
        (AlertSettings, "ENERGY_ERROR_RATIO_WARN", "1.1", "error_ratio_warn", 1.1),
        (TrainingEngineSettings, "ENERGY_TRAINING_ENGINE", "dask", "engine", "dask"),
        (TrainingEngineSettings, "ENERGY_DASK_SCHEDULER", "tcp://10.0.0.5:8786", "dask_scheduler", "tcp://10.0.0.5:8786"),
        (TrainingEngineSettings, "ENERGY_DASK_SCHEDULER", "", "dask_scheduler", None),
        (TrainingEngineSettings, "ENERGY_DASK_WORKERS", "4", "dask_workers", 4),
        (TrainingEngineSettings, "ENERGY_DASK_PARTITIONS", "8", "dask_partitions", 8),
    ],
)
def test_each_setting_is_read_from_its_documented_variable(
    monkeypatch: pytest.MonkeyPatch, cls: type[BaseSettings], variable: str, raw: str, attribute: str, expected: Any
) -> None:
    monkeypatch.setenv(variable, raw)

    assert getattr(load(cls), attribute) == expected


@pytest.mark.parametrize("cls", SETTINGS_CLASSES, ids=lambda cls: cls.__name__)
def test_every_class_loads_with_defaults_alone(cls: type[BaseSettings]) -> None:
    assert isinstance(load(cls), cls)


@pytest.mark.parametrize(
    ("cls", "environment", "named"),
    [
        (FeatureStoreSettings, {"ENERGY_FEATURE_STORE": "hopsworks"}, "HOPSWORKS_API_KEY"),
        (
            FeatureStoreSettings,
            {"ENERGY_FEATURE_STORE": "hopsworks", "HOPSWORKS_HOST": "h", "HOPSWORKS_PROJECT": "p"},
            "HOPSWORKS_API_KEY",
        ),
        (FeatureStoreSettings, {"ENERGY_FEATURE_STORE": "s3"}, "ENERGY_FEATURE_STORE"),
        (FeatureStoreSettings, {"ENERGY_FS_LOCK_TIMEOUT_S": "0"}, "ENERGY_FS_LOCK_TIMEOUT_S"),
        (RegistrySettings, {"MLFLOW_TRACKING_URI": "ftp://x"}, "MLFLOW_TRACKING_URI"),
        (TrackingSettings, {"WANDB_MODE": "online"}, "WANDB_API_KEY"),
        (TrackingSettings, {"WANDB_MODE": "sometimes"}, "WANDB_MODE"),
        (TrainingEngineSettings, {"ENERGY_TRAINING_ENGINE": "spark"}, "ENERGY_TRAINING_ENGINE"),
        (TrainingEngineSettings, {"ENERGY_DASK_WORKERS": "0"}, "ENERGY_DASK_WORKERS"),
        (DataSourceSettings, {"ENERGY_EDS_PAGE_SIZE": "many"}, "ENERGY_EDS_PAGE_SIZE"),
        (DataSourceSettings, {"ENERGY_WEATHER_STATIONS": "DK1=06060"}, "ENERGY_WEATHER_STATIONS"),
        (BacktestSettings, {"ENERGY_MIN_GAIN_OVER_NAIVE": "1.5"}, "ENERGY_MIN_GAIN_OVER_NAIVE"),
        (ApiSettings, {"ENERGY_API_PORT": "0"}, "ENERGY_API_PORT"),
        (ApiSettings, {"ENERGY_API_PORT": "65536"}, "ENERGY_API_PORT"),
        (DashboardSettings, {"ENERGY_DASHBOARD_CACHE_TTL_S": "-1"}, "ENERGY_DASHBOARD_CACHE_TTL_S"),
        (AlertSettings, {"ENERGY_PSI_WARN": "-0.1"}, "ENERGY_PSI_WARN"),
    ],
)
def test_invalid_or_missing_variables_raise_a_settings_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, cls: type[BaseSettings], environment: dict[str, str], named: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError, match=rf"{cls.__name__}.*{named}"):
        load(cls)


def test_hopsworks_with_all_credentials_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "ENERGY_FEATURE_STORE": "hopsworks",
        "HOPSWORKS_HOST": "c.app.hopsworks.ai",
        "HOPSWORKS_PROJECT": "energy",
        "HOPSWORKS_API_KEY": "k3y",
    }.items():
        monkeypatch.setenv(name, value)

    settings = load(FeatureStoreSettings)

    assert settings.backend == "hopsworks"
    assert settings.hopsworks_api_key is not None
    assert settings.hopsworks_api_key.get_secret_value() == "k3y"


@pytest.mark.parametrize(
    ("cls", "variable", "attribute"),
    [
        (FeatureStoreSettings, "HOPSWORKS_API_KEY", "hopsworks_api_key"),
        (TrackingSettings, "WANDB_API_KEY", "wandb_api_key"),
        (ApiSettings, "ENERGY_API_KEY", "api_key"),
        (AlertSettings, "ENERGY_ALERT_WEBHOOK_URL", "webhook_url"),
    ],
)
def test_secrets_are_secret_strings_never_shown_in_repr_or_str(
    monkeypatch: pytest.MonkeyPatch, cls: type[BaseSettings], variable: str, attribute: str
) -> None:
    monkeypatch.setenv(variable, "super-secret-value")

    settings = load(cls)

    assert isinstance(getattr(settings, attribute), SecretStr)
    assert getattr(settings, attribute).get_secret_value() == "super-secret-value"
    assert "super-secret-value" not in repr(settings)
    assert "super-secret-value" not in str(settings)
    assert "super-secret-value" not in settings.model_dump_json()


def test_energy_home_paths_resolve_to_absolute_paths_under_it(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    monkeypatch.setenv("ENERGY_HOME", "relative/home")
    home = (clean_environment / "relative" / "home").resolve()

    assert load(HomeSettings).home == home
    assert load(HomeSettings).path("logs", "x.log") == home / "logs" / "x.log"
    assert load(FeatureStoreSettings).root == home / "feature_store"
    registry = load(RegistrySettings)
    assert registry.resolved_tracking_uri == f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    assert registry.artifact_root == home / "mlflow" / "artifacts"
    assert registry.is_embedded
    assert load(TrackingSettings).wandb_dir == home / "wandb"
    assert not (clean_environment / "relative").exists(), "resolving a path must create nothing"


def test_energy_home_expands_the_user_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("ENERGY_HOME", "~/energy")

    assert load(HomeSettings).home == (tmp_path / "user" / "energy").resolve()


def test_default_energy_home_is_dot_energy_in_the_working_directory(clean_environment: Path) -> None:
    assert load(HomeSettings).home == (clean_environment / ".energy").resolve()


def test_a_server_tracking_uri_is_used_as_given_and_is_not_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://mlflow.example.org")

    registry = load(RegistrySettings)

    assert registry.resolved_tracking_uri == "https://mlflow.example.org"
    assert not registry.is_embedded


def test_dotenv_in_the_working_directory_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    (clean_environment / ".env").write_text("ENERGY_API_PORT=9100\nENERGY_API_HOST=0.0.0.0\n")
    monkeypatch.setenv("ENERGY_API_HOST", "10.0.0.5")

    settings = load(ApiSettings)

    assert settings.port == 9100
    assert settings.host == "10.0.0.5"


def test_env_example_documents_every_variable_of_every_settings_class() -> None:
    """Set (`NAME=value`) or, for optional values without a default, commented out (`# NAME=`)."""
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))

    assert ALL_VARIABLES - documented == set()
