"""/areas, /consumer-types and /areas/{area}/overview."""

from __future__ import annotations

from fastapi.testclient import TestClient

from energy_core.schemas import AREAS, CONSUMER_TYPES


def test_areas_list_every_core_area_with_a_label(client: TestClient) -> None:
    body = client.get("/api/v1/areas").json()
    assert [a["code"] for a in body] == list(AREAS)
    assert all(a["label"] and a["label"] != a["code"] for a in body)


def test_consumer_types_list_every_core_code_with_a_label(client: TestClient) -> None:
    body = client.get("/api/v1/consumer-types").json()
    assert [c["code"] for c in body] == list(CONSUMER_TYPES)
    assert all(c["label"] for c in body)


def test_overview_compares_the_latest_forecast_with_the_same_hours_a_week_earlier(client: TestClient) -> None:
    body = client.get("/api/v1/areas/DK1/overview").json()
    assert body["forecast_made_at"] == "2023-01-24T22:00:00Z"
    assert body["model_version"] == 2
    by_type = {s["consumer_type"]: s for s in body["series"]}
    assert sorted(by_type) == ["111", "112"]
    # The synthetic series repeats every day and the latest forecast is 1.05 x the truth.
    series = by_type["111"]
    assert series["forecast_next_24h_kwh"] == series["same_hours_last_week_kwh"] * 1.05
    assert round(series["expected_change_pct"], 9) == 5.0


def test_overview_of_an_unknown_area_is_404_listing_the_valid_areas(client: TestClient) -> None:
    response = client.get("/api/v1/areas/DK3/overview")
    assert response.status_code == 404
    assert "'DK3'" in response.json()["detail"] and "['DK1', 'DK2']" in response.json()["detail"]


def test_overview_before_any_forecast_is_empty_not_an_error(empty_client: TestClient) -> None:
    response = empty_client.get("/api/v1/areas/DK2/overview")
    assert response.status_code == 200
    assert response.json() == {"area": "DK2", "forecast_made_at": None, "model_version": None, "series": []}
