"""How failures become HTTP answers: 503 with the reason for an unavailable backend, 503 with
Retry-After when overloaded, 404 for an unknown version, 409 for a transition the lifecycle refuses, 422 for a
bad time window; never a stack trace.

Why local paths are masked in 503 reasons: the reason helps an operator, but a client has no use
for the server's file layout (the log keeps the full message).

Why a 422 for a bad window has FastAPI's validation shape (`{"detail": [{"loc", "msg", "type"}]}`):
clients, and the OpenAPI schema, then see one 422 format whatever rule was broken.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from energy_api.load_shedding import Overloaded
from energy_api.time_window import InvalidTimeWindow
from energy_core.api_models import ErrorDetail
from energy_core.feature_store import FeatureStoreError
from energy_core.lifecycle import TransitionRefused
from energy_core.registry import ModelNotFound, RegistryError

log = logging.getLogger(__name__)
MAX_REASON_CHARS = 500
_SQLITE_PATH = re.compile(r"sqlite:///\S+?(?=[\s'\")]|$)")

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorDetail, "description": "Unknown area, consumer type or model version"},
    503: {"model": ErrorDetail, "description": "Feature store or model registry unavailable, or overloaded"},
}


def _reason(prefix: str, exc: Exception) -> str:
    text = _SQLITE_PATH.sub("sqlite:///<path>", str(exc).strip()) or type(exc).__name__
    return f"{prefix}: {text}"[:MAX_REASON_CHARS]


async def _store_failed(request: Request, exc: Exception) -> JSONResponse:
    log.warning("feature store failed on %s: %s", request.url.path, exc)
    return JSONResponse({"detail": _reason("feature store unavailable", exc)}, status_code=503)


async def _registry_failed(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ModelNotFound):
        return JSONResponse({"detail": _reason("model not found", exc)}, status_code=404)
    log.warning("model registry failed on %s: %s", request.url.path, exc)
    return JSONResponse({"detail": _reason("model registry unavailable", exc)}, status_code=503)


async def _overloaded(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Overloaded)
    return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after_s)})


async def _transition_refused(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _bad_window(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidTimeWindow)
    error = {"loc": ["query", exc.field], "msg": str(exc), "type": "value_error"}
    return JSONResponse({"detail": [error]}, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error; the service log has the details"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FeatureStoreError, _store_failed)
    app.add_exception_handler(OSError, _store_failed)
    app.add_exception_handler(RegistryError, _registry_failed)
    app.add_exception_handler(TransitionRefused, _transition_refused)
    app.add_exception_handler(Overloaded, _overloaded)
    app.add_exception_handler(InvalidTimeWindow, _bad_window)
    app.add_exception_handler(Exception, _unexpected)
