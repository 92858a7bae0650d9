"""/forecasts/{area}/{consumer_type}: history plus the latest forecast, and its error answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from energy_core.feature_store import FeatureStore, FeatureStoreUnavailable
from energy_core.schemas import CONSUMER_TYPES

from .conftest import LAST_HOUR, MODEL_NAME, AppFactory

FORECAST = "/api/v1/forecasts"


def _iso(t: object) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[attr-defined]


def test_history_ends_at_the_latest_observed_hour_and_has_the_requested_length(client: TestClient) -> None:
    body = client.get(f"{FORECAST}/DK1/111", params={"history_hours": 48}).json()
    times = [p["datetime_utc"] for p in body["history"]]
    assert len(times) == 48
    assert times[-1] == _iso(LAST_HOUR) == body["latest_data_at"]
    assert times[0] == _iso(LAST_HOUR - timedelta(hours=47))
    assert times == sorted(times)


def test_forecast_is_the_latest_run_with_its_band_time_and_model(client: TestClient) -> None:
    body = client.get(f"{FORECAST}/DK2/111").json()
    assert body["forecast_made_at"] == _iso(LAST_HOUR)
    assert (body["model_name"], body["model_version"]) == (MODEL_NAME, 2)
    assert [p["hours_ahead"] for p in body["forecast"]] == list(range(1, 25))
    assert body["forecast"][0]["datetime_utc"] == _iso(LAST_HOUR + timedelta(hours=1))
    for point in body["forecast"]:
        assert point["prediction_q10_kwh"] < point["prediction_kwh"] < point["prediction_q90_kwh"]
    assert body["consumer_type_label"]


def test_default_history_is_one_week(client: TestClient) -> None:
    assert len(client.get(f"{FORECAST}/DK1/112").json()["history"]) == 168


@pytest.mark.parametrize("hours", [0, -1, 2161, "a"])
def test_history_hours_outside_1_to_2160_is_422(client: TestClient, hours: object) -> None:
    assert client.get(f"{FORECAST}/DK1/111", params={"history_hours": hours}).status_code == 422


def test_unknown_area_is_404_naming_the_valid_areas(client: TestClient) -> None:
    response = client.get(f"{FORECAST}/DK9/111")
    assert response.status_code == 404
    assert "valid values: ['DK1', 'DK2']" in response.json()["detail"]


def test_unknown_consumer_type_is_404_naming_the_valid_codes(client: TestClient) -> None:
    response = client.get(f"{FORECAST}/DK1/000")
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "'000'" in detail and all(code in detail for code in CONSUMER_TYPES)


def test_valid_series_without_data_is_404_naming_the_series_that_have_data(client: TestClient) -> None:
    response = client.get(f"{FORECAST}/DK2/112")
    assert response.status_code == 404
    assert "no consumption data for DK2/112" in response.json()["detail"]
    assert "['111']" in response.json()["detail"]


def test_before_any_pipeline_ran_the_answer_is_empty_not_an_error(empty_client: TestClient) -> None:
    response = empty_client.get(f"{FORECAST}/DK1/111")
    assert response.status_code == 200
    body = response.json()
    assert body["history"] == [] and body["forecast"] == []
    assert body["forecast_made_at"] is None and body["model_version"] is None


def test_unavailable_store_is_503_with_the_reason_and_no_stack_trace(make_app: AppFactory) -> None:
    def broken() -> FeatureStore:
        raise FeatureStoreUnavailable("feature store directory /mnt/gone is not readable")

    with TestClient(make_app(store_factory=broken, registry_factory=broken)) as client:
        response = client.get(f"{FORECAST}/DK1/111")
    assert response.status_code == 503
    assert response.json() == {"detail": "feature store unavailable: feature store directory /mnt/gone is not readable"}


def test_store_failing_while_opening_for_another_reason_is_still_503(make_app: AppFactory) -> None:
    def broken() -> FeatureStore:
        raise RuntimeError("driver missing")

    with TestClient(make_app(store_factory=broken, registry_factory=broken)) as client:
        response = client.get(f"{FORECAST}/DK1/111")
    assert response.status_code == 503
    assert "driver missing" in response.json()["detail"]


def test_cors_allows_the_configured_dashboard_origin_only(client: TestClient) -> None:
    allowed = client.get(f"{FORECAST}/DK1/111", headers={"Origin": "http://127.0.0.1:8501"})
    assert allowed.headers["access-control-allow-origin"] == "http://127.0.0.1:8501"
    other = client.get(f"{FORECAST}/DK1/111", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
