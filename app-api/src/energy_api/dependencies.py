"""What endpoints depend on (settings, the store, the registry, the cache), resolved per request.

The store and the registry are opened lazily, once, and re-tried after a failure: the API starts
and answers `/health` even while the store is missing, and recovers without a restart once a
pipeline has created it. Any failure to open is reported as the backend's *Unavailable* error, so
it reaches the client as a 503 with the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from energy_api.cache import ResponseCache, TableVersionProbe
from energy_api.load_shedding import BuildLimiter
from energy_api.prometheus import RequestMetrics
from energy_core.feature_store import FeatureStore, FeatureStoreError, FeatureStoreUnavailable
from energy_core.registry import ModelRegistry, RegistryError, RegistryUnavailable
from energy_core.settings import ApiSettings

T = TypeVar("T")


class LazyResource(Generic[T]):
    """A backend client opened on first use; a failed open is retried on the next use."""

    def __init__(self, factory: Callable[[], T], unavailable: Callable[[str], Exception], name: str) -> None:
        self._factory = factory
        self._unavailable = unavailable
        self._name = name
        self._lock = threading.Lock()
        self._value: T | None = None

    def peek(self) -> T | None:
        """The client if already open (no I/O), else None."""
        return self._value

    def get(self) -> T:
        value = self._value
        if value is not None:
            return value
        with self._lock:
            if self._value is None:
                try:
                    self._value = self._factory()
                except (FeatureStoreError, RegistryError):
                    raise
                except Exception as exc:  # settings errors, missing drivers: all mean "cannot open"
                    raise self._unavailable(f"cannot open the {self._name}: {type(exc).__name__}: {exc}") from exc
            return self._value


def lazy_store(factory: Callable[[], FeatureStore]) -> LazyResource[FeatureStore]:
    return LazyResource(factory, FeatureStoreUnavailable, "feature store")


def lazy_registry(factory: Callable[[], ModelRegistry]) -> LazyResource[ModelRegistry]:
    return LazyResource(factory, RegistryUnavailable, "model registry")


@dataclass(frozen=True)
class Services:
    """Everything one app instance shares between requests (held on `app.state.services`)."""

    settings: ApiSettings
    min_gain_over_naive: float
    store: LazyResource[FeatureStore]
    registry: LazyResource[ModelRegistry]
    cache: ResponseCache
    versions: TableVersionProbe
    limiter: BuildLimiter
    metrics: RequestMetrics
    clock: Callable[[], datetime]


async def get_services(request: Request) -> Services:
    """Async on purpose: it does no I/O, so it should not cost a trip through the threadpool."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_store(services: ServicesDep) -> FeatureStore:
    """The open store without leaving the event loop; the first open (disk I/O) runs in the threadpool."""
    store = services.store.peek()
    return store if store is not None else await run_in_threadpool(services.store.get)


async def get_registry(services: ServicesDep) -> ModelRegistry:
    registry = services.registry.peek()
    return registry if registry is not None else await run_in_threadpool(services.registry.get)


StoreDep = Annotated[FeatureStore, Depends(get_store)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
