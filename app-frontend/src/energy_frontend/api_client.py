"""The few app-api endpoints the forecast page reads, parsed into the page's own typed models.

Why its own models: the page depends on docs/api-contract.md, not on app-api's code, so a contract
break shows up here as one clear `ApiError` naming the endpoint instead of a KeyError in a chart.

Three failure kinds, because the page reacts differently to each:
- `ApiUnavailable`: nothing answered (connection refused, DNS, timeout) — tell the operator to start it;
- `NoData`: the API answered but has nothing to show yet (503 not-ready, 404, empty lists);
- `ApiError`: anything else (unexpected status, a body that breaks the contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import httpx
import pandas as pd
from pydantic import BaseModel, TypeAdapter, ValidationError

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


class Choice(BaseModel):
    """A selectable code with its human-readable label (areas, consumer types)."""

    code: str
    label: str


class HistoryPoint(BaseModel):
    datetime_utc: datetime
    energy_consumption_kwh: float | None


class ForecastPoint(BaseModel):
    datetime_utc: datetime
    hours_ahead: int
    prediction_kwh: float
    prediction_q10_kwh: float | None
    prediction_q90_kwh: float | None


class SeriesForecast(BaseModel):
    """One series' recent history and its latest 24-hour forecast (GET /forecasts/{area}/{type})."""

    area: str
    consumer_type: str
    consumer_type_label: str
    forecast_made_at: datetime | None
    model_name: str | None
    model_version: int | None
    latest_data_at: datetime | None
    history: list[HistoryPoint]
    forecast: list[ForecastPoint]

    def history_frame(self) -> pd.DataFrame:
        """History as a frame (`datetime_utc`, `energy_consumption_kwh`), oldest first."""
        return _frame(self.history, ["datetime_utc", "energy_consumption_kwh"])

    def forecast_frame(self) -> pd.DataFrame:
        """Forecast as a frame, one row per target hour, nearest first."""
        return _frame(self.forecast, list(ForecastPoint.model_fields))


class SeriesOverview(BaseModel):
    consumer_type: str
    label: str
    forecast_next_24h_kwh: float | None
    same_hours_last_week_kwh: float | None
    expected_change_pct: float | None


class AreaOverview(BaseModel):
    """Every series of one area: next-24-hour totals against the same hours last week."""

    area: str
    forecast_made_at: datetime | None
    model_version: int | None
    series: list[SeriesOverview]

    def frame(self) -> pd.DataFrame:
        frame = _frame(self.series, list(SeriesOverview.model_fields))
        frame.insert(0, "area", self.area)
        return frame


def _frame(rows: list[Any], columns: list[str]) -> pd.DataFrame:
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


def fetch_areas(api: Api) -> list[Choice]:
    """The price areas with labels. Raises NoData when the API knows none."""
    path = "/areas"
    return _non_empty(path, _parse(path, get_json(api, path), list[Choice]), "areas")


def fetch_consumer_types(api: Api) -> list[Choice]:
    """The consumer types with labels. Raises NoData when the API knows none."""
    path = "/consumer-types"
    return _non_empty(path, _parse(path, get_json(api, path), list[Choice]), "consumer types")


def fetch_forecast(api: Api, area: str, consumer_type: str, history_hours: int = 168) -> SeriesForecast:
    """The series' last `history_hours` observed hours and latest forecast.

    Raises NoData when the series has no forecast yet (an answer with an empty `forecast` list is
    treated like a 404: there is nothing to plot ahead).
    """
    path = f"/forecasts/{area}/{consumer_type}"
    result = _parse(path, get_json(api, path, {"history_hours": history_hours}), SeriesForecast)
    _non_empty(path, result.forecast, "forecast hours")
    return result


def fetch_overview(api: Api, area: str) -> AreaOverview:
    """All series of `area` with their expected change against last week."""
    path = f"/areas/{area}/overview"
    result = _parse(path, get_json(api, path), AreaOverview)
    _non_empty(path, result.series, "series")
    return result
