"""The app-api monitoring endpoints the page reads, parsed into the contract's typed models.

The models are `energy_core.api_models`, the typed form of docs/api-contract.md shared with app-api
(the page never imports app-api's code); validating every body against them makes a contract break
show up here as one clear `ApiError` naming the endpoint instead of a KeyError in a chart. Row
lists come back as frames; `timeline_frame` and `checks_frame` turn the two nested bodies into them.
Error rates (`mape`, `wape`, `interval_coverage`, `backtest_wape`) are fractions (0.05 = 5 %).

Three failure kinds, because the page reacts differently to each:
- `ApiUnavailable`: nothing answered (connection refused, DNS, timeout) — tell the operator to start it;
- `NoData`: the API answered but has nothing to show yet (503 not-ready, 404, empty lists);
- `ApiError`: anything else (unexpected status, a body that breaks the contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import httpx
import pandas as pd
from pydantic import BaseModel, TypeAdapter, ValidationError

from energy_core.api_models import (
    AlertCheck,
    AlertStatus,
    CodeLabel,
    HorizonError,
    HourlyErrorPoint,
    ModelTransition,
    ModelVersion,
    MonitoringMetrics,
    SeriesErrorPoint,
    SeriesNode,
    SeriesRank,
    SimulationProgress,
)

API_PREFIX = "/api/v1"


class ApiError(RuntimeError):
    """The API answered with something the page cannot use; the message says what and where."""


class ApiUnavailable(ApiError):
    """Nothing answered at the API's URL within the timeout."""


class NoData(ApiError):
    """The API is up but has nothing to show yet (no monitored hours before the first actuals)."""


@dataclass(frozen=True)
class Api:
    """Where the API is and how long to wait for it; `transport` lets a test inject one."""

    base_url: str
    timeout_s: float
    transport: httpx.BaseTransport | None = None


@dataclass(frozen=True)
class Window:
    """The monitored-hours window [start, end); both None means the API's default (last 7 days)."""

    start: datetime | None = None
    end: datetime | None = None

    def params(self) -> dict[str, str]:
        return {k: v.isoformat() for k, v in (("start", self.start), ("end", self.end)) if v is not None}


def timeline_frame(timeline: MonitoringMetrics) -> pd.DataFrame:
    """The aggregate error per monitored hour as a frame, oldest first."""
    return _frame(timeline.points, HourlyErrorPoint)


def checks_frame(alerts: AlertStatus) -> pd.DataFrame:
    """The latest row of every drift and performance check as a frame."""
    return _frame(alerts.checks, AlertCheck)


