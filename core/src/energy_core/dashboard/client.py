"""The typed app-api client both dashboards use: every body parsed into `energy_core.api_models`.

Validating every body against the contract's models makes a contract break show up as one clear
`ApiError` naming the endpoint (and the row) instead of a KeyError in a chart. One method per route
either page reads; the routes each page calls are listed in its README.

Three failure kinds, because a page reacts differently to each:
- `ApiUnavailable`: nothing answered (connection refused, DNS, timeout): tell the operator to start it;
- `NoData`: the API answered but has nothing to show yet (503 not-ready, 404, empty lists);
- `ApiError`: anything else (unexpected status, a body that breaks the contract).

The client holds no connection and no cache: each call opens one short-lived connection, so a
page can build a client inside a `st.cache_data` function keyed by (URL, timeout) and the
settings' TTL decides how often the API is asked (`ApiClient.from_settings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from energy_core.api_models import (
    AlertStatus,
    AreaOverview,
    CodeLabel,
    Forecast,
    HorizonError,
    ModelTransition,
    ModelVersion,
    MonitoringMetrics,
    SeriesErrorPoint,
    SeriesNode,
    SeriesRank,
    SimulationProgress,
)
from energy_core.settings import DashboardSettings

API_PREFIX = "/api/v1"

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class ApiError(RuntimeError):
    """The API answered with something the page cannot use; the message says what and where."""


class ApiUnavailable(ApiError):
    """Nothing answered at the API's URL within the timeout."""


class NoData(ApiError):
    """The API is up but has nothing to show for the request yet (e.g. before the first pipeline run)."""


@dataclass(frozen=True)
class Window:
    """The monitored-hours window [start, end); both None means the API's default (last 7 days)."""

    start: datetime | None = None
    end: datetime | None = None

    def params(self) -> dict[str, str]:
        return {k: v.isoformat() for k, v in (("start", self.start), ("end", self.end)) if v is not None}


