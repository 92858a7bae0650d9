"""Model registry: the interface (`base`), the MLflow backend, and Hopsworks mirrored into MLflow."""

from __future__ import annotations

from energy_core.registry.base import (
    CHALLENGER,
    CHAMPION,
    Lineage,
    ModelNotFound,
    ModelRegistry,
    ModelToRegister,
    ModelVersionInfo,
    Predictor,
    RegistryError,
    RegistryUnavailable,
)
from energy_core.settings import RegistrySettings, load

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "Lineage",
    "ModelNotFound",
    "ModelRegistry",
    "ModelToRegister",
    "ModelVersionInfo",
    "Predictor",
    "RegistryError",
    "RegistryUnavailable",
    "open_registry",
]


def open_registry(settings: RegistrySettings | None = None) -> ModelRegistry:
    """The configured model registry, chosen by `ENERGY_MODEL_REGISTRY`.

    `mlflow` (default): MLflow, an embedded SQLite file or a server URI. `hopsworks`: the Hopsworks
    project's model registry as the primary, every write mirrored into that MLflow (`mirrored.py`).
    """
    settings = settings or load(RegistrySettings)
    if settings.backend == "hopsworks":
        from energy_core.registry.mirrored import open_mirrored

        return open_mirrored(settings)
    from energy_core.registry.mlflow_registry import MlflowModelRegistry

    return MlflowModelRegistry(settings)
