"""/health, /ready and /metrics: liveness never touches a backend; readiness names what is missing."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from energy_core.feature_store import FeatureStore, FeatureStoreUnavailable, open_feature_store
from energy_core.registry import open_registry
from energy_core.settings import RegistrySettings

from .conftest import LAST_HOUR, AppFactory, home_settings


def _unavailable_store() -> FeatureStore:
    raise FeatureStoreUnavailable("feature store directory /nowhere is not readable")


def dead_registry_settings(tmp_path: Path) -> RegistrySettings:
    """An MLflow server URI on a closed local port: a registry that cannot be reached."""
    return RegistrySettings(ENERGY_HOME=tmp_path, MLFLOW_TRACKING_URI="http://127.0.0.1:9")  # type: ignore[call-arg]


def test_health_answers_ok_even_when_every_backend_is_down(make_app: AppFactory) -> None:
    app = make_app(store_factory=_unavailable_store, registry_factory=_unavailable_store)
    with TestClient(app) as client:
        response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_champion_and_latest_data_and_forecast_times(client: TestClient) -> None:
    response = client.get("/api/v1/ready")
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "feature_store": "ok",
        "registry": "ok",
        "champion_version": 1,
        "latest_data_at": "2023-01-24T22:00:00Z",
        "latest_forecast_at": LAST_HOUR.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def test_ready_is_503_with_the_store_reason_when_the_store_is_unavailable(
    make_app: AppFactory, filled_home: Path
) -> None:
    _, registry_settings = home_settings(filled_home)
    app = make_app(store_factory=_unavailable_store, registry_factory=lambda: open_registry(registry_settings))
    with TestClient(app) as client:
        response = client.get("/api/v1/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert "is not readable" in body["feature_store"]
    assert body["registry"] == "ok"


def test_ready_is_503_naming_the_registry_when_it_cannot_be_reached(
    make_app: AppFactory, filled_home: Path, tmp_path: Path
) -> None:
    store_settings, _ = home_settings(filled_home)
    registry_settings = dead_registry_settings(tmp_path)
    app = make_app(
        store_factory=lambda: open_feature_store(store_settings),
        registry_factory=lambda: open_registry(registry_settings),
    )
    with TestClient(app) as client:
        response = client.get("/api/v1/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["feature_store"] == "ok"
    assert body["registry"].startswith("unavailable") and "127.0.0.1:9" in body["registry"]
    assert body["champion_version"] is None


def test_ready_is_503_without_a_champion_on_a_fresh_home(empty_client: TestClient) -> None:
    response = empty_client.get("/api/v1/ready")
    assert response.status_code == 503
    assert response.json()["champion_version"] is None
    assert response.json()["latest_data_at"] is None


def test_metrics_exposes_request_counts_per_route_template_and_cache_hits(client: TestClient) -> None:
    client.get("/api/v1/forecasts/DK1/111")
    client.get("/api/v1/forecasts/DK1/111")
    text = client.get("/api/v1/metrics").text
    assert 'route="/api/v1/forecasts/{area}/{consumer_type}"' in text
    route = 'route="/api/v1/forecasts/{area}/{consumer_type}"'
    assert f'energy_api_requests_total{{method="GET",{route},status="200"}} 2.0' in text
    assert "energy_api_request_duration_seconds_bucket" in text
    assert "energy_api_cache_hits_total" in text


def test_two_apps_in_one_process_keep_separate_metrics(make_app: AppFactory, filled_home: Path) -> None:
    with TestClient(make_app(filled_home)) as first, TestClient(make_app(filled_home)) as second:
        first.get("/api/v1/health")
        assert 'route="/api/v1/health"' in first.get("/api/v1/metrics").text
        assert 'route="/api/v1/health"' not in second.get("/api/v1/metrics").text
