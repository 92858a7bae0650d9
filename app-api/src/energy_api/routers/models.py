"""The model registry as the API shows it, its audit trail, and approve/reject behind an API key.

Approve and reject call `energy_core.lifecycle`, as `training-pipeline approve/reject` does.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path
from fastapi.responses import Response

from energy_api import approval, registry_queries
from energy_api.dependencies import RegistryDep, ServicesDep
from energy_api.errors import ERROR_RESPONSES
from energy_api.routers import API_PREFIX
from energy_api.serialization import json_response, list_json
from energy_core.api_models import ApprovalResult, ErrorDetail, ModelTransition, ModelVersion
from energy_core.lifecycle import Lifecycle
from energy_core.registry import ModelRegistry

router = APIRouter(prefix=f"{API_PREFIX}/models", tags=["models"])

APPROVAL_RESPONSES: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    401: {"model": ErrorDetail, "description": "Missing or wrong X-API-Key (or no key configured)"},
    409: {
        "model": ErrorDetail,
        "description": "The lifecycle refused the transition (e.g. rejecting a champion with none to roll back to)",
    },
}
# MLflow keeps versions in a signed 64-bit column: a larger number cannot exist, and passed on it
# overflows inside the backend (which used to surface as a 503 naming the database file).
MAX_VERSION = 2**63 - 1
Version = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Registered model version")]


def require_api_key(
    services: ServicesDep, x_api_key: Annotated[str | None, Header(description="The approval key")] = None
) -> str:
    """401 unless `X-API-Key` equals ENERGY_API_KEY (constant-time); closed when no key is configured.
    Returns who the audit trail names: the key's id, never the key."""
    configured = services.settings.api_key
    if configured is None or not configured.get_secret_value():
        raise HTTPException(401, "approval is disabled on this server: ENERGY_API_KEY is not set")
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), configured.get_secret_value().encode()):
        raise HTTPException(401, "missing or wrong X-API-Key header")
    return approval.key_id(x_api_key)


ApiKey = Annotated[str, Depends(require_api_key)]


def _lifecycle(services: ServicesDep, registry: ModelRegistry) -> Lifecycle:
    return Lifecycle(registry, services.min_gain_over_naive, clock=services.clock)


@router.get("", response_model=list[ModelVersion], responses=ERROR_RESPONSES)
def list_models(services: ServicesDep, registry: RegistryDep) -> Response:
    """Registered versions, newest first, with aliases, backtest metrics and lineage."""
    body = services.cache.get_or_compute(
        ("models",), lambda: list_json(ModelVersion, registry_queries.list_models(registry))
    )
    return json_response(body)


@router.get("/history", response_model=list[ModelTransition], responses=ERROR_RESPONSES)
def registry_history(services: ServicesDep, registry: RegistryDep) -> Response:
    """Every lifecycle transition of every version, oldest first (the monitoring page's timeline)."""
    body = services.cache.get_or_compute(
        ("models-history",), lambda: list_json(ModelTransition, registry_queries.model_history(registry))
    )
    return json_response(body)


@router.get("/{version}/history", response_model=list[ModelTransition], responses=ERROR_RESPONSES)
def version_history(version: Version, services: ServicesDep, registry: RegistryDep) -> Response:
    """One version's transitions, oldest first: who moved it, when, from which state to which, why."""
    body = services.cache.get_or_compute(
        ("models-history", version),
        lambda: list_json(ModelTransition, registry_queries.model_history(registry, version)),
    )
    return json_response(body)


@router.post("/{version}/approve", response_model=ApprovalResult, responses=APPROVAL_RESPONSES)
def approve(version: Version, who: ApiKey, services: ServicesDep, registry: RegistryDep) -> ApprovalResult:
    """Approve a version; it becomes champion only if it also passes the backtest gate."""
    result = approval.approve(_lifecycle(services, registry), version, who)
    services.cache.clear()
    return result


@router.post("/{version}/reject", response_model=ApprovalResult, responses=APPROVAL_RESPONSES)
def reject(version: Version, who: ApiKey, services: ServicesDep, registry: RegistryDep) -> ApprovalResult:
    """Reject a version; the champion rolls back to the previous one (409 when there is none to serve)."""
    result = approval.reject(_lifecycle(services, registry), version, who)
    services.cache.clear()
    return result
