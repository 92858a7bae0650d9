"""Typed settings, one class per concern, read from the environment and `.env`.

Why one class per concern: each service reads only what it needs, and a missing or invalid
variable fails at start-up with the variable's name (see `load`), not deep inside a job.
Every variable is documented in `.env.example` at the repository root.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError as _SourceError

_ENV_FILE = ".env"


class _Base(BaseSettings):
    model_config = SettingsConfigDict(env_file=_ENV_FILE, env_file_encoding="utf-8", extra="ignore")


class HomeSettings(_Base):
    """Where the embedded stack writes everything (feature store, MLflow, W&B, logs)."""

    energy_home: Path = Field(default=Path(".energy"), alias="ENERGY_HOME")

    @property
    def home(self) -> Path:
        return self.energy_home.expanduser().resolve()

    def path(self, *parts: str) -> Path:
        """A path inside ENERGY_HOME; creates nothing (callers create what they write)."""
        return self.home.joinpath(*parts)


class HopsworksConnectionSettings(HomeSettings):
    """How to reach a Hopsworks project; shared by the feature store and the model registry."""

    hopsworks_host: str | None = Field(default=None, alias="HOPSWORKS_HOST")
    hopsworks_port: int = Field(default=443, alias="HOPSWORKS_PORT")
    hopsworks_project: str | None = Field(default=None, alias="HOPSWORKS_PROJECT")
    hopsworks_api_key: SecretStr | None = Field(default=None, alias="HOPSWORKS_API_KEY")

    def _require_hopsworks(self, switch: str) -> None:
        """Fail naming every missing variable: `hopsworks.login` prompts when one is absent."""
        missing = [
            name
            for name, value in (
                ("HOPSWORKS_HOST", self.hopsworks_host),
                ("HOPSWORKS_PROJECT", self.hopsworks_project),
                ("HOPSWORKS_API_KEY", self.hopsworks_api_key),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"{switch} needs {', '.join(missing)} to be set")


class FeatureStoreSettings(HopsworksConnectionSettings):
    """Which feature store backend to use and how to reach it."""

    backend: Literal["embedded", "hopsworks"] = Field(default="embedded", alias="ENERGY_FEATURE_STORE")
    lock_timeout_s: float = Field(default=120.0, gt=0, alias="ENERGY_FS_LOCK_TIMEOUT_S")

    @model_validator(mode="after")
    def _hopsworks_needs_credentials(self) -> FeatureStoreSettings:
        if self.backend == "hopsworks":
            self._require_hopsworks("ENERGY_FEATURE_STORE=hopsworks")
        return self

    @property
    def root(self) -> Path:
        return self.path("feature_store")


class RegistrySettings(HopsworksConnectionSettings):
    """Model registry: MLflow (a SQLite file in ENERGY_HOME by default, or an MLflow server), or
    Hopsworks' registry as the primary, mirrored into that MLflow (`ENERGY_MODEL_REGISTRY`)."""

    backend: Literal["mlflow", "hopsworks"] = Field(default="mlflow", alias="ENERGY_MODEL_REGISTRY")
    tracking_uri: str | None = Field(default=None, alias="MLFLOW_TRACKING_URI")
    registry_uri: str | None = Field(default=None, alias="MLFLOW_REGISTRY_URI")
    model_name: str = Field(default="energy-consumption-forecaster", alias="ENERGY_MODEL_NAME")
    experiment_name: str = Field(default="energy-consumption", alias="ENERGY_EXPERIMENT_NAME")

    @model_validator(mode="after")
    def _hopsworks_needs_credentials(self) -> RegistrySettings:
        if self.backend == "hopsworks":
            self._require_hopsworks("ENERGY_MODEL_REGISTRY=hopsworks")
        return self

    @field_validator("tracking_uri")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite:///", "http://", "https://", "file:", "databricks")):
            raise ValueError(
                f"MLFLOW_TRACKING_URI={value!r}: expected sqlite:///..., http(s)://... or file:..."
            )
        return value

    @property
    def resolved_tracking_uri(self) -> str:
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{self.path('mlflow', 'mlflow.db')}"

    @property
    def artifact_root(self) -> Path:
        """Artifact directory used when the tracking store is embedded (not for a server)."""
        return self.path("mlflow", "artifacts")

    @property
    def is_embedded(self) -> bool:
        return self.resolved_tracking_uri.startswith("sqlite:///")


