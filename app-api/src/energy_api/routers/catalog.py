"""What can be asked for: areas, consumer types, and one area's next-24-hours overview."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from fastapi import APIRouter
from fastapi.responses import Response

from energy_api import cached_reads, queries, series_codes
from energy_api.cached_response import cached_json
from energy_api.dependencies import Services, ServicesDep, StoreDep
from energy_api.errors import ERROR_RESPONSES
from energy_api.routers import API_PREFIX
from energy_api.serialization import model_json
from energy_core.api_models import AreaOverview, CodeLabel, SeriesOverview
from energy_core.feature_store import FeatureStore
from energy_core.schemas import ENERGY_CONSUMPTION, PREDICTIONS, consumer_type_label

router = APIRouter(prefix=API_PREFIX, tags=["catalog"])
WEEK = timedelta(days=7)


@router.get("/areas", response_model=list[CodeLabel])
async def areas() -> list[CodeLabel]:
    return series_codes.areas()


@router.get("/consumer-types", response_model=list[CodeLabel])
async def consumer_types() -> list[CodeLabel]:
    return series_codes.consumer_types()


@router.get("/areas/{area}/overview", response_model=AreaOverview, responses=ERROR_RESPONSES)
async def area_overview(area: str, services: ServicesDep, store: StoreDep) -> Response:
    """Per consumer type: the latest forecast's 24-hour total against the same hours a week earlier."""
    series_codes.require_area(area)
    return await cached_json(
        services,
        store,
        (ENERGY_CONSUMPTION, PREDICTIONS),
        ("overview", area),
        lambda: model_json(build_overview(services, store, area)),
    )


def build_overview(services: Services, store: FeatureStore, area: str) -> AreaOverview:
    anchor = cached_reads.latest_data_at(services, store)
    forecasts = queries.latest_forecasts(store, {"area": area}, anchor)
    if forecasts.empty:
        return AreaOverview(area=area, forecast_made_at=None, model_version=None, series=[])
    targets = forecasts["datetime_utc"]
    last_week = queries.actuals(store, area, targets.min() - WEEK, targets.max() - WEEK + timedelta(hours=1))
    last_week = last_week.assign(datetime_utc=last_week["datetime_utc"] + WEEK)
    joined = forecasts.merge(last_week, on=["consumer_type", "datetime_utc"], how="left")
    series = [_series_overview(str(ct), rows) for ct, rows in joined.groupby("consumer_type", sort=True)]
    newest = forecasts.sort_values("forecast_made_at").iloc[-1]
    return AreaOverview(
        area=area,
        forecast_made_at=newest["forecast_made_at"],
        model_version=int(newest["model_version"]),
        series=series,
    )


def _series_overview(consumer_type: str, rows: pd.DataFrame) -> SeriesOverview:
    forecast = float(rows["prediction_kwh"].sum())
    complete = bool(rows["energy_consumption_kwh"].notna().all())
    last_week = float(rows["energy_consumption_kwh"].sum()) if complete else None
    change = (forecast - last_week) / last_week * 100 if last_week else None
    return SeriesOverview(
        consumer_type=consumer_type,
        label=consumer_type_label(consumer_type),
        forecast_next_24h_kwh=forecast,
        same_hours_last_week_kwh=last_week,
        expected_change_pct=change,
    )