@dataclass(frozen=True)
class ApiClient:
    """Where app-api is and how long to wait for each request; `transport` lets a test inject one."""

    base_url: str
    timeout_s: float
    transport: httpx.BaseTransport | None = None

    @classmethod
    def from_settings(cls, settings: DashboardSettings) -> ApiClient:
        return cls(settings.api_url, settings.request_timeout_s)

    # ----------------------------------------------------------------------------- the catalogue
    def series(self) -> list[SeriesNode]:
        """The series catalogue in the API's tree order (country total, then per area its total first).
        Raises NoData when the API knows no series yet."""
        return self._list("/series", SeriesNode, "series")

    def areas(self) -> list[CodeLabel]:
        """The price areas with labels. Raises NoData when the API knows none."""
        return self._list("/areas", CodeLabel, "areas")

    def consumer_types(self) -> list[CodeLabel]:
        """The consumer types with labels. Raises NoData when the API knows none."""
        return self._list("/consumer-types", CodeLabel, "consumer types")

    # ----------------------------------------------------------------------------- forecasts
    def forecast(self, area: str, consumer_type: str, history_hours: int = 168) -> Forecast:
        """The series' last `history_hours` observed hours and latest forecast. An answer with an
        empty `forecast` list is NoData, like a 404: there is nothing to plot ahead."""
        path = f"/forecasts/{area}/{consumer_type}"
        result = self._one(path, Forecast, {"history_hours": history_hours})
        _non_empty(path, result.forecast, "forecast hours")
        return result

    def overview(self, area: str) -> AreaOverview:
        """All series of `area` with their expected change against last week."""
        path = f"/areas/{area}/overview"
        result = self._one(path, AreaOverview)
        _non_empty(path, result.series, "series")
        return result

    # ----------------------------------------------------------------------------- monitoring
    def error_timeline(self, window: Window) -> MonitoringMetrics:
        """Hourly MAPE/WAPE over the window (fractions: 0.05 = 5 %). NoData before the first monitored hour."""
        path = "/monitoring/metrics"
        result = self._one(path, MonitoringMetrics, window.params())
        _non_empty(path, result.points, "monitored hours")
        return result

    def horizon_errors(self, window: Window) -> list[HorizonError]:
        """Error per `hours_ahead` (1 … 24) over the window."""
        return self._list("/monitoring/horizons", HorizonError, "horizons", window.params())

    def series_errors(
        self, area: str, consumer_type: str, window: Window, hours_ahead: int | None = None
    ) -> list[SeriesErrorPoint]:
        """Predictions against actuals for one series; every horizon unless `hours_ahead` is given."""
        params: dict[str, Any] = window.params()
        if hours_ahead is not None:
            params["hours_ahead"] = hours_ahead
        path = f"/monitoring/series/{area}/{consumer_type}"
        return self._list(path, SeriesErrorPoint, "monitored hours for the series", params)

    def ranking(self, window: Window, limit: int = 20) -> list[SeriesRank]:
        """Series by WAPE over the window, worst first (the API's order is kept)."""
        return self._list("/monitoring/ranking", SeriesRank, "series", {**window.params(), "limit": limit})

    def alerts(self) -> AlertStatus:
        """The latest drift and performance checks. Raises NoData when nothing was ever checked."""
        path = "/monitoring/alerts"
        result = self._one(path, AlertStatus)
        if result.checked_at is None and not result.checks:
            raise NoData(f"GET {path}: no checks have run yet")
        return result

    # ----------------------------------------------------------------------------- the model lifecycle
    def models(self) -> list[ModelVersion]:
        """Every registered version, newest first."""
        return self._list("/models", ModelVersion, "registered models")

    def model_history(self) -> list[ModelTransition]:
        """The lifecycle's audit trail, oldest first; empty when nothing moved yet, or when an older
        API has no such route (404): the timeline then falls back to the versions' `promoted_at`."""
        path = "/models/history"
        try:
            payload = self.get_json(path)
        except NoData:
            return []
        return _parse_list(path, payload, ModelTransition)

    def simulation(self) -> SimulationProgress | None:
        """The batch simulation's progress, or None when this API has no such route (an older
        release answers 404): a progress bar is an extra, never a reason to show an error."""
        path = "/simulation"
        try:
            payload = self.get_json(path)
        except NoData:
            return None
        return _parse_one(path, payload, SimulationProgress)

    # ----------------------------------------------------------------------------- HTTP
    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET `API_PREFIX + path` and return the decoded JSON, mapping failures to the three kinds."""
        url = f"{self.base_url.rstrip('/')}{API_PREFIX}{path}"
        try:
            with httpx.Client(timeout=self.timeout_s, transport=self.transport) as client:
                response = client.get(url, params=params)
        except httpx.TimeoutException as exc:
            raise ApiUnavailable(f"no answer from {url} within {self.timeout_s:g} s") from exc
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

    def _one(self, path: str, model: type[M], params: dict[str, Any] | None = None) -> M:
        return _parse_one(path, self.get_json(path, params), model)

    def _list(self, path: str, item: type[M], what: str, params: dict[str, Any] | None = None) -> list[M]:
        return _non_empty(path, _parse_list(path, self.get_json(path, params), item), what)


def area_choices(nodes: Sequence[SeriesNode]) -> dict[str, str]:
    """Area code -> label, in the catalogue's order (so the country comes first)."""
    return {node.area: node.area_label for node in nodes}


def series_in_area(nodes: Sequence[SeriesNode], area: str) -> dict[str, SeriesNode]:
    """Series id -> node for one area, in the catalogue's order (its total first)."""
    return {node.id: node for node in nodes if node.area == area}


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return response.reason_phrase


def _broken(path: str, exc: ValidationError, where: str = "") -> ApiError:
    return ApiError(f"GET {path} broke the API contract{where}: {exc.error_count()} problem(s)\n{exc}")


def _parse_one(path: str, payload: Any, model: type[M]) -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise _broken(path, exc) from exc


def _parse_list(path: str, payload: Any, item: type[M]) -> list[M]:
    """Every row validated on its own, so the message names the first row that breaks the contract."""
    if not isinstance(payload, list):
        raise ApiError(f"GET {path} broke the API contract: expected a JSON list, got {type(payload).__name__}")
    rows: list[M] = []
    for index, row in enumerate(payload):
        try:
            rows.append(item.model_validate(row))
        except ValidationError as exc:
            raise _broken(path, exc, f" in row {index}") from exc
    return rows


def _non_empty(path: str, items: list[T], what: str) -> list[T]:
    if not items:
        raise NoData(f"GET {path} returned no {what}")
    return items
