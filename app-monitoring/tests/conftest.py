"""A tiny stand-in for app-api's monitoring endpoints, served for real on 127.0.0.1.

Why a fake and not app-api itself: the page depends on docs/api-contract.md, not on app-api's code
(which this package may not import), and the fake lets each test choose the API's state — full,
empty store, or down — in milliseconds. The test against the real app-api is the root
tests/test_dashboards_in_browser.py.
"""

from __future__ import annotations

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
TOTAL_LABELS = {"DK": "Denmark · all consumers", "DK1": "DK1 · all consumers", "DK2": "DK2 · all consumers"}
HOURS = 48


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
        "last_seen_utc": iso(LAST_HOUR),
        "status": "active",
    }


def fake_catalogue() -> list[dict[str, Any]]:
    """The catalogue in the API's tree order: country total, then per area its total and leaves."""
    nodes = [_node("DK", "total", "country", None, TOTAL_LABELS["DK"])]
    for area in AREAS:
        nodes.append(_node(area, "total", "area", "DK|total", TOTAL_LABELS[area]))
        nodes += [_node(area, ct, "leaf", f"{area}|total", label) for ct, label in CONSUMER_TYPES.items()]
    return nodes


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def monitored_hours() -> list[datetime]:
    return [LAST_HOUR - timedelta(hours=h) for h in range(HOURS - 1, -1, -1)]


def fake_metrics() -> dict[str, Any]:
    points = [
        {
            "datetime_utc": iso(t),
            "mape": 0.05 + 0.01 * (i % 5),
            "wape": 0.04 + 0.01 * (i % 4),
            "mae_kwh": 1200.0,
            "bias_kwh": -50.0,
            "interval_coverage": 0.8,
            "count": 76,
            "missing_count": 0,
        }
        for i, t in enumerate(monitored_hours())
    ]
    return {"backtest_wape": 0.045, "champion_version": 2, "points": points}


def fake_horizons() -> list[dict[str, Any]]:
    return [
        {"hours_ahead": h, "mape": 0.03 + h / 1000, "wape": 0.02 + h / 1000, "mae_kwh": 900.0 + h,
         "bias_kwh": 10.0, "count": 152}
        for h in range(1, 25)
    ]  # fmt: skip


def fake_series(area: str, consumer_type: str, hours_ahead: int | None) -> list[dict[str, Any]]:
    """Every target hour forecast at horizons 1 and 2, so "most recent per hour" has work to do."""
    rows = []
    for t in monitored_hours():
        for h in (1, 2) if hours_ahead is None else (hours_ahead,):
            actual = None if t == LAST_HOUR else 10_000.0 + 100 * t.hour
            prediction = 10_000.0 + 100 * t.hour + 50 * h
            rows.append(
                {
                    "datetime_utc": iso(t),
                    "hours_ahead": h,
                    "forecast_made_at": iso(t - timedelta(hours=h)),
                    "model_version": 2,
                    "actual_kwh": actual,
                    "prediction_kwh": prediction,
                    "prediction_q10_kwh": prediction * 0.95,
                    "prediction_q90_kwh": prediction * 1.05,
                    "abs_error_kwh": None if actual is None else abs(prediction - actual),
                    "pct_error": None if actual is None else (prediction - actual) / actual,
                    "in_interval": None if actual is None else True,
                    "actual_missing": actual is None,
                }
            )
    return rows


def fake_ranking(limit: int) -> list[dict[str, Any]]:
    rows = [
        {"area": a, "consumer_type": c, "label": label, "wape": 0.2 - 0.01 * i, "mape": 0.25 - 0.01 * i,
         "mae_kwh": 500.0, "bias_kwh": -20.0, "count": 48}
        for i, (a, (c, label)) in enumerate((a, ct) for a in AREAS for ct in CONSUMER_TYPES.items())
    ]  # fmt: skip
    return rows[:limit]


def fake_alerts() -> dict[str, Any]:
    return {
        "status": "warn",
        "retraining_recommended": True,
        "checked_at": iso(LAST_HOUR),
        "checks": [
            {"check_name": "error_ratio", "status": "warn", "value": 1.3, "threshold": 1.25,
             "reason": "live WAPE is 1.3× the backtest WAPE", "datetime_utc": iso(LAST_HOUR)},
            {"check_name": "psi_temperature", "status": "ok", "value": 0.02, "threshold": 0.1,
             "reason": "temperature distribution is stable", "datetime_utc": iso(LAST_HOUR)},
        ],
    }  # fmt: skip


