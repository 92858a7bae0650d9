"""/models and the manual-approval gate (approve / reject behind X-API-Key)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from energy_core.registry import open_registry

from .conftest import API_KEY, AppFactory, home_settings
from .test_health import dead_registry_settings

MODELS = "/api/v1/models"
KEY = {"X-API-Key": API_KEY}


def test_models_are_listed_newest_first_with_aliases_metrics_and_lineage(client: TestClient) -> None:
    body = client.get(MODELS).json()
    assert [m["version"] for m in body] == [3, 2, 1]
    by_version = {m["version"]: m for m in body}
    assert by_version[1]["aliases"] == ["champion"]
    assert by_version[2]["aliases"] == ["challenger"]
    assert by_version[2]["approval"] == "pending"
    assert by_version[1]["metrics"]["backtest_wape"] == 0.10
    assert by_version[1]["lineage"]["feature_view"] == "energy_forecasting"
    assert by_version[1]["model_family"] == "constant"
    assert by_version[1]["created_at"].endswith("Z")


def test_approve_without_a_key_is_401_and_changes_nothing(client: TestClient) -> None:
    response = client.post(f"{MODELS}/2/approve")
    assert response.status_code == 401
    assert client.get(MODELS).json()[1]["approval"] == "pending"


def test_approve_with_a_wrong_key_is_401(client: TestClient) -> None:
    assert client.post(f"{MODELS}/2/approve", headers={"X-API-Key": "guess"}).status_code == 401


def test_approval_is_closed_when_no_key_is_configured(make_app: AppFactory, filled_home: Path) -> None:
    with TestClient(make_app(filled_home, api_key=None)) as client:
        response = client.post(f"{MODELS}/2/approve", headers={"X-API-Key": ""})
    assert response.status_code == 401
    assert "ENERGY_API_KEY is not set" in response.json()["detail"]


def test_approving_a_version_that_passes_the_gate_makes_it_champion(make_app: AppFactory, writable_home: Path) -> None:
    with TestClient(make_app(writable_home)) as client:
        response = client.post(f"{MODELS}/2/approve", headers=KEY)
        listed = {m["version"]: m for m in client.get(MODELS).json()}
    assert response.status_code == 200
    body = response.json()
    assert (body["version"], body["approval"], body["promoted"]) == (2, "approved", True)
    assert body["aliases"] == ["champion"]  # the challenger alias went with the promotion
    assert listed[2]["promoted_at"] is not None and listed[1]["aliases"] == []
    registry = open_registry(home_settings(writable_home)[1])
    assert registry.get(alias="champion").version == 2


def test_approving_a_version_that_fails_the_gate_records_approval_but_keeps_the_champion(
    make_app: AppFactory, writable_home: Path
) -> None:
    with TestClient(make_app(writable_home)) as client:
        body = client.post(f"{MODELS}/3/approve", headers=KEY).json()
    assert (body["approval"], body["promoted"]) == ("approved", False)
    assert "does not beat seasonal naive 24" in body["reason"]
    assert open_registry(home_settings(writable_home)[1]).get(alias="champion").version == 1


def test_rejecting_the_challenger_drops_its_alias(make_app: AppFactory, writable_home: Path) -> None:
    with TestClient(make_app(writable_home)) as client:
        body = client.post(f"{MODELS}/2/reject", headers=KEY).json()
        listed = {m["version"]: m for m in client.get(MODELS).json()}
    assert (body["approval"], body["aliases"], body["promoted"]) == ("rejected", [], False)
    assert listed[2]["approval"] == "rejected"
    assert listed[1]["aliases"] == ["champion"]


def test_rejecting_the_only_champion_is_409_and_leaves_it_serving(client: TestClient) -> None:
    response = client.post(f"{MODELS}/1/reject", headers=KEY)
    assert response.status_code == 409
    assert "approve another version" in response.json()["detail"]
    assert client.get(MODELS).json()[2]["aliases"] == ["champion"]


def test_rejecting_an_approved_champion_rolls_back_to_the_one_it_replaced(
    make_app: AppFactory, writable_home: Path
) -> None:
    with TestClient(make_app(writable_home)) as client:
        assert client.post(f"{MODELS}/2/approve", headers=KEY).json()["promoted"]
        body = client.post(f"{MODELS}/2/reject", headers=KEY).json()
        listed = {m["version"]: m for m in client.get(MODELS).json()}
    assert (body["approval"], body["aliases"]) == ("rejected", [])
    assert "rolled back to v1" in body["reason"]
    assert listed[1]["aliases"] == ["champion"]


def test_history_names_who_when_from_to_and_why_and_never_the_key(make_app: AppFactory, writable_home: Path) -> None:
    with TestClient(make_app(writable_home)) as client:
        client.post(f"{MODELS}/2/approve", headers=KEY)
        one = client.get(f"{MODELS}/2/history").json()
        everything = client.get(f"{MODELS}/history").json()
        unknown = client.get(f"{MODELS}/99/history")
    (record,) = one
    assert (record["version"], record["from_state"], record["to_state"]) == (2, "challenger", "champion")
    assert record["who"].startswith("api-key:") and API_KEY not in json.dumps(everything)
    assert record["at"] and "better than naive 24" in record["why"]
    assert {(r["version"], r["to_state"]) for r in everything} == {(2, "champion"), (1, "archived")}
    assert unknown.status_code == 404


def test_unknown_version_is_404(client: TestClient) -> None:
    response = client.post(f"{MODELS}/99/approve", headers=KEY)
    assert response.status_code == 404
    assert "99" in response.json()["detail"]


def test_version_must_be_a_positive_integer(client: TestClient) -> None:
    assert client.post(f"{MODELS}/0/approve", headers=KEY).status_code == 422
    assert client.post(f"{MODELS}/two/approve", headers=KEY).status_code == 422


def test_unreachable_registry_is_503_with_the_reason(make_app: AppFactory, tmp_path: Path) -> None:
    settings = dead_registry_settings(tmp_path)
    app = make_app(tmp_path, registry_factory=lambda: open_registry(settings))
    with TestClient(app) as client:
        response = client.get(MODELS)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("model registry unavailable")
