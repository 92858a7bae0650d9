"""The forecast page's one request: a series' observed history and its latest forecast.

Any series of the catalogue can be asked for, leaves and parent totals alike: a total's history
comes from `energy_consumption_totals`, its forecast is the bottom-up `predictions` rows batch
prediction wrote for it. `model_family` says what produced the forecast, so a cold-start series
(forecast by the seasonal-naive fallback) is flagged as such.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response

from energy_api import cached_reads, queries, series_codes
from energy_api.cached_response import cached_json
from energy_api.dependencies import Services, ServicesDep, StoreDep
from energy_api.errors import ERROR_RESPONSES
from energy_api.routers import API_PREFIX
from energy_api.serialization import model_json, records
from energy_api.series_codes import CATALOGUE_GROUPS, AreaKey, ConsumerTypeKey
from energy_core.api_models import COLD_START_FAMILY, Forecast
from energy_core.feature_store import FeatureStore
from energy_core.schemas import PREDICTIONS

router = APIRouter(prefix=API_PREFIX, tags=["forecasts"])
MAX_HISTORY_HOURS = 2160  # 90 days
HISTORY_COLUMNS = ["datetime_utc", "energy_consumption_kwh"]
FORECAST_COLUMNS = [
    "datetime_utc",
    "hours_ahead",
    "prediction_kwh",
    "prediction_q10_kwh",
    "prediction_q90_kwh",
    "model_family",
]


@router.get("/forecasts/{area}/{consumer_type}", response_model=Forecast, responses=ERROR_RESPONSES)
async def forecast(
    area: AreaKey,
    consumer_type: ConsumerTypeKey,
    services: ServicesDep,
    store: StoreDep,
    history_hours: Annotated[int, Query(ge=1, le=MAX_HISTORY_HOURS, description="Observed hours to return")] = 168,
) -> Response:
    """Observed history plus the latest forecast (point and 10-90 % band), when and by which model.

    Served from a cache keyed on the catalogue, consumption and prediction table versions: a new
    batch of data or forecasts is visible within the version-probe interval (1 s). A malformed key
    is a 422, a well-formed one the catalogue does not know a 404 naming the area's series.
    """
    series_codes.check_series_key(area, consumer_type)
    return await cached_json(
        services,
        store,
        (*CATALOGUE_GROUPS, PREDICTIONS),
        ("forecast", area, consumer_type, history_hours),
        lambda: model_json(build_forecast(services, store, area, consumer_type, history_hours)),
    )


def build_forecast(
    services: Services, store: FeatureStore, area: str, consumer_type: str, history_hours: int
) -> Forecast:
    known = series_codes.catalogue(services, store)
    node = series_codes.require_series(known, area, consumer_type)
    latest_data_at = known.latest_data_at.get(node.id) if node is not None else None
    history = (
        records(queries.history(store, area, consumer_type, latest_data_at, history_hours), HISTORY_COLUMNS)
        if latest_data_at is not None
        else []
    )
    # Forecasts are looked for around the newest data hour of any series, not of this one: a
    # total whose newest hour is incomplete (a leaf still missing) still shows its latest forecast.
    anchor = cached_reads.latest_data_at(services, store)
    predicted = queries.latest_forecasts(store, {"area": area, "consumer_type": consumer_type}, anchor)
    head = predicted.iloc[0] if not predicted.empty else None
    family = head.get("model_family") if head is not None else None
    family = None if family is None or pd.isna(family) else str(family)
    return Forecast(
        area=area,
        consumer_type=consumer_type,
        consumer_type_label=known.label(area, consumer_type),
        forecast_made_at=head["forecast_made_at"] if head is not None else None,
        model_name=str(head["model_name"]) if head is not None else None,
        model_version=int(head["model_version"]) if head is not None else None,
        latest_data_at=latest_data_at,
        history=history,  # type: ignore[arg-type]
        forecast=records(predicted, FORECAST_COLUMNS),  # type: ignore[arg-type]
        model_family=family,
        cold_start=family == COLD_START_FAMILY,
    )