def fake_models() -> list[dict[str, Any]]:
    registered = datetime(2026, 11, 20, 9, tzinfo=UTC)
    return [
        {"name": "energy-consumption-forecaster", "version": v, "aliases": aliases,
         "created_at": iso(registered + timedelta(days=v)), "model_family": "lightgbm", "approval": None,
         "metrics": {"backtest_wape": 0.05 - v / 1000, "naive24_backtest_wape": 0.09},
         "lineage": {"feature_view": "energy_forecasting", "training_dataset_version": v},
         "promoted_at": None if promoted is None else iso(registered + timedelta(days=promoted))}
        for v, aliases, promoted in ((3, ["challenger"], None), (2, ["champion"], 2.5), (1, [], 1.1))
    ]  # fmt: skip


def fake_history() -> list[dict[str, Any]]:
    """The audit trail behind fake_models, on a simulated clock (January 2023, not the wall clock)."""
    def record(at: str, version: int, operation: str, old: str | None, new: str, before: int | None,
               after: int | None) -> dict[str, Any]:
        return {"version": version, "operation": operation, "from_state": old, "to_state": new, "at": at,
                "who": "training-pipeline run r1", "why": "WAPE beats naive 24 and the champion",
                "champion_before": before, "champion_after": after}
    return [
        record("2023-01-18T00:00:00Z", 1, "gate", "candidate", "champion", None, 1),
        record("2023-01-19T00:00:00Z", 2, "gate", "candidate", "champion", 1, 2),
        record("2023-01-19T00:00:00Z", 1, "gate", "champion", "archived", 1, 2),
        record("2023-01-20T00:00:00Z", 3, "gate", "candidate", "challenger", 2, 2),
    ]  # fmt: skip


def fake_simulation() -> dict[str, Any]:
    """A simulation 6 hours into a 168-hour window (what `make demo` shows while it runs)."""
    return {
        "status": "running", "start": "2023-01-17T23:00:00Z", "end": "2023-01-24T23:00:00Z",
        "hours_total": 168, "hours_done": 6, "completed_through": "2023-01-18T04:00:00Z",
        "seconds_per_hour": 0.75, "eta": "2026-12-01T12:02:06Z", "updated_at": "2026-12-01T12:00:00Z",
        "retrain_profile": "retrain",
    }  # fmt: skip


def build_fake_api(mode: Mode) -> FastAPI:
    """`full`: every endpoint has data; `not_ready`: a fresh store, monitoring endpoints answer 503;
    `empty_lists`: 200s with empty lists and nulls."""
    app = FastAPI()
    empty = mode == "empty_lists"

    def ready() -> None:
        if mode == "not_ready":
            raise HTTPException(503, detail="no monitoring rows in the feature store yet")

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/series")
    def catalogue() -> list[dict[str, Any]]:
        return [] if empty else fake_catalogue()

    @app.get("/api/v1/areas")
    def areas() -> list[dict[str, str]]:
        return [{"code": c, "label": label} for c, label in AREAS.items()]

    @app.get("/api/v1/consumer-types")
    def consumer_types() -> list[dict[str, str]]:
        return [{"code": c, "label": label} for c, label in CONSUMER_TYPES.items()]

    @app.get("/api/v1/monitoring/metrics")
    def metrics(start: str | None = None, end: str | None = None) -> dict[str, Any]:
        ready()
        return {"backtest_wape": None, "champion_version": None, "points": []} if empty else fake_metrics()

    @app.get("/api/v1/monitoring/horizons")
    def horizons(start: str | None = None, end: str | None = None) -> list[dict[str, Any]]:
        ready()
        return [] if empty else fake_horizons()

    @app.get("/api/v1/monitoring/series/{area}/{consumer_type}")
    def series(area: str, consumer_type: str, hours_ahead: int | None = None) -> list[dict[str, Any]]:
        ids = [n["id"] for n in fake_catalogue()]
        if f"{area}|{consumer_type}" not in ids:
            raise HTTPException(404, detail=f"unknown series; valid values: {ids}")
        ready()
        return [] if empty else fake_series(area, consumer_type, hours_ahead)

    @app.get("/api/v1/monitoring/ranking")
    def ranking(limit: int = 20) -> list[dict[str, Any]]:
        ready()
        return [] if empty else fake_ranking(limit)

    @app.get("/api/v1/monitoring/alerts")
    def alerts() -> dict[str, Any]:
        ready()
        return (
            {"status": "ok", "retraining_recommended": False, "checked_at": None, "checks": []}
            if empty
            else (fake_alerts())
        )

    @app.get("/api/v1/models")
    def models() -> list[dict[str, Any]]:
        return [] if mode != "full" else fake_models()

    @app.get("/api/v1/models/history")
    def history() -> list[dict[str, Any]]:
        return [] if mode != "full" else fake_history()

    @app.get("/api/v1/simulation")
    def simulation() -> dict[str, Any]:
        return {"status": "not_started"} if mode != "full" else fake_simulation()

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
