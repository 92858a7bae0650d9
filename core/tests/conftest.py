"""Backends the feature-store contract suite runs against.

Only the embedded backend runs here: a Hopsworks backend needs a live cluster, which this
environment cannot reach; add it to BACKENDS where one is configured.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from energy_core.feature_store import FeatureStore
from energy_core.feature_store.embedded import EmbeddedFeatureStore

BACKENDS = ["embedded"]


def _make(backend: str, root: Path) -> FeatureStore:
    if backend == "embedded":
        return EmbeddedFeatureStore(root)
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