class TrackingSettings(HomeSettings):
    """Experiment tracking in Weights & Biases (offline unless a key and mode say otherwise)."""

    wandb_mode: Literal["offline", "online", "disabled"] = Field(default="offline", alias="WANDB_MODE")
    wandb_project: str = Field(default="energy-consumption", alias="WANDB_PROJECT")
    wandb_entity: str | None = Field(default=None, alias="WANDB_ENTITY")
    wandb_api_key: SecretStr | None = Field(default=None, alias="WANDB_API_KEY")

    @model_validator(mode="after")
    def _online_needs_key(self) -> TrackingSettings:
        if self.wandb_mode == "online" and not self.wandb_api_key:
            raise ValueError("WANDB_MODE=online needs WANDB_API_KEY to be set")
        return self

    @property
    def wandb_dir(self) -> Path:
        return self.path("wandb")


class DataSourceSettings(HomeSettings):
    """Where raw data comes from: the offline snapshot, the live Energi Data Service API, or your own files."""

    source: Literal["snapshot", "api", "files"] = Field(default="snapshot", alias="ENERGY_SOURCE")
    snapshot_dir: Path = Field(default=Path("../shared/data"), alias="ENERGY_SNAPSHOT_DIR")
    # ENERGY_SOURCE=files: a YAML mapping of the user's own hourly series (feature-pipeline README).
    files_mapping: Path | None = Field(default=None, alias="ENERGY_FILES_MAPPING")
    eds_base_url: str = Field(default="https://api.energidataservice.dk", alias="ENERGY_EDS_BASE_URL")
    eds_dataset: str = Field(default="ConsumptionDE35Hour", alias="ENERGY_EDS_DATASET")
    eds_page_size: int = Field(default=10_000, gt=0, alias="ENERGY_EDS_PAGE_SIZE")
    eds_timeout_s: float = Field(default=30.0, gt=0, alias="ENERGY_EDS_TIMEOUT_S")
    eds_max_wait_s: float = Field(default=600.0, gt=0, alias="ENERGY_EDS_MAX_WAIT_S")
    publication_lag_hours: int = Field(default=0, ge=0, alias="ENERGY_PUBLICATION_LAG_HOURS")
    reread_hours: int = Field(default=48, ge=0, alias="ENERGY_REREAD_HOURS")
    initial_history_hours: int = Field(default=720, gt=0, alias="ENERGY_INITIAL_HISTORY_HOURS")
    calendar_ahead_hours: int = Field(default=192, ge=0, alias="ENERGY_CALENDAR_AHEAD_HOURS")
    weather_stations: dict[str, str] = Field(
        default={"DK1": "06060", "DK2": "06180"}, alias="ENERGY_WEATHER_STATIONS"
    )

    @model_validator(mode="after")
    def _files_need_a_mapping(self) -> DataSourceSettings:
        if self.source == "files" and self.files_mapping is None:
            raise ValueError("ENERGY_SOURCE=files needs ENERGY_FILES_MAPPING (path to the YAML mapping) to be set")
        return self

    @property
    def resolved_snapshot_dir(self) -> Path:
        return self.snapshot_dir.expanduser().resolve()


class BacktestSettings(_Base):
    """The fixed backtest protocol. Defaults are the scorecard of record (see issue 4)."""

    origins: int = Field(default=7, gt=0, alias="ENERGY_BACKTEST_ORIGINS")
    horizon_hours: int = Field(default=24, gt=0, alias="ENERGY_HORIZON_HOURS")
    origin_step_hours: int = Field(default=24, gt=0, alias="ENERGY_BACKTEST_STEP_HOURS")
    min_gain_over_naive: float = Field(default=0.15, ge=0, lt=1, alias="ENERGY_MIN_GAIN_OVER_NAIVE")
    manual_approval: bool = Field(default=False, alias="ENERGY_MANUAL_APPROVAL")
    seed: int = Field(default=42, alias="ENERGY_SEED")

    @property
    def horizon(self) -> timedelta:
        return timedelta(hours=self.horizon_hours)


