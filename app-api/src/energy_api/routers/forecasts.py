"""The forecast page's one request: a series' observed history and its latest forecast."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from energy_api import cached_reads, queries, series_codes
from energy_api.cached_response import cached_json
from energy_api.dependencies import Services, ServicesDep, StoreDep
from energy_api.errors import ERROR_RESPONSES
from energy_api.routers import API_PREFIX
from energy_api.serialization import model_json, records
from energy_core.api_models import Forecast
from energy_core.feature_store import FeatureStore
from energy_core.schemas import ENERGY_CONSUMPTION, PREDICTIONS, consumer_type_label

router = APIRouter(prefix=API_PREFIX, tags=["forecasts"])
MAX_HISTORY_HOURS = 2160  # 90 days
HISTORY_COLUMNS = ["datetime_utc", "energy_consumption_kwh"]
FORECAST_COLUMNS = ["datetime_utc", "hours_ahead", "prediction_kwh", "prediction_q10_kwh", "prediction_q90_kwh"]


@router.get("/forecasts/{area}/{consumer_type}", response_model=Forecast, responses=ERROR_RESPONSES)
async def forecast(
    area: str,
    consumer_type: str,
    services: ServicesDep,
    store: StoreDep,
    history_hours: Annotated[int, Query(ge=1, le=MAX_HISTORY_HOURS, description="Observed hours to return")] = 168,
) -> Response:
    """Observed history plus the latest forecast (point and 10-90 % band), when and by which model.

    Served from a cache keyed on the consumption and prediction table versions: a new batch of
    data or forecasts is visible within the version-probe interval (1 s).
    """
    series_codes.require_series(area, consumer_type)
    return await cached_json(
        services,
        store,
        (ENERGY_CONSUMPTION, PREDICTIONS),
        ("forecast", area, consumer_type, history_hours),
        lambda: model_json(build_forecast(services, store, area, consumer_type, history_hours)),
    )


def build_forecast(
    services: Services, store: FeatureStore, area: str, consumer_type: str, history_hours: int
) -> Forecast:
    catalog = cached_reads.series_catalog(services, store)
    series = series_codes.require_series_with_data(catalog, area, consumer_type)
    latest_data_at = series["latest_data_at"] if series is not None else None
    history = (
        records(queries.history(store, area, consumer_type, latest_data_at, history_hours), HISTORY_COLUMNS)
        if latest_data_at is not None
        else []
    )
    predicted = queries.latest_forecasts(store, {"area": area, "consumer_type": consumer_type}, latest_data_at)
    head = predicted.iloc[0] if not predicted.empty else None
    return Forecast(
        area=area,
        consumer_type=consumer_type,
        consumer_type_label=consumer_type_label(consumer_type),
        forecast_made_at=head["forecast_made_at"] if head is not None else None,
        model_name=str(head["model_name"]) if head is not None else None,
        model_version=int(head["model_version"]) if head is not None else None,
        latest_data_at=latest_data_at,
        history=history,  # type: ignore[arg-type]
        forecast=records(predicted, FORECAST_COLUMNS),  # type: ignore[arg-type]
    )
