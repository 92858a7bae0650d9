"""/forecasts/{area}/{consumer_type}: history plus the latest forecast, and its error answers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_core.feature_store import FeatureStore, FeatureStoreUnavailable, open_feature_store
from energy_core.schemas import PREDICTIONS

from .conftest import LAST_HOUR, MODEL_NAME, AppFactory, home_settings, predictions_frame

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
    assert "valid values: ['DK', 'DK1', 'DK2']" in response.json()["detail"]


def test_series_the_catalogue_does_not_know_is_404_naming_the_series_of_its_area(client: TestClient) -> None:
    response = client.get(f"{FORECAST}/DK2/112")
    assert response.status_code == 404
    assert response.json()["detail"] == (
        "unknown series DK2/112; consumer types of DK2, valid values: ['total', '111', '113']"
    )


@pytest.mark.parametrize("key", ["DK1/a b", "DK1|2/111", "DK1/" + "1" * 65])
def test_malformed_series_key_is_422(client: TestClient, key: str) -> None:
    response = client.get(f"{FORECAST}/{key}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "path"


def test_an_area_total_is_its_leaves_summed_bottom_up(client: TestClient) -> None:
    total = client.get(f"{FORECAST}/DK1/total", params={"history_hours": 48}).json()
    leaves = [client.get(f"{FORECAST}/DK1/{ct}", params={"history_hours": 48}).json() for ct in ("111", "112")]
    assert total["consumer_type_label"].endswith("· all consumers")
    assert total["latest_data_at"] == _iso(LAST_HOUR) and len(total["history"]) == 48
    for i, point in enumerate(total["history"]):
        expected = sum(leaf["history"][i]["energy_consumption_kwh"] for leaf in leaves)
        assert point["energy_consumption_kwh"] == pytest.approx(expected)
    assert (total["model_family"], total["cold_start"], total["model_version"]) == ("bottom_up", False, 2)
    for i, point in enumerate(total["forecast"]):
        assert point["model_family"] == "bottom_up"
        assert point["prediction_kwh"] == pytest.approx(sum(leaf["forecast"][i]["prediction_kwh"] for leaf in leaves))


def test_a_total_sums_the_leaves_known_at_each_hour(client: TestClient) -> None:
    """DK2/113 arrived a day ago: before it, DK2's total is DK2/111 alone; since, the sum of both."""
    total = client.get(f"{FORECAST}/DK2/total", params={"history_hours": 48}).json()["history"]
    old = client.get(f"{FORECAST}/DK2/111", params={"history_hours": 48}).json()["history"]
    new = client.get(f"{FORECAST}/DK2/113", params={"history_hours": 48}).json()["history"]
    assert len(total) == len(old) == 48 and len(new) == 24
    assert [p["energy_consumption_kwh"] for p in total[:24]] == pytest.approx(
        [p["energy_consumption_kwh"] for p in old[:24]]
    )
    assert [p["energy_consumption_kwh"] for p in total[24:]] == pytest.approx(
        [a["energy_consumption_kwh"] + b["energy_consumption_kwh"] for a, b in zip(old[24:], new, strict=True)]
    )


def test_the_country_total_is_served_like_any_series(client: TestClient) -> None:
    body = client.get(f"{FORECAST}/DK/total").json()
    assert body["consumer_type_label"] == "Denmark · all consumers"
    assert body["model_family"] == "bottom_up" and len(body["forecast"]) == 24


def test_a_brand_new_series_gets_a_naive_fallback_forecast_flagged_as_cold_start(client: TestClient) -> None:
    body = client.get(f"{FORECAST}/DK2/113").json()
    assert len(body["history"]) == 24
    assert (body["model_family"], body["cold_start"]) == ("seasonal_naive_24", True)
    assert {p["model_family"] for p in body["forecast"]} == {"seasonal_naive_24"}
    assert [p["hours_ahead"] for p in body["forecast"]] == list(range(1, 25))


def test_a_model_forecast_is_not_flagged(client: TestClient) -> None:
    body = client.get(f"{FORECAST}/DK1/111").json()
    assert (body["model_family"], body["cold_start"]) == ("lightgbm", False)


def test_rows_written_before_model_family_existed_answer_null_not_a_guess(
    make_app: AppFactory, writable_home: Path
) -> None:
    store = open_feature_store(home_settings(writable_home)[0])
    store.insert(PREDICTIONS, predictions_frame(LAST_HOUR, model_version=2, scale=1.05, series=[("DK1", "111")]))
    with TestClient(make_app(writable_home)) as client:
        body = client.get(f"{FORECAST}/DK1/111").json()
    assert (body["model_family"], body["cold_start"], body["model_version"]) == (None, False, 2)
    assert {p["model_family"] for p in body["forecast"]} == {None}


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
