"""An in-memory ModelRegistry: a FAKE of the registry interface, for the lifecycle's property test.

Why a fake: hypothesis runs hundreds of operation sequences, and each one over a real MLflow
registry would take seconds. It implements exactly the interface's semantics the lifecycle relies
on (versions, one holder per alias, tags merged on write, a re-entrant lock); the same sequences
run over the real MLflow backend in test_lifecycle.py and in the CLI-vs-API equivalence test.
It cannot load models (`load` raises), which the lifecycle never does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

from energy_core.registry import ModelNotFound, ModelRegistry, ModelToRegister, ModelVersionInfo, Predictor
from energy_core.registry.base import TRANSITION_LOCK_TIMEOUT_S


class MemoryRegistry(ModelRegistry):
    def __init__(self) -> None:
        self._versions: dict[int, ModelVersionInfo] = {}
        self._aliases: dict[str, int] = {}
        self._lock = threading.RLock()

    def add(self, metrics: dict[str, float], tags: dict[str, str] | None = None) -> int:
        """Register a version with these metrics without a model (what the lifecycle reads)."""
        version = len(self._versions) + 1
        self._versions[version] = ModelVersionInfo(
            "m", version, [], datetime(2023, 1, 1, tzinfo=UTC), None, metrics=dict(metrics), tags=dict(tags or {})
        )
        return version

    def register(self, model: ModelToRegister, run_id: str | None = None) -> ModelVersionInfo:
        return self.get(version=self.add(dict(model.metrics), dict(model.tags)))

    def get(self, version: int | None = None, alias: str | None = None) -> ModelVersionInfo:
        if alias is not None:
            if alias not in self._aliases:
                raise ModelNotFound(f"no alias {alias!r}")
            version = self._aliases[alias]
        if version not in self._versions:
            raise ModelNotFound(f"no version {version}; versions: {sorted(self._versions)}")
        info = self._versions[version]
        return replace(info, aliases=sorted(a for a, v in self._aliases.items() if v == version))

    def list_versions(self) -> list[ModelVersionInfo]:
        return [self.get(version=v) for v in sorted(self._versions, reverse=True)]

    def set_alias(self, alias: str, version: int) -> None:
        self.get(version=version)
        self._aliases[alias] = version

    def delete_alias(self, alias: str) -> None:
        self._aliases.pop(alias, None)

    def set_tags(self, version: int, tags: dict[str, str]) -> None:
        info = self.get(version=version)
        self._versions[version] = replace(info, tags=info.tags | tags, aliases=[])

    def load(self, version: int | None = None, alias: str | None = None) -> Predictor:
        raise NotImplementedError("the in-memory registry holds no models")

    def check(self) -> None:
        return None

    @contextmanager
    def transition_lock(self, timeout_s: float = TRANSITION_LOCK_TIMEOUT_S) -> Iterator[None]:
        if not self._lock.acquire(timeout=timeout_s):
            raise TimeoutError("transition lock")
        try:
            yield
        finally:
            self._lock.release()
