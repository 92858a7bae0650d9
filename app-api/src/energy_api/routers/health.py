"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from energy_api import cached_reads, registry_queries
from energy_api.dependencies import ServicesDep
from energy_api.routers import API_PREFIX
from energy_api.serialization import json_response, model_json
from energy_core.api_models import Health, Readiness
from energy_core.feature_store import FeatureStoreError
from energy_core.registry import RegistryError
from energy_core.schemas import ENERGY_CONSUMPTION

router = APIRouter(prefix=API_PREFIX, tags=["operations"])
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers. Touches no backend, so it never blocks or fails on one."""
    return Health()


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness, "description": "Not ready"}})
def ready(services: ServicesDep) -> Response:
    """Readiness: the store and the registry answer and a champion exists (503 with the same body otherwise)."""
    store_status, registry_status = "ok", "ok"
    champion_version = latest_data_at = latest_forecast_at = None
    try:
        store = services.store.get()
        services.versions.versions(store, ENERGY_CONSUMPTION)
        latest_data_at = cached_reads.latest_data_at(services, store)
        latest_forecast_at = cached_reads.latest_forecast_at(services, store)
    except (FeatureStoreError, OSError) as exc:
        store_status = f"unavailable: {exc}"
    try:
        registry = services.registry.get()
        registry_queries.call(registry.check)
        champion = cached_reads.champion(services)
        champion_version = champion.version if champion is not None else None
    except RegistryError as exc:
        registry_status = f"unavailable: {exc}"
    readiness = Readiness(
        ready=store_status == "ok" and registry_status == "ok" and champion_version is not None,
        feature_store=store_status,
        registry=registry_status,
        champion_version=champion_version,
        latest_data_at=latest_data_at,
        latest_forecast_at=latest_forecast_at,
    )
    return json_response(model_json(readiness), status_code=200 if readiness.ready else 503)


@router.get("/metrics", response_class=PlainTextResponse, responses={200: {"content": {PROMETHEUS_TEXT: {}}}})
def metrics(services: ServicesDep) -> Response:
    """Prometheus text format: request counts and latencies per route, cache hits and misses."""
    return Response(content=services.metrics.render(), media_type=PROMETHEUS_TEXT)
