"""A tiny stand-in for app-api, served for real on 127.0.0.1, shaped by docs/api-contract.md.

Why a fake and not app-api itself: the page depends on the contract, not on app-api's code (which
this package may not import), and the fake lets each test choose the API's state — full, empty
store, or down — in milliseconds. The test against the real app-api is the root tests/test_dashboards_in_browser.py.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
import uvicorn
from fastapi import FastAPI, HTTPException

Mode = Literal["full", "not_ready", "empty_lists"]

LAST_HOUR = datetime(2023, 1, 24, 22, tzinfo=UTC)
AREAS = {"DK1": "West Denmark", "DK2": "East Denmark"}
CONSUMER_TYPES = {"111": "Households", "112": "Agriculture", "999": "Other"}
COLD_START = ("DK2", "999")  # a brand-new series, forecast by the seasonal-naive fallback
TOTAL_LABELS = {"DK": "Denmark · all consumers", "DK1": "DK1 · all consumers", "DK2": "DK2 · all consumers"}


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _node(area: str, consumer_type: str, level: str, parent: str | None, label: str) -> dict[str, Any]:
    return {
        "id": f"{area}|{consumer_type}",
        "area": area,
        "area_label": {"DK": "Denmark", **AREAS}[area],
        "consumer_type": consumer_type,
        "level": level,
        "parent_id": parent,
        "label": label,
        "unit": "kWh",
        "source_dataset": "ConsumptionDE35Hour",
        "first_seen_utc": "2023-01-01T00:00:00Z",
        "last_seen_utc": _iso(LAST_HOUR),
        "status": "active",
    }


def fake_series() -> list[dict[str, Any]]:
    """The catalogue in the API's tree order: country total, then per area its total and leaves."""
    nodes = [_node("DK", "total", "country", None, TOTAL_LABELS["DK"])]
    for area in AREAS:
        nodes.append(_node(area, "total", "area", "DK|total", TOTAL_LABELS[area]))
        nodes += [_node(area, ct, "leaf", f"{area}|total", label) for ct, label in CONSUMER_TYPES.items()]
    return nodes


def _label(area: str, consumer_type: str) -> str:
    return TOTAL_LABELS[area] if consumer_type == "total" else CONSUMER_TYPES[consumer_type]


def _family(area: str, consumer_type: str) -> str:
    if consumer_type == "total":
        return "bottom_up"
    return "seasonal_naive_24" if (area, consumer_type) == COLD_START else "lightgbm"


def _consumption(area: str, consumer_type: str, t: datetime) -> float:
    """A deterministic daily cycle, different per series, so charts have real shape; totals add up."""
    if consumer_type == "total":
        areas = list(AREAS) if area == "DK" else [area]
        return round(sum(_consumption(a, ct, t) for a in areas for ct in CONSUMER_TYPES), 1)
    level = 10_000.0 * (1 + list(AREAS).index(area)) * (1 + list(CONSUMER_TYPES).index(consumer_type))
    return round(level * (1 + 0.3 * math.sin(2 * math.pi * t.hour / 24)), 1)


def fake_forecast(area: str, consumer_type: str, history_hours: int) -> dict[str, Any]:
    history = [
        {"datetime_utc": _iso(t), "energy_consumption_kwh": _consumption(area, consumer_type, t)}
        for t in (LAST_HOUR - timedelta(hours=h) for h in range(history_hours - 1, -1, -1))
    ]
    forecast = []
    for h in range(1, 25):
        t = LAST_HOUR + timedelta(hours=h)
        value = _consumption(area, consumer_type, t) * 1.02
        forecast.append(
            {
                "datetime_utc": _iso(t),
                "hours_ahead": h,
                "prediction_kwh": value,
                "prediction_q10_kwh": value * 0.9,
                "prediction_q90_kwh": value * 1.1,
                "model_family": _family(area, consumer_type),
            }
        )
    return {
        "area": area,
        "consumer_type": consumer_type,
        "consumer_type_label": _label(area, consumer_type),
        "forecast_made_at": _iso(LAST_HOUR),
        "model_name": "energy-consumption-forecaster",
        "model_version": 3,
        "model_family": _family(area, consumer_type),
        "cold_start": (area, consumer_type) == COLD_START,
        "latest_data_at": _iso(LAST_HOUR),
        "history": history,
        "forecast": forecast,
    }


