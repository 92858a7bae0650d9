"""A small stand-in for app-api, served for real on 127.0.0.1, shaped by docs/api-contract.md,
and the pytest fixtures both dashboards' suites use (import them into a conftest.py).

Why a fake and not app-api itself: a page depends on the contract, not on app-api's code (which a
dashboard may not import), and the fake lets each test choose the API's state (full, empty store,
or down) in milliseconds. It serves every route either page reads, with data small enough to
reason about in an assertion. The test against the real app-api is the repository's
tests/test_dashboards_in_browser.py. Needs the `dashboard-testing` extra (FastAPI, uvicorn, pytest).
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
MONITORED_HOURS = 48
START_TIMEOUT_S = 10.0


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------ catalogue
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


def _label(area: str, consumer_type: str) -> str:
    return TOTAL_LABELS[area] if consumer_type == "total" else CONSUMER_TYPES[consumer_type]


def _family(area: str, consumer_type: str) -> str:
    if consumer_type == "total":
        return "bottom_up"
    return "seasonal_naive_24" if (area, consumer_type) == COLD_START else "lightgbm"


# ------------------------------------------------------------------------------------------ forecasts
def _consumption(area: str, consumer_type: str, t: datetime) -> float:
    """A deterministic daily cycle, different per series, so charts have real shape; totals add up."""
    if consumer_type == "total":
        areas = list(AREAS) if area == "DK" else [area]
        return round(sum(_consumption(a, ct, t) for a in areas for ct in CONSUMER_TYPES), 1)
    level = 10_000.0 * (1 + list(AREAS).index(area)) * (1 + list(CONSUMER_TYPES).index(consumer_type))
    return round(level * (1 + 0.3 * math.sin(2 * math.pi * t.hour / 24)), 1)


def fake_forecast(area: str, consumer_type: str, history_hours: int) -> dict[str, Any]:
    history = [
        {"datetime_utc": iso(t), "energy_consumption_kwh": _consumption(area, consumer_type, t)}
        for t in (LAST_HOUR - timedelta(hours=h) for h in range(history_hours - 1, -1, -1))
    ]
    forecast = []
    for h in range(1, 25):
        t = LAST_HOUR + timedelta(hours=h)
        value = _consumption(area, consumer_type, t) * 1.02
        forecast.append(
            {"datetime_utc": iso(t), "hours_ahead": h, "prediction_kwh": value,
             "prediction_q10_kwh": value * 0.9, "prediction_q90_kwh": value * 1.1,
             "model_family": _family(area, consumer_type)}
        )  # fmt: skip
    return {
        "area": area,
        "consumer_type": consumer_type,
        "consumer_type_label": _label(area, consumer_type),
        "forecast_made_at": iso(LAST_HOUR),
        "model_name": "energy-consumption-forecaster",
        "model_version": 3,
        "model_family": _family(area, consumer_type),
        "cold_start": (area, consumer_type) == COLD_START,
        "latest_data_at": iso(LAST_HOUR),
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
            {"consumer_type": code, "label": label, "forecast_next_24h_kwh": last_week * (1 + change / 100),
             "same_hours_last_week_kwh": last_week, "expected_change_pct": change,
             "model_family": _family(area, code)}
        )  # fmt: skip
    return {"area": area, "forecast_made_at": iso(LAST_HOUR), "model_version": 3, "series": series}


# ------------------------------------------------------------------------------------------ monitoring
def monitored_hours() -> list[datetime]:
    return [LAST_HOUR - timedelta(hours=h) for h in range(MONITORED_HOURS - 1, -1, -1)]


def fake_metrics() -> dict[str, Any]:
    points = [
        {"datetime_utc": iso(t), "mape": 0.05 + 0.01 * (i % 5), "wape": 0.04 + 0.01 * (i % 4),
         "mae_kwh": 1200.0, "bias_kwh": -50.0, "interval_coverage": 0.8, "count": 76, "missing_count": 0}
        for i, t in enumerate(monitored_hours())
    ]  # fmt: skip
    return {"backtest_wape": 0.045, "champion_version": 2, "points": points}


def fake_horizons() -> list[dict[str, Any]]:
    return [
        {"hours_ahead": h, "mape": 0.03 + h / 1000, "wape": 0.02 + h / 1000, "mae_kwh": 900.0 + h,
         "bias_kwh": 10.0, "count": 152}
        for h in range(1, 25)
    ]  # fmt: skip


def fake_series_errors(hours_ahead: int | None) -> list[dict[str, Any]]:
    """Every target hour forecast at horizons 1 and 2, so "most recent per hour" has work to do;
    the last hour has no actual yet."""
    rows = []
    for t in monitored_hours():
        for h in (1, 2) if hours_ahead is None else (hours_ahead,):
            actual = None if t == LAST_HOUR else 10_000.0 + 100 * t.hour
            prediction = 10_000.0 + 100 * t.hour + 50 * h
            rows.append(
                {"datetime_utc": iso(t), "hours_ahead": h, "forecast_made_at": iso(t - timedelta(hours=h)),
                 "model_version": 2, "actual_kwh": actual, "prediction_kwh": prediction,
                 "prediction_q10_kwh": prediction * 0.95, "prediction_q90_kwh": prediction * 1.05,
                 "abs_error_kwh": None if actual is None else abs(prediction - actual),
                 "pct_error": None if actual is None else (prediction - actual) / actual,
                 "in_interval": None if actual is None else True, "actual_missing": actual is None}
            )  # fmt: skip
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


# ------------------------------------------------------------------------------------------ models
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

    def record(
        at: str, version: int, old: str | None, new: str, before: int | None, after: int | None
    ) -> dict[str, Any]:
        return {"version": version, "operation": "gate", "from_state": old, "to_state": new, "at": at,
                "who": "training-pipeline run r1", "why": "WAPE beats naive 24 and the champion",
                "champion_before": before, "champion_after": after}  # fmt: skip

    return [
        record("2023-01-18T00:00:00Z", 1, "candidate", "champion", None, 1),
        record("2023-01-19T00:00:00Z", 2, "candidate", "champion", 1, 2),
        record("2023-01-19T00:00:00Z", 1, "champion", "archived", 1, 2),
        record("2023-01-20T00:00:00Z", 3, "candidate", "challenger", 2, 2),
    ]


def fake_simulation() -> dict[str, Any]:
    """A simulation 6 hours into a 168-hour window (what `make demo` shows while it runs)."""
    return {
        "status": "running", "start": "2023-01-17T23:00:00Z", "end": "2023-01-24T23:00:00Z",
        "hours_total": 168, "hours_done": 6, "completed_through": "2023-01-18T04:00:00Z",
        "seconds_per_hour": 0.75, "eta": "2026-12-01T12:02:06Z", "updated_at": "2026-12-01T12:00:00Z",
        "retrain_profile": "retrain",
    }  # fmt: skip


# ------------------------------------------------------------------------------------------ the app
def build_fake_api(mode: Mode) -> FastAPI:
    """`full`: every route has data; `not_ready`: a fresh store, data routes answer 503 like the
    contract's not-ready API; `empty_lists`: 200s with empty lists and nulls. The catalogue's
    labels (`/areas`, `/consumer-types`) answer in every mode, as app-api's do."""
    app = FastAPI()
    empty = mode == "empty_lists"

    def ready(what: str) -> None:
        if mode == "not_ready":
            raise HTTPException(503, detail=f"no {what} in the feature store yet")

    def known(area: str, consumer_type: str | None = None) -> None:
        ids = [n["id"] for n in fake_catalogue()]
        if area not in {i.split("|")[0] for i in ids} or (
            consumer_type is not None and f"{area}|{consumer_type}" not in ids
        ):
            raise HTTPException(404, detail=f"unknown series; valid values: {ids}")

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

    @app.get("/api/v1/forecasts/{area}/{consumer_type}")
    def forecast(area: str, consumer_type: str, history_hours: int = 168) -> dict[str, Any]:
        known(area, consumer_type)
        ready("forecasts")
        body = fake_forecast(area, consumer_type, history_hours)
        if empty:
            body.update(history=[], forecast=[], forecast_made_at=None, model_version=None)
        return body

    @app.get("/api/v1/areas/{area}/overview")
    def overview(area: str) -> dict[str, Any]:
        known(area)
        ready("forecasts")
        return {**fake_overview(area), "series": []} if empty else fake_overview(area)

    @app.get("/api/v1/monitoring/metrics")
    def metrics(start: str | None = None, end: str | None = None) -> dict[str, Any]:
        ready("monitoring rows")
        return {"backtest_wape": None, "champion_version": None, "points": []} if empty else fake_metrics()

    @app.get("/api/v1/monitoring/horizons")
    def horizons(start: str | None = None, end: str | None = None) -> list[dict[str, Any]]:
        ready("monitoring rows")
        return [] if empty else fake_horizons()

    @app.get("/api/v1/monitoring/series/{area}/{consumer_type}")
    def series_errors(
        area: str, consumer_type: str, hours_ahead: int | None = None, start: str | None = None, end: str | None = None
    ) -> list[dict[str, Any]]:
        known(area, consumer_type)
        ready("monitoring rows")
        return [] if empty else fake_series_errors(hours_ahead)

    @app.get("/api/v1/monitoring/ranking")
    def ranking(limit: int = 20, start: str | None = None, end: str | None = None) -> list[dict[str, Any]]:
        ready("monitoring rows")
        return [] if empty else fake_ranking(limit)

    @app.get("/api/v1/monitoring/alerts")
    def alerts() -> dict[str, Any]:
        ready("monitoring rows")
        if empty:
            return {"status": "ok", "retraining_recommended": False, "checked_at": None, "checks": []}
        return fake_alerts()

    @app.get("/api/v1/models")
    def models() -> list[dict[str, Any]]:
        return fake_models() if mode == "full" else []

    @app.get("/api/v1/models/history")
    def history() -> list[dict[str, Any]]:
        return fake_history() if mode == "full" else []

    @app.get("/api/v1/simulation")
    def simulation() -> dict[str, Any]:
        return fake_simulation() if mode == "full" else {"status": "not_started"}

    return app


# ------------------------------------------------------------------------------------------ serving
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RunningApi:
    url: str


@contextmanager
def serve(app: FastAPI) -> Iterator[RunningApi]:
    """Serve `app` on a free 127.0.0.1 port in a daemon thread for the duration of the block."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the fake API did not start on port {port} within {START_TIMEOUT_S:g} s")
            time.sleep(0.02)
        yield RunningApi(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def full_api() -> Iterator[RunningApi]:
    with serve(build_fake_api("full")) as api:
        yield api


@pytest.fixture(scope="session", params=["not_ready", "empty_lists"])
def empty_api(request: pytest.FixtureRequest) -> Iterator[RunningApi]:
    """The API of a fresh installation, in both shapes the contract allows for "no data yet"."""
    with serve(build_fake_api(request.param)) as api:
        yield api


@pytest.fixture
def closed_port_url() -> str:
    """A URL where nothing listens: the API is down."""
    return f"http://127.0.0.1:{free_port()}"
