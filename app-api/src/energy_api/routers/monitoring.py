"""Monitoring: aggregate error per hour and per horizon, one series against its actuals, the
worst series, and the drift/performance alert status.

`start`/`end` default to the last 7 days of monitored hours (see `time_window.resolve_window`).
Parent totals are monitored like any series (batch prediction scores their bottom-up forecasts
against `energy_consumption_totals`), so every catalogue series can be asked for here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from energy_api import cached_reads, queries, series_codes
from energy_api.dependencies import Services, ServicesDep, StoreDep
from energy_api.errors import ERROR_RESPONSES
from energy_api.queries import STATUS_SEVERITY
from energy_api.routers import API_PREFIX
from energy_api.serialization import json_response, list_json, model_json, records
from energy_api.series_codes import CATALOGUE_GROUPS, AreaKey, Catalogue, ConsumerTypeKey
from energy_api.time_window import TimeWindow, resolve_window
from energy_core.api_models import (
    AlertCheck,
    AlertStatus,
    HorizonError,
    HourlyErrorPoint,
    MonitoringMetrics,
    SeriesErrorPoint,
    SeriesRank,
)
from energy_core.feature_store import FeatureStore
from energy_core.registry import RegistryError
from energy_core.schemas import ALERTS, MONITORING, MONITORING_HORIZON, MONITORING_HOURLY

router = APIRouter(prefix=f"{API_PREFIX}/monitoring", tags=["monitoring"])
MAX_SERIES = 200

Start = Annotated[datetime | None, Query(description="First target hour (ISO-8601; naive means UTC)")]
End = Annotated[datetime | None, Query(description="End of the window, exclusive (ISO-8601; naive means UTC)")]

HOURLY_COLUMNS = list(HourlyErrorPoint.model_fields)
SERIES_COLUMNS = list(SeriesErrorPoint.model_fields)
ALERT_COLUMNS = list(AlertCheck.model_fields)


def _window(services: Services, store: FeatureStore, start: datetime | None, end: datetime | None) -> TimeWindow | None:
    return resolve_window(start, end, cached_reads.latest_monitored_hour(services, store))


def _cached(services: Services, key: Hashable, build: Callable[[], bytes]) -> bytes:
    """The body for `key` from the cache, else built in one of the load shedder's slots."""
    return services.cache.get_or_compute(key, services.limiter.guard(build))


def _key(window: TimeWindow | None) -> tuple[datetime, datetime] | None:
    return (window.start, window.end) if window is not None else None


@router.get("/metrics", response_model=MonitoringMetrics, responses=ERROR_RESPONSES)
def hourly_metrics(services: ServicesDep, store: StoreDep, start: Start = None, end: End = None) -> Response:
    """Aggregate error per target hour (all series and horizons), with the champion's backtest WAPE."""
    window = _window(services, store, start, end)
    versions = services.versions.versions(store, MONITORING_HOURLY)
    body = _cached(
        services,
        ("monitoring_metrics", _key(window), versions),
        lambda: model_json(_hourly_metrics(services, store, window)),
    )
    return json_response(body)


def _hourly_metrics(services: Services, store: FeatureStore, window: TimeWindow | None) -> MonitoringMetrics:
    points = records(queries.hourly_errors(store, window), HOURLY_COLUMNS) if window is not None else []
    try:  # the registry only adds a reference line: its outage must not hide the monitoring data
        champion = cached_reads.champion(services)
    except RegistryError:
        champion = None
    return MonitoringMetrics(
        backtest_wape=champion.metrics.get("backtest_wape") if champion is not None else None,
        champion_version=champion.version if champion is not None else None,
        points=points,  # type: ignore[arg-type]
    )


@router.get("/horizons", response_model=list[HorizonError], responses=ERROR_RESPONSES)
def horizons(services: ServicesDep, store: StoreDep, start: Start = None, end: End = None) -> Response:
    """Error by `hours_ahead` over the window: how quickly accuracy decays with the horizon."""
    window = _window(services, store, start, end)
    versions = services.versions.versions(store, MONITORING_HORIZON)
    body = _cached(
        services,
        ("monitoring_horizons", _key(window), versions),
        lambda: list_json(
            HorizonError,
            records(queries.horizon_errors(store, window), list(HorizonError.model_fields)) if window else [],
        ),
    )
    return json_response(body)


@router.get("/series/{area}/{consumer_type}", response_model=list[SeriesErrorPoint], responses=ERROR_RESPONSES)
def series(
    area: AreaKey,
    consumer_type: ConsumerTypeKey,
    services: ServicesDep,
    store: StoreDep,
    start: Start = None,
    end: End = None,
    hours_ahead: Annotated[int | None, Query(ge=1, le=168, description="Only this horizon")] = None,
) -> Response:
    """Predictions against actuals per target hour (and horizon) for one series of the catalogue."""
    series_codes.check_series_key(area, consumer_type)
    series_codes.require_series(series_codes.catalogue(services, store), area, consumer_type)
    window = _window(services, store, start, end)
    versions = services.versions.versions(store, MONITORING)
    body = _cached(
        services,
        ("monitoring_series", area, consumer_type, hours_ahead, _key(window), versions),
        lambda: list_json(
            SeriesErrorPoint,
            records(queries.series_errors(store, area, consumer_type, window, hours_ahead), SERIES_COLUMNS)
            if window
            else [],
        ),
    )
    return json_response(body)


@router.get("/ranking", response_model=list[SeriesRank], responses=ERROR_RESPONSES)
def ranking(
    services: ServicesDep,
    store: StoreDep,
    start: Start = None,
    end: End = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SERIES)] = 20,
) -> Response:
    """Series sorted by WAPE over the window, worst first."""
    window = _window(services, store, start, end)
    versions = services.versions.versions(store, MONITORING, *CATALOGUE_GROUPS)
    body = _cached(
        services,
        ("monitoring_ranking", limit, _key(window), versions),
        lambda: list_json(SeriesRank, _ranking(series_codes.catalogue(services, store), store, window, limit)),
    )
    return json_response(body)


def _ranking(known: Catalogue, store: FeatureStore, window: TimeWindow | None, limit: int) -> list[dict[str, object]]:
    if window is None:
        return []
    ranked = queries.series_ranking(store, window, limit)
    rows = records(ranked, list(ranked.columns))
    return [{**row, "label": known.label(str(row["area"]), str(row["consumer_type"]))} for row in rows]


@router.get("/alerts", response_model=AlertStatus, responses=ERROR_RESPONSES)
def alerts(services: ServicesDep, store: StoreDep) -> Response:
    """The latest status of every drift and performance check; the overall status is the worst."""
    versions = services.versions.versions(store, ALERTS)
    body = _cached(services, ("monitoring_alerts", versions), lambda: model_json(_alerts(store)))
    return json_response(body)


def _alerts(store: FeatureStore) -> AlertStatus:
    latest = queries.latest_alerts(store)
    if latest.empty:
        return AlertStatus(status="ok", retraining_recommended=False, checked_at=None, checks=[])
    worst = max(latest["status"], key=lambda s: STATUS_SEVERITY[s])
    return AlertStatus(
        status=worst,
        retraining_recommended=bool(latest["retraining_recommended"].any()),
        checked_at=latest["datetime_utc"].max(),
        checks=records(latest, ALERT_COLUMNS),  # type: ignore[arg-type]
    )
