"""The application factory: settings and backends in, a FastAPI app out; no import-time effects.

Backends arrive as factories so tests pass a store over a temporary ENERGY_HOME (or one that
raises FeatureStoreUnavailable) and production passes core's `open_feature_store`/`open_registry`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from energy_api import __version__
from energy_api.cache import ResponseCache, TableVersionProbe
from energy_api.dependencies import Services, lazy_registry, lazy_store
from energy_api.errors import install_error_handlers
from energy_api.load_shedding import BuildLimiter
from energy_api.prometheus import PrometheusMiddleware, RequestMetrics
from energy_api.routers import API_PREFIX, catalog, forecasts, health, models, monitoring, simulation
from energy_core.feature_store import FeatureStore, open_feature_store
from energy_core.registry import ModelRegistry, open_registry
from energy_core.settings import ApiSettings, BacktestSettings, load

VERSION_PROBE_INTERVAL_S = 1.0


def create_app(
    settings: ApiSettings | None = None,
    store_factory: Callable[[], FeatureStore] = open_feature_store,
    registry_factory: Callable[[], ModelRegistry] = open_registry,
    *,
    min_gain_over_naive: float | None = None,
    version_probe_interval_s: float = VERSION_PROBE_INTERVAL_S,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    """Build the app. `min_gain_over_naive` defaults to BacktestSettings' (the training gate's)."""
    settings = settings or load(ApiSettings)
    if min_gain_over_naive is None:
        min_gain_over_naive = load(BacktestSettings).min_gain_over_naive
    cache = ResponseCache(ttl_s=settings.cache_ttl_s, max_bytes=settings.cache_max_bytes)
    limiter = BuildLimiter(settings.max_concurrent_builds, settings.max_queued_builds, settings.queue_timeout_s)
    metrics = RequestMetrics(cache.stats, limiter.stats)
    app = FastAPI(
        title="Energy consumption forecasting API",
        version=__version__,
        description=(
            "Hourly Danish electricity consumption per price area and consumer type: observed history, "
            "24-hour forecasts, forecast monitoring and the model registry. Contract: docs/api-contract.md."
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.services = Services(
        settings=settings,
        min_gain_over_naive=min_gain_over_naive,
        store=lazy_store(store_factory),
        registry=lazy_registry(registry_factory),
        cache=cache,
        versions=TableVersionProbe(interval_s=min(version_probe_interval_s, settings.cache_ttl_s)),
        limiter=limiter,
        metrics=metrics,
        clock=clock,
    )
    routers = (health, catalog, forecasts, monitoring, models, simulation)
    for router in (r.router for r in routers):
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["X-API-Key", "Content-Type"],
    )
    app.add_middleware(PrometheusMiddleware, metrics=metrics)
    return app
