"""The few app-api endpoints the forecast page reads, parsed into the contract's typed models.

The models are `energy_core.api_models`, the typed form of docs/api-contract.md shared with app-api
(the page never imports app-api's code); validating every body against them makes a contract break
show up here as one clear `ApiError` naming the endpoint instead of a KeyError in a chart. The
frames the page plots are built by the small `*_frame` functions below.

Three failure kinds, because the page reacts differently to each:
- `ApiUnavailable`: nothing answered (connection refused, DNS, timeout) — tell the operator to start it;
- `NoData`: the API answered but has nothing to show yet (503 not-ready, 404, empty lists);
- `ApiError`: anything else (unexpected status, a body that breaks the contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pandas as pd
from pydantic import BaseModel, TypeAdapter, ValidationError

from energy_core.api_models import (
    AreaOverview,
    CodeLabel,
    Forecast,
    ForecastPoint,
    HistoryPoint,
    SeriesNode,
    SeriesOverview,
)

API_PREFIX = "/api/v1"


class ApiError(RuntimeError):
    """The API answered with something the page cannot use; the message says what and where."""


class ApiUnavailable(ApiError):
    """Nothing answered at the API's URL within the timeout."""


class NoData(ApiError):
    """The API is up but has no data for the request yet (e.g. no forecasts before the first run)."""


@dataclass(frozen=True)
class Api:
    """Where the API is and how long to wait for it; `transport` lets a test inject one."""

    base_url: str
    timeout_s: float
    transport: httpx.BaseTransport | None = None


def history_frame(series: Forecast) -> pd.DataFrame:
    """The series' history as a frame (`datetime_utc`, `energy_consumption_kwh`), oldest first."""
    return _frame(series.history, list(HistoryPoint.model_fields))


def forecast_frame(series: Forecast) -> pd.DataFrame:
    """The series' forecast as a frame, one row per target hour, nearest first."""
    return _frame(series.forecast, list(ForecastPoint.model_fields))


def overview_frame(overview: AreaOverview) -> pd.DataFrame:
    """Every series of one area (next-24-hour total against the same hours last week), with `area`."""
    frame = _frame(overview.series, list(SeriesOverview.model_fields))
    frame.insert(0, "area", overview.area)
    return frame


def _frame(rows: Sequence[BaseModel], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame([row.model_dump() for row in rows], columns=columns)
    if "datetime_utc" in frame:
        frame["datetime_utc"] = pd.to_datetime(frame["datetime_utc"], utc=True)
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


def _parse(path: str, payload: Any, model: type[T]) -> T:
    try:
        return TypeAdapter(model).validate_python(payload)
    except ValidationError as exc:
        raise ApiError(f"GET {path} broke the API contract: {exc.error_count()} problem(s)\n{exc}") from exc


def _non_empty(path: str, items: list[T], what: str) -> list[T]:
    if not items:
        raise NoData(f"GET {path} returned no {what}")
    return items


def fetch_series(api: Api) -> list[SeriesNode]:
    """The series catalogue in the API's tree order (country total, then per area its total first).

    Raises NoData when the API knows no series yet.
    """
    path = "/series"
    return _non_empty(path, _parse(path, get_json(api, path), list[SeriesNode]), "series")


def area_choices(nodes: Sequence[SeriesNode]) -> dict[str, str]:
    """Area code -> label, in the catalogue's order (so the country comes first)."""
    return {node.area: node.area_label for node in nodes}


def series_in_area(nodes: Sequence[SeriesNode], area: str) -> dict[str, SeriesNode]:
    """Series id -> node for one area, in the catalogue's order (its total first)."""
    return {node.id: node for node in nodes if node.area == area}


def fetch_areas(api: Api) -> list[CodeLabel]:
    """The price areas with labels. Raises NoData when the API knows none."""
    path = "/areas"
    return _non_empty(path, _parse(path, get_json(api, path), list[CodeLabel]), "areas")


def fetch_consumer_types(api: Api) -> list[CodeLabel]:
    """The consumer types with labels. Raises NoData when the API knows none."""
    path = "/consumer-types"
    return _non_empty(path, _parse(path, get_json(api, path), list[CodeLabel]), "consumer types")


def fetch_forecast(api: Api, area: str, consumer_type: str, history_hours: int = 168) -> Forecast:
    """The series' last `history_hours` observed hours and latest forecast.

    Raises NoData when the series has no forecast yet (an answer with an empty `forecast` list is
    treated like a 404: there is nothing to plot ahead).
    """
    path = f"/forecasts/{area}/{consumer_type}"
    result = _parse(path, get_json(api, path, {"history_hours": history_hours}), Forecast)
    _non_empty(path, result.forecast, "forecast hours")
    return result


def fetch_overview(api: Api, area: str) -> AreaOverview:
    """All series of `area` with their expected change against last week."""
    path = f"/areas/{area}/overview"
    result = _parse(path, get_json(api, path), AreaOverview)
    _non_empty(path, result.series, "series")
    return result
