"""Fixtures for batch prediction: a small canonical feature store and a registry with a champion.

Nothing is mocked: the store is the real embedded backend and the registry the real MLflow one,
both under a temporary ENERGY_HOME. The champion is a seasonal-naive-24 pyfunc (tests/models),
registered once per session; tests that write get their own copy of the store.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.registry import ModelRegistry, open_registry
from energy_core.schemas import ENERGY_CONSUMPTION
from energy_core.settings import RegistrySettings

from .batch_support import DATA_HOURS, DATA_START, consumption, register_naive24

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("WANDB_MODE", "offline")


@dataclass(frozen=True)
class Stack:
    """A session-wide ENERGY_HOME: a filled store (never written by tests) and a registry."""

    home: Path
    registry_settings: RegistrySettings
    champion_version: int

    @property
    def store_root(self) -> Path:
        return self.home / "feature_store"

    def registry(self) -> ModelRegistry:
        return open_registry(self.registry_settings)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    home = tmp_path_factory.mktemp("batch_stack")
    store = EmbeddedFeatureStore(home / "feature_store")
    store.insert(ENERGY_CONSUMPTION, consumption(DATA_START, DATA_HOURS))
    settings = RegistrySettings(ENERGY_HOME=str(home))  # type: ignore[call-arg]
    registry = open_registry(settings)
    # MLflow resolves the new version's `models:/m-...` source through its process-global tracking
    # URI, which the registry backend restores before `create_model_version`; pointing the global
    # at this registry while registering keeps the lookup in the right database.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", settings.resolved_tracking_uri)
        version = register_naive24(registry, store)
    return Stack(home=home, registry_settings=settings, champion_version=version)


@pytest.fixture
def store(stack: Stack, tmp_path: Path) -> EmbeddedFeatureStore:
    """A private copy of the session store, which this test may write."""
    root = tmp_path / "home" / "feature_store"
    shutil.copytree(stack.store_root, root)
    return EmbeddedFeatureStore(root)


@pytest.fixture
def registry(stack: Stack) -> ModelRegistry:
    return stack.registry()


@pytest.fixture
def energy_env(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Environment for CLI tests: ENERGY_HOME is the test's copy, the registry the session one."""
    home = tmp_path / "home"
    if not (home / "feature_store").exists():
        shutil.copytree(stack.store_root, home / "feature_store")
    monkeypatch.setenv("ENERGY_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", stack.registry_settings.resolved_tracking_uri)
    monkeypatch.delenv("ENERGY_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    yield home
