"""Requests that used to grow memory, leak details or crash: metric labels, huge version numbers,
backend paths in 503s, and a bad setting at start-up."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from energy_api.cli import main
from energy_core.registry import ModelRegistry, RegistryUnavailable

from .conftest import API_KEY, AppFactory

ROUTE_LABEL = re.compile(r'route="([^"]*)"')


def series_per_route(metrics_text: str) -> Counter[str]:
    return Counter(
        match.group(1)
        for line in metrics_text.splitlines()
        if not line.startswith("#") and (match := ROUTE_LABEL.search(line))
    )


def test_made_up_methods_and_paths_leave_fewer_than_50_series_per_route(client: TestClient) -> None:
    for i in range(300):
        client.request(f"MADEUP{i}", "/api/v1/health")
        client.request(f"MADEUP{i}", f"/api/v1/no-such-thing/{i}")
        client.get(f"/no-such-thing/{i}")
    text = client.get("/api/v1/metrics").text
    per_route = series_per_route(text)
    assert per_route["unmatched"] > 0 and per_route["/api/v1/health"] > 0
    assert max(per_route.values()) < 50, per_route.most_common(3)
    assert 'method="other"' in text and "MADEUP" not in text and "no-such-thing" not in text


def test_a_version_beyond_64_bits_is_a_422_that_names_no_file(client: TestClient) -> None:
    response = client.post(f"/api/v1/models/{2**63}/approve", headers={"X-API-Key": API_KEY})
    assert response.status_code == 422
    assert "sqlite" not in response.text and "mlflow" not in response.text
    assert response.json()["detail"][0]["loc"] == ["path", "version"]


def test_the_largest_64_bit_version_is_an_ordinary_404(client: TestClient) -> None:
    response = client.post(f"/api/v1/models/{2**63 - 1}/reject", headers={"X-API-Key": API_KEY})
    assert response.status_code == 404
    assert "registered versions: [1, 2, 3]" in response.json()["detail"]


def test_a_registry_503_does_not_show_the_database_path(make_app: AppFactory) -> None:
    """MOCKED: a registry factory that fails the way the SQLite backend does, naming its file."""

    def unavailable() -> ModelRegistry:
        raise RegistryUnavailable(
            "model registry at sqlite:////srv/energy/secret-home/mlflow/mlflow.db is unavailable (listing versions)"
        )

    def no_store() -> None:
        raise AssertionError("the models endpoint must not open the store")

    with TestClient(make_app(store_factory=no_store, registry_factory=unavailable)) as client:
        response = client.get("/api/v1/models")
    assert response.status_code == 503
    assert "secret-home" not in response.text
    assert "sqlite:///<path>" in response.json()["detail"]


def test_app_api_with_a_bad_setting_exits_2_naming_it_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENERGY_API_PORT", "not-a-port")
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "ENERGY_API_PORT" in err and "Traceback" not in err
    assert err.count("\n") == 1