class TrainingEngineSettings(_Base):
    """Where LightGBM training runs: in this process (`local`) or on a Dask cluster (`dask`).

    Why a setting: a portfolio that outgrows one machine moves its training onto a cluster by
    changing the environment, not the code. `dask` with no scheduler address starts a LocalCluster
    of `dask_workers` single-threaded workers in the training process (training-pipeline README).
    """

    engine: Literal["local", "dask"] = Field(default="local", alias="ENERGY_TRAINING_ENGINE")
    dask_scheduler: str | None = Field(default=None, alias="ENERGY_DASK_SCHEDULER")
    dask_workers: int = Field(default=2, gt=0, alias="ENERGY_DASK_WORKERS")
    # Partitions of the training frame (each holds whole series); unset: one per worker.
    dask_partitions: int | None = Field(default=None, gt=0, alias="ENERGY_DASK_PARTITIONS")
    # CPU threads of every local fit (LightGBM's OpenMP team, torch): the default of `training-pipeline
    # run --threads` and of its worker. Two use both cores of a quiet 2-core machine; where other
    # CPU-bound processes share the cores (two test workers, `make test`), 1 is faster: between its
    # OpenMP regions LightGBM's second thread spins, and beside another busy process that spinning
    # made two runs side by side ~5x slower than one thread each (docs/performance.md, "A seventh machine").
    threads: int = Field(default=2, ge=1, alias="ENERGY_TRAINING_THREADS")
    # Candidates backtested at once (each fit on `threads` threads, the candidates on threads of the
    # training process; LightGBM and seasonal naive only, a neural candidate runs alone). Unset: as
    # many as the cores hold, cores // threads, so a 2-thread run on 2 cores backtests one at a time
    # as before and `simulate`'s 1-thread retrains two at once. A candidate's numbers do not depend
    # on it (they depend on its own thread count only).
    parallel_backtests: int | None = Field(default=None, ge=1, alias="ENERGY_TRAINING_PARALLEL_BACKTESTS")

    @field_validator("dask_scheduler", mode="before")
    @classmethod
    def _empty_is_local(cls, value: object) -> object:
        """`ENERGY_DASK_SCHEDULER=` (empty, as in .env.example) means: start a LocalCluster."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("dask_partitions", "parallel_backtests", mode="before")
    @classmethod
    def _empty_partitions_is_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class ApiSettings(_Base):
    """The app-api service."""

    host: str = Field(default="127.0.0.1", alias="ENERGY_API_HOST")
    port: int = Field(default=8001, gt=0, lt=65536, alias="ENERGY_API_PORT")
    api_key: SecretStr | None = Field(default=None, alias="ENERGY_API_KEY")
    cors_origins: list[str] = Field(
        default=["http://127.0.0.1:8501", "http://127.0.0.1:8502", "http://localhost:8501", "http://localhost:8502"],
        alias="ENERGY_API_CORS_ORIGINS",
    )
    cache_ttl_s: float = Field(default=5.0, ge=0, alias="ENERGY_API_CACHE_TTL_S")
    # Bounds that keep memory and latency finite under any traffic (app-api README, "Limits").
    cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0, alias="ENERGY_API_CACHE_MAX_BYTES")
    max_concurrent_builds: int = Field(default=4, ge=1, alias="ENERGY_API_MAX_CONCURRENT_BUILDS")
    max_queued_builds: int = Field(default=16, ge=0, alias="ENERGY_API_MAX_QUEUED_BUILDS")
    queue_timeout_s: float = Field(default=2.0, gt=0, alias="ENERGY_API_QUEUE_TIMEOUT_S")


class DashboardSettings(_Base):
    """The Streamlit dashboards: where the API is and how patient to be with it."""

    api_url: str = Field(default="http://127.0.0.1:8001", alias="ENERGY_API_URL")
    request_timeout_s: float = Field(default=5.0, gt=0, alias="ENERGY_DASHBOARD_TIMEOUT_S")
    cache_ttl_s: int = Field(default=60, ge=0, alias="ENERGY_DASHBOARD_CACHE_TTL_S")


class ComputeSettings(_Base):
    """How many threads a process's data libraries may use (`energy_core.compute`)."""

    # Unset: their defaults (DuckDB 2, Arrow one per core). `simulate` runs its hourly processes
    # (itself, the feature and monitor workers) with 1: three of them share the cores, and each
    # library sizing its pool to every core oversubscribed them (docs/performance.md).
    threads: int | None = Field(default=None, ge=1, alias="ENERGY_THREADS")


class AlertSettings(_Base):
    """Monitoring thresholds and the optional Slack-compatible webhook."""

    webhook_url: SecretStr | None = Field(default=None, alias="ENERGY_ALERT_WEBHOOK_URL")
    psi_warn: float = Field(default=0.1, ge=0, alias="ENERGY_PSI_WARN")
    psi_alert: float = Field(default=0.25, ge=0, alias="ENERGY_PSI_ALERT")
    error_ratio_warn: float = Field(default=1.25, gt=0, alias="ENERGY_ERROR_RATIO_WARN")
    error_ratio_alert: float = Field(default=1.5, gt=0, alias="ENERGY_ERROR_RATIO_ALERT")


class SettingsError(RuntimeError):
    """Raised at start-up when a variable is missing or invalid; the message names it."""


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S]) -> S:
    """Instantiate a settings class, turning pydantic's error into one that names the variables."""
    try:
        return cls()
    except _SourceError as exc:  # a list/dict variable that is not valid JSON
        match = re.search(r'field "(\w+)"', str(exc))
        info = cls.model_fields.get(match.group(1)) if match else None
        name = info.alias if info and info.alias else "a variable"
        raise SettingsError(f"invalid configuration for {cls.__name__}: {name}: not valid JSON ({exc})") from exc
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or cls.__name__
            problems.append(f"{where}: {err['msg']}")
        raise SettingsError(f"invalid configuration for {cls.__name__}: " + "; ".join(problems)) from exc
