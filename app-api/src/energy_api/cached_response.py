"""Serve a cached JSON body without leaving the event loop; build it in the threadpool on a miss.

Why: most requests are cache hits (a dict lookup); sending them through the threadpool costs two
thread switches each and, under load on two cores, most of the tail latency. A hit is answered on
the event loop only when both the table versions and the body are already in memory (no I/O);
anything that may touch the store (refreshing a version, building a body) runs in the threadpool,
and a build runs only in one of the load shedder's slots (503 + Retry-After when none is free).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from energy_api.dependencies import Services
from energy_api.serialization import json_response
from energy_core.feature_store import FeatureStore
from energy_core.schemas import FeatureGroupSpec


async def cached_json(
    services: Services,
    store: FeatureStore,
    groups: tuple[FeatureGroupSpec, ...],
    key: tuple[Hashable, ...],
    build: Callable[[], bytes],
) -> Response:
    """The body for `key` at the current versions of `groups`, from the cache or from `build`."""
    versions = services.versions.peek(*groups)
    if versions is not None:
        body = services.cache.peek((*key, versions))
        if body is not None:
            return json_response(body)
    return json_response(await run_in_threadpool(_versioned_body, services, store, groups, key, build))


def _versioned_body(
    services: Services,
    store: FeatureStore,
    groups: tuple[FeatureGroupSpec, ...],
    key: tuple[Hashable, ...],
    build: Callable[[], bytes],
) -> bytes:
    versions = services.versions.versions(store, *groups)
    body: bytes = services.cache.get_or_compute((*key, versions), services.limiter.guard(build))
    return body
