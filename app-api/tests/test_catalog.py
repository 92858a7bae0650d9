"""/series (the learned catalogue), its old views /areas and /consumer-types, and /areas/{area}/overview."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_core.feature_store import open_feature_store
from energy_core.schemas import AREA_LABELS, ENERGY_CONSUMPTION

from .conftest import AppFactory, consumption_frame, home_settings

API = "/api/v1"
TREE = ["DK|total", "DK1|total", "DK1|111", "DK1|112", "DK2|total", "DK2|111", "DK2|113"]


def test_series_lists_the_catalogue_in_tree_order_with_totals_before_their_leaves(client: TestClient) -> None:
    body = client.get(f"{API}/series").json()
    assert [n["id"] for n in body] == TREE
    nodes = {n["id"]: n for n in body}
    assert nodes["DK|total"] | {"first_seen_utc": None, "last_seen_utc": None} == {
        "id": "DK|total",
        "area": "DK",
        "area_label": "Denmark",
        "consumer_type": "total",
        "level": "country",
        "parent_id": None,
        "label": "Denmark · all consumers",
        "unit": "kWh",
        "source_dataset": "ConsumptionDE35Hour",
        "first_seen_utc": None,
        "last_seen_utc": None,
        "status": "active",
    }
    assert (nodes["DK1|total"]["level"], nodes["DK1|total"]["parent_id"]) == ("area", "DK|total")
    assert nodes["DK1|total"]["label"].endswith("· all consumers")
    assert (nodes["DK2|113"]["level"], nodes["DK2|113"]["parent_id"]) == ("leaf", "DK2|total")
    assert nodes["DK2|113"]["label"] == "Consumer type 113"
    assert nodes["DK1|111"]["area_label"] == AREA_LABELS["DK1"]
    # A parent spans its leaves: the brand-new leaf was first seen a day before the last hour.
    assert nodes["DK2|113"]["first_seen_utc"] == "2023-01-23T23:00:00Z"
    assert nodes["DK2|total"]["first_seen_utc"] == nodes["DK2|111"]["first_seen_utc"]


@pytest.mark.parametrize(
    ("params", "ids"),
    [
        ({"level": "country"}, ["DK|total"]),
        ({"level": "area"}, ["DK1|total", "DK2|total"]),
        ({"parent": "DK2|total"}, ["DK2|111", "DK2|113"]),
        ({"parent": "DK|total"}, ["DK1|total", "DK2|total"]),
        ({"area": "DK1", "level": "leaf"}, ["DK1|111", "DK1|112"]),
        ({"area": "NO1"}, []),
    ],
)
def test_series_filters_by_level_parent_and_area(client: TestClient, params: dict[str, str], ids: list[str]) -> None:
    assert [n["id"] for n in client.get(f"{API}/series", params=params).json()] == ids


@pytest.mark.parametrize(
    ("params", "field"),
    [({"level": "region"}, "level"), ({"parent": "DK1"}, "parent"), ({"area": "DK 1"}, "area")],
)
def test_series_with_a_malformed_filter_is_422_naming_it(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get(f"{API}/series", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_one_series_node_is_served_for_a_total_and_404_for_an_unknown_one(client: TestClient) -> None:
    node = client.get(f"{API}/series/DK2/total").json()
    assert (node["id"], node["level"], node["parent_id"]) == ("DK2|total", "area", "DK|total")
    missing = client.get(f"{API}/series/DK2/112")
    assert missing.status_code == 404
    assert (
        missing.json()["detail"]
        == "unknown series DK2/112; consumer types of DK2, valid values: ['total', '111', '113']"
    )


@pytest.mark.parametrize("path", ["DK1|x/111", "DK1/a b", "1DK/111", "DK1/" + "9" * 65, "DK1/.hidden"])
def test_a_malformed_series_key_is_422_and_echoes_at_most_64_characters(client: TestClient, path: str) -> None:
    response = client.get(f"{API}/series/{path}")
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"][0] == "path" and "must match" in error["msg"]
    assert len(error["input"]) <= 65


def test_a_huge_key_is_not_echoed_back(client: TestClient) -> None:
    response = client.get(f"{API}/forecasts/DK1/{'x' * 5000}")
    assert response.status_code == 422
    assert len(response.text) < 400


def test_areas_are_the_catalogue_areas_with_labels(client: TestClient) -> None:
    body = client.get(f"{API}/areas").json()
    assert body == [{"code": "DK1", "label": AREA_LABELS["DK1"]}, {"code": "DK2", "label": AREA_LABELS["DK2"]}]


def test_consumer_types_are_the_leaves_with_their_catalogue_labels(client: TestClient) -> None:
    body = client.get(f"{API}/consumer-types").json()
    assert body == [
        {"code": "111", "label": "Consumer type 111"},
        {"code": "112", "label": "Consumer type 112"},
        {"code": "113", "label": "Consumer type 113"},
    ]


def test_a_store_written_before_the_catalogue_existed_lists_its_leaves_without_totals(
    make_app: AppFactory, tmp_path: Path
) -> None:
    home = tmp_path / "old_home"
    open_feature_store(home_settings(home)[0]).insert(ENERGY_CONSUMPTION, consumption_frame())
    with TestClient(make_app(home)) as old:
        body = old.get(f"{API}/series").json()
        assert [n["id"] for n in body] == ["DK1|111", "DK1|112", "DK2|111", "DK2|113"]
        assert {(n["level"], n["parent_id"], n["source_dataset"]) for n in body} == {("leaf", None, None)}
        assert body[0]["label"] == "Consumer type 111" and body[0]["last_seen_utc"] == "2023-01-24T22:00:00Z"
        assert [a["code"] for a in old.get(f"{API}/areas").json()] == ["DK1", "DK2"]
        assert old.get(f"{API}/forecasts/DK1/total").status_code == 404
        assert len(old.get(f"{API}/forecasts/DK1/111").json()["history"]) == 168


def test_before_anything_was_ingested_the_catalogue_is_empty(empty_client: TestClient) -> None:
    assert empty_client.get(f"{API}/series").json() == []
    assert empty_client.get(f"{API}/areas").json() == []
    assert empty_client.get(f"{API}/consumer-types").json() == []
    assert empty_client.get(f"{API}/series/DK1/111").status_code == 404


def test_overview_compares_the_latest_forecast_with_the_same_hours_a_week_earlier(client: TestClient) -> None:
    body = client.get(f"{API}/areas/DK1/overview").json()
    assert body["forecast_made_at"] == "2023-01-24T22:00:00Z"
    assert body["model_version"] == 2
    assert [s["consumer_type"] for s in body["series"]] == ["total", "111", "112"]
    by_type = {s["consumer_type"]: s for s in body["series"]}
    # The synthetic series repeats every day and the latest forecast is 1.05 x the truth.
    series = by_type["111"]
    assert series["forecast_next_24h_kwh"] == series["same_hours_last_week_kwh"] * 1.05
    assert round(series["expected_change_pct"], 9) == 5.0
    assert series["model_family"] == "lightgbm"
    total = by_type["total"]
    assert total["model_family"] == "bottom_up" and total["label"].endswith("· all consumers")
    assert total["forecast_next_24h_kwh"] == pytest.approx(
        by_type["111"]["forecast_next_24h_kwh"] + by_type["112"]["forecast_next_24h_kwh"]
    )
    assert round(total["expected_change_pct"], 9) == 5.0


def test_overview_of_the_country_shows_its_total(client: TestClient) -> None:
    body = client.get(f"{API}/areas/DK/overview").json()
    assert [(s["consumer_type"], s["label"]) for s in body["series"]] == [("total", "Denmark · all consumers")]


def test_overview_of_an_unknown_area_is_404_listing_the_valid_areas(client: TestClient) -> None:
    response = client.get(f"{API}/areas/DK3/overview")
    assert response.status_code == 404
    assert response.json()["detail"] == "unknown area 'DK3'; valid values: ['DK', 'DK1', 'DK2']"


def test_overview_before_any_forecast_is_empty_not_an_error(empty_client: TestClient) -> None:
    response = empty_client.get(f"{API}/areas/DK2/overview")
    assert response.status_code == 200
    assert response.json() == {"area": "DK2", "forecast_made_at": None, "model_version": None, "series": []}
