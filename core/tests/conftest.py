"""Backends the feature-store contract suite runs against.

`hopsworks-fake` is the real HopsworksFeatureStore mapping over an in-memory fake of the hsfs
calls it makes (fake_hsfs.py): a Hopsworks cluster cannot be reached from here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from energy_core.feature_store import FeatureStore
from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.feature_store.hopsworks_store import HopsworksFeatureStore
from energy_core.settings import FeatureStoreSettings

from .fake_hsfs import FakeHopsworksFeatureStore

BACKENDS = ["embedded", "hopsworks-fake"]


def _make(backend: str, root: Path) -> FeatureStore:
    if backend == "embedded":
        return EmbeddedFeatureStore(root)
    if backend == "hopsworks-fake":
        settings = FeatureStoreSettings(ENERGY_HOME=root)  # type: ignore[call-arg]
        return HopsworksFeatureStore(settings, feature_store=FakeHopsworksFeatureStore())
    raise ValueError(backend)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FeatureStore:
    return _make(request.param, tmp_path / "store")


@pytest.fixture(params=BACKENDS)
def store_factory(request: pytest.FixtureRequest) -> Iterator[Callable[[], FeatureStore]]:
    """A fresh, empty store per call (hypothesis examples must not share state)."""
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10_000))
        yield lambda: _make(request.param, Path(tmp) / f"s{next(counter)}")
