"""What can be asked for: the series catalogue (and its old views, areas and consumer types), and
one area's next-24-hours overview.

The catalogue is learned from the data (`energy_core.series`): `/series` lists it as a tree,
`/areas` and `/consumer-types` are kept for older clients as projections of it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from energy_api import cached_reads, queries, series_codes
from energy_api.cached_response import cached_json
from energy_api.dependencies import Services, ServicesDep, StoreDep
from energy_api.errors import ERROR_RESPONSES
from energy_api.routers import API_PREFIX
from energy_api.serialization import list_json, model_json
from energy_api.series_codes import CATALOGUE_GROUPS, AreaKey, Catalogue, ConsumerTypeKey
from energy_core.api_models import AreaOverview, CodeLabel, SeriesNode, SeriesOverview
from energy_core.feature_store import FeatureStore
from energy_core.schemas import PREDICTIONS, TOTAL

router = APIRouter(prefix=API_PREFIX, tags=["catalog"])
WEEK = timedelta(days=7)


@router.get("/series", response_model=list[SeriesNode], responses=ERROR_RESPONSES)
async def series(
    services: ServicesDep,
    store: StoreDep,
    level: Annotated[str | None, Query(description="leaf, area or country")] = None,
    parent: Annotated[str | None, Query(description="Only the children of this series id, e.g. DK1|total")] = None,
    area: Annotated[str | None, Query(description="Only the series of this area")] = None,
) -> Response:
    """The series catalogue in tree order: country totals, then per area its total before its leaves."""
    if level is not None:
        series_codes.check_level(level)
    if parent is not None:
        series_codes.check_series_id(parent, "parent")
    if area is not None:
        series_codes.check_area_key(area, where="query")
    return await cached_json(
        services,
        store,
        CATALOGUE_GROUPS,
        ("series", level, parent, area),
        lambda: list_json(SeriesNode, _filtered(series_codes.catalogue(services, store), level, parent, area)),
    )


def _filtered(known: Catalogue, level: str | None, parent: str | None, area: str | None) -> list[SeriesNode]:
    return [
        node
        for node in known.nodes
        if (level is None or node.level == level)
        and (parent is None or node.parent_id == parent)
        and (area is None or node.area == area)
    ]


@router.get("/series/{area}/{consumer_type}", response_model=SeriesNode, responses=ERROR_RESPONSES)
async def series_node(
    area: AreaKey, consumer_type: ConsumerTypeKey, services: ServicesDep, store: StoreDep
) -> Response:
    """One catalogue entry (404 naming the area's series when unknown)."""
    series_codes.check_series_key(area, consumer_type)
    return await cached_json(
        services,
        store,
        CATALOGUE_GROUPS,
        ("series_node", area, consumer_type),
        lambda: model_json(_node(series_codes.catalogue(services, store), area, consumer_type)),
    )


def _node(known: Catalogue, area: str, consumer_type: str) -> SeriesNode:
    node = series_codes.require_series(known, area, consumer_type)
    if node is None:
        raise HTTPException(404, f"unknown series {area}/{consumer_type}: no series has been ingested yet")
    return node


@router.get("/areas", response_model=list[CodeLabel], responses=ERROR_RESPONSES)
async def areas(services: ServicesDep, store: StoreDep) -> Response:
    """The areas of the catalogue (a view of `/series`; countries are listed there)."""
    return await cached_json(
        services,
        store,
        CATALOGUE_GROUPS,
        ("areas",),
        lambda: list_json(CodeLabel, series_codes.areas(series_codes.catalogue(services, store))),
    )


@router.get("/consumer-types", response_model=list[CodeLabel], responses=ERROR_RESPONSES)
async def consumer_types(services: ServicesDep, store: StoreDep) -> Response:
    """The leaves' consumer types with labels (a view of `/series`)."""
    return await cached_json(
        services,
        store,
        CATALOGUE_GROUPS,
        ("consumer_types",),
        lambda: list_json(CodeLabel, series_codes.consumer_types(series_codes.catalogue(services, store))),
    )


@router.get("/areas/{area}/overview", response_model=AreaOverview, responses=ERROR_RESPONSES)
async def area_overview(area: AreaKey, services: ServicesDep, store: StoreDep) -> Response:
    """Per series of the area (its total first): the latest forecast's 24-hour total against the
    same hours a week earlier."""
    series_codes.check_area_key(area)
    return await cached_json(
        services,
        store,
        (*CATALOGUE_GROUPS, PREDICTIONS),
        ("overview", area),
        lambda: model_json(build_overview(services, store, area)),
    )


def build_overview(services: Services, store: FeatureStore, area: str) -> AreaOverview:
    known = series_codes.catalogue(services, store)
    series_codes.require_area(known, area)
    anchor = cached_reads.latest_data_at(services, store)
    forecasts = queries.latest_forecasts(store, {"area": area}, anchor)
    if forecasts.empty:
        return AreaOverview(area=area, forecast_made_at=None, model_version=None, series=[])
    targets = forecasts["datetime_utc"]
    last_week = queries.actuals(store, area, targets.min() - WEEK, targets.max() - WEEK + timedelta(hours=1))
    last_week = last_week.assign(datetime_utc=last_week["datetime_utc"] + WEEK)
    joined = forecasts.merge(last_week, on=["consumer_type", "datetime_utc"], how="left")
    series = [_series_overview(known, area, str(ct), rows) for ct, rows in joined.groupby("consumer_type", sort=True)]
    series.sort(key=lambda s: (s.consumer_type != TOTAL, s.consumer_type))
    newest = forecasts.sort_values("forecast_made_at").iloc[-1]
    return AreaOverview(
        area=area,
        forecast_made_at=newest["forecast_made_at"],
        model_version=int(newest["model_version"]),
        series=series,
    )


def _series_overview(known: Catalogue, area: str, consumer_type: str, rows: pd.DataFrame) -> SeriesOverview:
    forecast = float(rows["prediction_kwh"].sum())
    complete = bool(rows["energy_consumption_kwh"].notna().all())
    last_week = float(rows["energy_consumption_kwh"].sum()) if complete else None
    change = (forecast - last_week) / last_week * 100 if last_week else None
    return SeriesOverview(
        consumer_type=consumer_type,
        label=known.label(area, consumer_type),
        forecast_next_24h_kwh=forecast,
        same_hours_last_week_kwh=last_week,
        expected_change_pct=change,
        model_family=_family(rows),
    )


def _family(rows: pd.DataFrame) -> str | None:
    """The forecast's `model_family`; null for rows written before the column existed."""
    if "model_family" not in rows.columns:
        return None
    families = rows["model_family"].dropna()
    return str(families.iloc[0]) if not families.empty else None
