"""/monitoring/*: windows, aggregation, series errors, ranking and alert status."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_core.registry import open_registry

from .conftest import AppFactory
from .test_health import dead_registry_settings

MONITORING = "/api/v1/monitoring"


def test_metrics_default_to_the_last_seven_days_of_monitored_hours(client: TestClient) -> None:
    body = client.get(f"{MONITORING}/metrics").json()
    times = [p["datetime_utc"] for p in body["points"]]
    assert len(times) == 48  # the synthetic store monitors 48 hours, all within the last week
    assert times[-1] == "2023-01-24T22:00:00Z"
    assert (body["champion_version"], body["backtest_wape"]) == (1, 0.10)


def test_metrics_honour_start_and_end_with_end_exclusive(client: TestClient) -> None:
    body = client.get(f"{MONITORING}/metrics", params={"start": "2023-01-24T10:00:00Z", "end": "2023-01-24T13:00Z"})
    assert [p["datetime_utc"] for p in body.json()["points"]] == [
        "2023-01-24T10:00:00Z",
        "2023-01-24T11:00:00Z",
        "2023-01-24T12:00:00Z",
    ]


def test_naive_query_times_are_utc(client: TestClient) -> None:
    naive = client.get(f"{MONITORING}/metrics", params={"start": "2023-01-24T10:00:00", "end": "2023-01-24T12:00:00"})
    aware = client.get(
        f"{MONITORING}/metrics", params={"start": "2023-01-24T11:00:00+01:00", "end": "2023-01-24T12:00Z"}
    )
    assert naive.json() == aware.json()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2023-01-24T10:00Z", "end": "2023-01-24T10:00Z"}, "end"),
        ({"start": "2023-01-25T00:00Z", "end": "2023-01-24T00:00Z"}, "end"),
        ({"start": "1066-10-14T00:00Z"}, "start"),
        ({"end": "not-a-time"}, "end"),
    ],
)
def test_bad_windows_are_422_naming_the_parameter(client: TestClient, params: dict[str, str], field: str) -> None:
    response = client.get(f"{MONITORING}/metrics", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_horizons_weight_wape_by_volume_and_mape_by_count(client: TestClient) -> None:
    body = client.get(f"{MONITORING}/horizons").json()
    assert [h["hours_ahead"] for h in body] == [1, 2, 24]
    first = body[0]
    assert first["wape"] == pytest.approx((0.1 * 1000 + 0.4 * 3000) / 4000)
    assert first["mape"] == pytest.approx((0.2 * 1 + 0.6 * 3) / 4)
    assert first["count"] == 4


def test_series_returns_predictions_against_actuals_per_hour(client: TestClient) -> None:
    rows = client.get(f"{MONITORING}/series/DK1/111", params={"hours_ahead": 3}).json()
    assert len(rows) == 48
    assert {r["hours_ahead"] for r in rows} == {3}
    row = rows[0]
    assert row["prediction_kwh"] == pytest.approx(row["actual_kwh"] * 1.03)
    assert row["pct_error"] == pytest.approx(0.03)
    assert row["actual_missing"] is False and row["in_interval"] is True


def test_series_without_a_horizon_filter_returns_every_horizon_in_time_order(client: TestClient) -> None:
    rows = client.get(f"{MONITORING}/series/DK2/111", params={"start": "2023-01-24T22:00Z"}).json()
    assert [r["hours_ahead"] for r in rows] == list(range(1, 25))


def test_series_of_an_unknown_consumer_type_is_404(client: TestClient) -> None:
    response = client.get(f"{MONITORING}/series/DK1/abc")
    assert response.status_code == 404 and "valid values" in response.json()["detail"]


def test_ranking_sorts_series_worst_wape_first_and_honours_limit(client: TestClient) -> None:
    body = client.get(f"{MONITORING}/ranking", params={"limit": 2}).json()
    assert len(body) == 2
    assert body[0]["wape"] >= body[1]["wape"]
    assert {"area", "consumer_type", "label", "wape", "mape", "mae_kwh", "bias_kwh", "count"} <= set(body[0])


def test_alerts_take_the_latest_row_of_each_check_and_report_the_worst_status(client: TestClient) -> None:
    body = client.get(f"{MONITORING}/alerts").json()
    assert body["status"] == "warn"
    assert body["checked_at"] == "2023-01-24T22:00:00Z"
    assert body["retraining_recommended"] is False
    by_name = {c["check_name"]: c for c in body["checks"]}
    assert sorted(by_name) == ["error_ratio", "overall", "psi_energy_consumption"]
    assert by_name["psi_energy_consumption"]["value"] == 0.15
    assert body["checks"][0]["status"] == "warn"  # worst first


def test_monitoring_before_any_pipeline_ran_is_empty(empty_client: TestClient) -> None:
    assert empty_client.get(f"{MONITORING}/metrics").json() == {
        "backtest_wape": None,
        "champion_version": None,
        "points": [],
    }
    assert empty_client.get(f"{MONITORING}/horizons").json() == []
    assert empty_client.get(f"{MONITORING}/series/DK1/111").json() == []
    assert empty_client.get(f"{MONITORING}/ranking").json() == []
    assert empty_client.get(f"{MONITORING}/alerts").json() == {
        "status": "ok",
        "retraining_recommended": False,
        "checked_at": None,
        "checks": [],
    }


def test_a_registry_outage_leaves_monitoring_readable_without_the_reference_line(
    make_app: AppFactory, filled_home: Path, tmp_path: Path
) -> None:
    settings = dead_registry_settings(tmp_path)
    with TestClient(make_app(filled_home, registry_factory=lambda: open_registry(settings))) as client:
        response = client.get(f"{MONITORING}/metrics")
    assert response.status_code == 200
    body = response.json()
    assert body["points"] and body["champion_version"] is None and body["backtest_wape"] is None


def test_a_parent_total_is_monitored_like_any_series(client: TestClient) -> None:
    rows = client.get(f"{MONITORING}/series/DK1/total", params={"hours_ahead": 1}).json()
    assert len(rows) == 48 and rows[0]["pct_error"] == pytest.approx(0.01)


def test_monitoring_a_series_the_catalogue_does_not_know_is_404_and_a_malformed_key_422(client: TestClient) -> None:
    assert client.get(f"{MONITORING}/series/DK2/112").status_code == 404
    assert client.get(f"{MONITORING}/series/DK2/a%20b").status_code == 422


def test_ranking_labels_come_from_the_catalogue(client: TestClient) -> None:
    body = client.get(f"{MONITORING}/ranking", params={"limit": 200}).json()
    labels = {(r["area"], r["consumer_type"]): r["label"] for r in body}
    assert labels[("DK1", "111")] == "Consumer type 111"
    assert labels[("DK1", "total")].startswith("DK1") and labels[("DK1", "total")].endswith("· all consumers")
