"""/simulation: the batch simulation's progress report, read-only, typed by the contract.

The report file is written here by the test in the form batch prediction writes it
(`simulation_state.write_state`): app-api may not import batch prediction, so the test spells the
JSON out, which also pins the file format the two services share.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_api.routers.simulation import simulation_state_path

from .conftest import AppFactory

RUNNING = {
    "start": "2023-01-17T23:00Z",
    "end": "2023-01-24T23:00Z",
    "retrain_every_hours": 24,
    "profile": "retrain",
    "completed_through": "2023-01-18T04:00Z",
    "finished": False,
    "summary": {},
    "hours_total": 168,
    "hours_done": 6,
    "seconds_per_hour": 0.75,
    "eta": "2024-05-01T12:02:01Z",
    "updated_at": "2024-05-01T12:00:00Z",
}


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "simulation.json"


@pytest.fixture
def client(make_app: AppFactory, tmp_path: Path, state_file: Path) -> Iterator[TestClient]:
    app = make_app(tmp_path / "home")
    app.dependency_overrides[simulation_state_path] = lambda: state_file
    with TestClient(app) as test_client:
        yield test_client


def _write(path: Path, state: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state))


def test_no_simulation_yet_is_not_started_not_an_error(client: TestClient) -> None:
    response = client.get("/api/v1/simulation")
    assert response.status_code == 200
    assert response.json()["status"] == "not_started" and response.json()["hours_done"] == 0


def test_a_running_simulation_reports_hour_k_of_n_pace_and_eta(client: TestClient, state_file: Path) -> None:
    _write(state_file, RUNNING)
    body = client.get("/api/v1/simulation").json()
    assert body["status"] == "running"
    assert (body["hours_done"], body["hours_total"], body["seconds_per_hour"]) == (6, 168, 0.75)
    assert body["completed_through"] == "2023-01-18T04:00:00Z" and body["eta"] == "2024-05-01T12:02:01Z"
    assert body["retrain_profile"] == "retrain"


def test_a_finished_simulation_says_so(client: TestClient, state_file: Path) -> None:
    _write(state_file, {**RUNNING, "finished": True, "hours_done": 168, "completed_through": "2023-01-24T22:00Z"})
    body = client.get("/api/v1/simulation").json()
    assert (body["status"], body["hours_done"]) == ("finished", 168)


def test_a_report_from_before_progress_fields_counts_hours_from_the_window(
    client: TestClient, state_file: Path
) -> None:
    old = {k: RUNNING[k] for k in ("start", "end", "retrain_every_hours", "profile", "completed_through", "finished")}
    _write(state_file, old)
    body = client.get("/api/v1/simulation").json()
    assert (body["hours_done"], body["hours_total"], body["eta"]) == (6, 168, None)


def test_a_torn_report_is_a_503_naming_the_file(client: TestClient, state_file: Path) -> None:
    state_file.parent.mkdir(parents=True)
    state_file.write_text("{not json")
    response = client.get("/api/v1/simulation")
    assert response.status_code == 503
    assert "simulation progress" in response.json()["detail"]