def fake_overview(area: str) -> dict[str, Any]:
    """The area's total first, then its leaves (the country has only its total)."""
    leaves = {} if area == "DK" else CONSUMER_TYPES
    series = []
    for i, (code, label) in enumerate({"total": TOTAL_LABELS[area], **leaves}.items()):
        last_week = 240_000.0 * (i + 1)
        change = (1.0, -4.0, 2.5, 7.5)[i]
        series.append(
            {
                "consumer_type": code,
                "label": label,
                "forecast_next_24h_kwh": last_week * (1 + change / 100),
                "same_hours_last_week_kwh": last_week,
                "expected_change_pct": change,
                "model_family": _family(area, code),
            }
        )
    return {"area": area, "forecast_made_at": _iso(LAST_HOUR), "model_version": 3, "series": series}


def build_fake_api(mode: Mode) -> FastAPI:
    """`full`: every endpoint has data; `not_ready`: the store is empty and data endpoints answer
    503 like the contract's not-ready API; `empty_lists`: 200s with empty lists."""
    app = FastAPI()
    no_data = HTTPException(503, detail="no forecasts in the feature store yet")

    def known(area: str, consumer_type: str | None = None) -> None:
        ids = {n["id"] for n in fake_series()}
        if area not in {i.split("|")[0] for i in ids} or (
            consumer_type is not None and f"{area}|{consumer_type}" not in ids
        ):
            raise HTTPException(404, detail=f"unknown series; valid values: {sorted(ids)}")

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/series")
    def series() -> list[dict[str, Any]]:
        return [] if mode == "empty_lists" else fake_series()

    @app.get("/api/v1/areas")
    def areas() -> list[dict[str, str]]:
        return [{"code": c, "label": label} for c, label in AREAS.items()]

    @app.get("/api/v1/consumer-types")
    def consumer_types() -> list[dict[str, str]]:
        return [{"code": c, "label": label} for c, label in CONSUMER_TYPES.items()]

    @app.get("/api/v1/forecasts/{area}/{consumer_type}")
    def forecast(area: str, consumer_type: str, history_hours: int = 168) -> dict[str, Any]:
        known(area, consumer_type)
        if mode == "not_ready":
            raise no_data
        body = fake_forecast(area, consumer_type, history_hours)
        if mode == "empty_lists":
            body.update(history=[], forecast=[], forecast_made_at=None, model_version=None)
        return body

    @app.get("/api/v1/areas/{area}/overview")
    def overview(area: str) -> dict[str, Any]:
        known(area)
        if mode == "not_ready":
            raise no_data
        body = fake_overview(area)
        if mode == "empty_lists":
            body["series"] = []
        return body

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RunningApi:
    url: str


def _serve(app: FastAPI) -> Iterator[RunningApi]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake API did not start within 10 s")
        time.sleep(0.02)
    yield RunningApi(f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def full_api() -> Iterator[RunningApi]:
    yield from _serve(build_fake_api("full"))


@pytest.fixture(scope="session", params=["not_ready", "empty_lists"])
def empty_api(request: pytest.FixtureRequest) -> Iterator[RunningApi]:
    """The API of a fresh installation, in both shapes the contract allows for "no data yet"."""
    yield from _serve(build_fake_api(request.param))


@pytest.fixture
def closed_port_url() -> str:
    """A URL where nothing listens: the API is down."""
    return f"http://127.0.0.1:{free_port()}"