def _frame(rows: list[Any], model: type[BaseModel]) -> pd.DataFrame:
    frame = pd.DataFrame([row.model_dump() for row in rows], columns=list(model.model_fields))
    for column in ("datetime_utc", "forecast_made_at", "created_at", "promoted_at"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    if "datetime_utc" in frame:
        frame = frame.sort_values("datetime_utc", ignore_index=True)
    return frame


T = TypeVar("T")


def get_json(api: Api, path: str, params: dict[str, Any] | None = None) -> Any:
    """GET `API_PREFIX + path` and return the decoded JSON, mapping failures to the three kinds."""
    url = f"{api.base_url.rstrip('/')}{API_PREFIX}{path}"
    try:
        with httpx.Client(timeout=api.timeout_s, transport=api.transport) as client:
            response = client.get(url, params=params)
    except httpx.TimeoutException as exc:
        raise ApiUnavailable(f"no answer from {url} within {api.timeout_s:g} s") from exc
    except httpx.TransportError as exc:
        raise ApiUnavailable(f"cannot connect to {url} ({exc})") from exc
    detail = _detail(response)
    if response.status_code in (404, 503):
        raise NoData(f"GET {path}: {detail}")
    if response.status_code != 200:
        raise ApiError(f"GET {path} answered {response.status_code}: {detail}")
    try:
        return response.json()
    except ValueError as exc:
        raise ApiError(f"GET {path} answered 200 but the body is not JSON") from exc


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return response.reason_phrase


def _parse(path: str, payload: Any, model: Any) -> Any:
    try:
        return TypeAdapter(model).validate_python(payload)
    except ValidationError as exc:
        raise ApiError(f"GET {path} broke the API contract: {exc.error_count()} problem(s)\n{exc}") from exc


def _non_empty(path: str, items: list[T], what: str) -> list[T]:
    if not items:
        raise NoData(f"GET {path} returned no {what}")
    return items


def _rows_frame(path: str, payload: Any, model: type[BaseModel], what: str) -> pd.DataFrame:
    return _frame(_non_empty(path, _parse(path, payload, list[model]), what), model)  # type: ignore[valid-type]


def fetch_series(api: Api) -> list[SeriesNode]:
    """The series catalogue in the API's tree order (country total, then per area its total first)."""
    path = "/series"
    result: list[SeriesNode] = _parse(path, get_json(api, path), list[SeriesNode])
    return _non_empty(path, result, "series")


def area_choices(nodes: Sequence[SeriesNode]) -> dict[str, str]:
    """Area code -> label, in the catalogue's order (so the country comes first)."""
    return {node.area: node.area_label for node in nodes}


def series_in_area(nodes: Sequence[SeriesNode], area: str) -> dict[str, SeriesNode]:
    """Series id -> node for one area, in the catalogue's order (its total first)."""
    return {node.id: node for node in nodes if node.area == area}


def fetch_areas(api: Api) -> list[CodeLabel]:
    path = "/areas"
    return _non_empty(path, _parse(path, get_json(api, path), list[CodeLabel]), "areas")


def fetch_consumer_types(api: Api) -> list[CodeLabel]:
    path = "/consumer-types"
    return _non_empty(path, _parse(path, get_json(api, path), list[CodeLabel]), "consumer types")


def fetch_error_timeline(api: Api, window: Window) -> MonitoringMetrics:
    """Hourly MAPE/WAPE over the window. Raises NoData before the first monitored hour."""
    path = "/monitoring/metrics"
    result: MonitoringMetrics = _parse(path, get_json(api, path, window.params()), MonitoringMetrics)
    _non_empty(path, result.points, "monitored hours")
    return result


def fetch_horizon_errors(api: Api, window: Window) -> pd.DataFrame:
    """Error per `hours_ahead` (1 … 24) over the window."""
    path = "/monitoring/horizons"
    return _rows_frame(path, get_json(api, path, window.params()), HorizonError, "horizons")


def fetch_series_errors(
    api: Api, area: str, consumer_type: str, window: Window, hours_ahead: int | None = None
) -> pd.DataFrame:
    """Predictions against actuals for one series; every horizon unless `hours_ahead` is given."""
    path = f"/monitoring/series/{area}/{consumer_type}"
    params: dict[str, Any] = window.params()
    if hours_ahead is not None:
        params["hours_ahead"] = hours_ahead
    return _rows_frame(path, get_json(api, path, params), SeriesErrorPoint, "monitored hours for the series")


def fetch_ranking(api: Api, window: Window, limit: int = 20) -> pd.DataFrame:
    """Series by WAPE over the window, worst first (the API's order is kept)."""
    path = "/monitoring/ranking"
    return _rows_frame(path, get_json(api, path, {**window.params(), "limit": limit}), SeriesRank, "series")


def fetch_alerts(api: Api) -> AlertStatus:
    """The latest drift and performance checks. Raises NoData when nothing was ever checked."""
    path = "/monitoring/alerts"
    result: AlertStatus = _parse(path, get_json(api, path), AlertStatus)
    if result.checked_at is None and not result.checks:
        raise NoData(f"GET {path}: no checks have run yet")
    return result


def fetch_models(api: Api) -> list[ModelVersion]:
    """Every registered version, newest first."""
    path = "/models"
    return _non_empty(path, _parse(path, get_json(api, path), list[ModelVersion]), "registered models")


def fetch_model_history(api: Api) -> list[ModelTransition]:
    """The lifecycle's audit trail, oldest first; empty when nothing moved yet, or when an older API
    has no such route (404): the timeline then falls back to the versions' `promoted_at`."""
    path = "/models/history"
    try:
        payload = get_json(api, path)
    except NoData:
        return []
    result: list[ModelTransition] = _parse(path, payload, list[ModelTransition])
    return result


def fetch_simulation(api: Api) -> SimulationProgress | None:
    """The batch simulation's progress, or None when this API has no such route (an older
    release answers 404): the progress bar is an extra, never a reason to show an error."""
    path = "/simulation"
    try:
        payload = get_json(api, path)
    except NoData:
        return None
    result: SimulationProgress = _parse(path, payload, SimulationProgress)
    return result
