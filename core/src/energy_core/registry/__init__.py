"""Model registry: the interface (`base`) and the MLflow backend."""

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
    """The configured model registry (MLflow: embedded SQLite by default, or a server URI)."""
    from energy_core.registry.mlflow_registry import MlflowModelRegistry

    return MlflowModelRegistry(settings or load(RegistrySettings))
