"""Contract tests over an ENERGY_HOME filled by the real pipelines from the real snapshot.

`snapshot_home` (repository conftest.py) runs the console scripts: a backfill, a smoke-profile
training and a few simulated hours of prediction and monitoring. These tests check every
endpoint of docs/api-contract.md against that store, cross-checking answers with direct reads
through core's FeatureStore and ModelRegistry.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from energy_core.feature_store import open_feature_store
from energy_core.registry import CHAMPION, open_registry
from energy_core.schemas import AREAS, CONSUMER_TYPES, ENERGY_CONSUMPTION, PREDICTIONS

from .conftest import AppFactory, home_settings
from .fuzzing import fuzz_app

pytestmark = pytest.mark.slow
API = "/api/v1"


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def real(make_app: AppFactory, snapshot_home: Path) -> Iterator[TestClient]:
    with TestClient(make_app(snapshot_home)) as client:
        yield client


def test_ready_names_the_champion_and_the_latest_data_and_forecast(real: TestClient, snapshot_home: Path) -> None:
    response = real.get(f"{API}/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ready"] is True
    champion = open_registry(home_settings(snapshot_home)[1]).get(alias=CHAMPION)
    assert body["champion_version"] == champion.version
    assert ts(body["latest_forecast_at"]) <= ts(body["latest_data_at"])


def test_catalog_lists_every_area_and_consumer_type(real: TestClient, snapshot_home: Path) -> None:
    leaves = open_feature_store(home_settings(snapshot_home)[0]).read(
        ENERGY_CONSUMPTION, columns=["area", "consumer_type"]
    )
    assert [a["code"] for a in real.get(f"{API}/areas").json()] == list(AREAS)
    assert [c["code"] for c in real.get(f"{API}/consumer-types").json()] == sorted(set(leaves["consumer_type"]))


def test_series_is_a_tree_with_the_country_and_area_totals_first(real: TestClient) -> None:
    nodes = real.get(f"{API}/series").json()
    ids = [n["id"] for n in nodes]
    assert ids[:2] == ["DK|total", "DK1|total"] and "DK2|total" in ids
    assert all(n["parent_id"] is None or n["parent_id"] in ids for n in nodes)
    assert all(ids.index(n["parent_id"]) < ids.index(n["id"]) for n in nodes if n["parent_id"])


def test_forecast_matches_the_latest_stored_run_and_history_is_contiguous(
    real: TestClient, snapshot_home: Path
) -> None:
    body = real.get(f"{API}/forecasts/DK1/111").json()
    history = [ts(p["datetime_utc"]) for p in body["history"]]
    assert len(history) == 168
    assert history[-1] == ts(body["latest_data_at"])
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(history))

    stored = open_feature_store(home_settings(snapshot_home)[0]).read(
        PREDICTIONS, filters={"area": "DK1", "consumer_type": "111"}
    )
    latest = stored[stored["forecast_made_at"] == stored["forecast_made_at"].max()].sort_values("datetime_utc")
    assert ts(body["forecast_made_at"]) == latest["forecast_made_at"].iloc[0].to_pydatetime()
    assert body["model_version"] == int(latest["model_version"].iloc[0])
    assert [p["hours_ahead"] for p in body["forecast"]] == latest["hours_ahead"].tolist()
    assert [p["prediction_kwh"] for p in body["forecast"]] == pytest.approx(latest["prediction_kwh"].tolist())
    first_target = ts(body["forecast"][0]["datetime_utc"])
    assert first_target == ts(body["forecast_made_at"]) + timedelta(hours=1)


def test_every_series_in_the_store_has_a_forecast(real: TestClient) -> None:
    for area in AREAS:
        overview = real.get(f"{API}/areas/{area}/overview").json()
        in_catalogue = [n["consumer_type"] for n in real.get(f"{API}/series", params={"area": area}).json()]
        assert [s["consumer_type"] for s in overview["series"]] == in_catalogue  # the total first
        for series in overview["series"]:
            assert series["forecast_next_24h_kwh"] > 0
        for consumer_type in ["total", *CONSUMER_TYPES[:4]]:
            body = real.get(f"{API}/forecasts/{area}/{consumer_type}", params={"history_hours": 24}).json()
            assert len(body["history"]) == 24 and body["forecast"], (area, consumer_type)


def test_monitoring_reports_error_for_the_simulated_hours(real: TestClient) -> None:
    metrics = real.get(f"{API}/monitoring/metrics").json()
    assert metrics["points"], "the simulated hours produced no hourly monitoring"
    assert all(p["count"] >= 0 for p in metrics["points"])
    assert metrics["champion_version"] is not None

    horizons = real.get(f"{API}/monitoring/horizons").json()
    assert horizons and all(1 <= h["hours_ahead"] <= 24 for h in horizons)

    rows = real.get(f"{API}/monitoring/series/DK1/111").json()
    assert rows
    for row in rows:
        assert row["actual_missing"] or row["actual_kwh"] is not None

    ranking = real.get(f"{API}/monitoring/ranking", params={"limit": 10}).json()
    wapes = [r["wape"] for r in ranking if r["wape"] is not None]
    assert wapes == sorted(wapes, reverse=True)


def test_alerts_report_a_status_per_check(real: TestClient) -> None:
    body = real.get(f"{API}/monitoring/alerts").json()
    assert body["status"] in {"ok", "warn", "alert"}
    assert body["checks"] and body["checked_at"] is not None
    assert {c["status"] for c in body["checks"]} <= {"ok", "warn", "alert"}


def test_models_show_the_champion_with_backtest_metrics_and_lineage(real: TestClient) -> None:
    models: list[dict[str, Any]] = real.get(f"{API}/models").json()
    champions = [m for m in models if "champion" in m["aliases"]]
    assert len(champions) == 1
    champion = champions[0]
    assert {"backtest_wape", "naive24_backtest_wape"} <= set(champion["metrics"])
    assert champion["lineage"] is not None and champion["lineage"]["feature_view"]
    assert real.post(f"{API}/models/{champion['version']}/approve").status_code == 401


def test_fuzzing_the_real_store_finds_no_server_error_or_schema_violation(
    make_app: AppFactory, snapshot_home: Path
) -> None:
    assert fuzz_app(make_app(snapshot_home), max_examples=15) == 20  # every endpoint of the contract
