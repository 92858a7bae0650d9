"""The DAGs as Airflow parses them: no import errors in either mode, the promised shapes, the alert."""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

DAGS = Path(__file__).resolve().parents[1] / "dags"
sys.path.insert(0, str(DAGS))
import energy_jobs  # noqa: E402
from training_dag import gate_verdicts  # noqa: E402


def _dagbag() -> Any:
    from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS), include_examples=False)


@pytest.mark.parametrize("manual", ["false", "true"])
def test_dagbag_imports_without_errors_in_process_mode(monkeypatch: pytest.MonkeyPatch, manual: str) -> None:
    monkeypatch.setenv("ENERGY_MANUAL_APPROVAL", manual)
    bag = _dagbag()
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"energy_hourly", "energy_training"}


def test_dagbag_imports_without_errors_in_docker_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("airflow.providers.docker")
    monkeypatch.setenv("ENERGY_AIRFLOW_MODE", "docker")
    monkeypatch.setenv("IMAGE_TAG", "0123abc")
    monkeypatch.setenv("ENERGY_IMAGE_PREFIX", "ghcr.io/acme")
    bag = _dagbag()
    assert bag.import_errors == {}
    train = bag.dags["energy_training"].get_task("train")
    assert train.image == "ghcr.io/acme/energy-training-pipeline:0123abc-cuda"
    assert [r.capabilities for r in train.device_requests] == [[["gpu"]]]
    features = bag.dags["energy_hourly"].get_task("features")
    assert features.image == "ghcr.io/acme/energy-feature-pipeline:0123abc"


def test_docker_mode_without_image_tag_is_an_import_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("airflow.providers.docker")
    monkeypatch.setenv("ENERGY_AIRFLOW_MODE", "docker")
    monkeypatch.delenv("IMAGE_TAG", raising=False)
    errors = _dagbag().import_errors
    assert errors and all("IMAGE_TAG" in text for text in errors.values())


def test_hourly_dag_runs_features_then_predict_then_monitor_one_run_at_a_time() -> None:
    dag = _dagbag().dags["energy_hourly"]
    assert dag.max_active_runs == 1
    assert dag.get_task("features").downstream_task_ids == {"predict"}
    assert dag.get_task("predict").downstream_task_ids == {"monitor"}
    for task in dag.tasks:
        assert task.retries >= 1
        assert energy_jobs.alert_on_failure in _callbacks(task.on_failure_callback)
        assert "--as-of" in task.bash_command


def test_training_dag_waits_for_approval_only_when_manual(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGY_MANUAL_APPROVAL", "false")
    auto = _dagbag().dags["energy_training"]
    assert set(auto.task_ids) == {"train", "scorecard", "gate", "done"}
    monkeypatch.setenv("ENERGY_MANUAL_APPROVAL", "true")
    manual = _dagbag().dags["energy_training"]
    assert manual.get_task("gate").downstream_task_ids == {"wait_for_approval", "done"}
    assert manual.get_task("wait_for_approval").downstream_task_ids == {"pending_version"}
    assert manual.get_task("pending_version").downstream_task_ids == {"promote"}
    assert "approve" in manual.get_task("promote").bash_command


def test_gate_verdicts_read_the_tags_training_pipeline_writes() -> None:
    scorecard = {
        "gate": {
            "lightgbm": "v7: awaiting approval - WAPE 0.0410 beats naive by 30.0 % and champion 0.0500",
            "nhits": "v8: not promoted - WAPE 0.0600 does not beat the champion's 0.0500 on the same backtest",
        }
    }
    assert gate_verdicts(json.dumps(scorecard)) == {"lightgbm": (7, "awaiting approval"), "nhits": (8, "not promoted")}
    with pytest.raises(ValueError, match="lightgbm"):
        gate_verdicts(json.dumps({"gate": {"lightgbm": "promoted"}}))


def test_json_line_is_found_among_log_lines() -> None:
    assert energy_jobs.json_line(["INFO mlflow: something", '{"gate": {}}', "WARNING late"]) == '{"gate": {}}'
    with pytest.raises(ValueError, match="no JSON line"):
        energy_jobs.json_line("only logs\nand more logs")


class _Webhook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Webhook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Webhook.received = []
    monkeypatch.setenv("ENERGY_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    yield _Webhook.received
    server.shutdown()


class _TaskInstance:
    dag_id, task_id, try_number = "energy_hourly", "predict", 3


def test_failure_callback_posts_one_line_naming_dag_task_and_error(webhook: list[dict[str, Any]]) -> None:
    """The context is a stand-in (a plain dict with a task-instance-like object): the callback
    reads only these fields; the webhook is a real HTTP server on localhost."""
    context = {
        "task_instance": _TaskInstance(),
        "logical_date": "2023-01-20T10:00:00+00:00",
        "exception": RuntimeError("no champion"),
    }
    energy_jobs.alert_on_failure(context)
    assert len(webhook) == 1
    text = webhook[0]["text"]
    assert "energy_hourly.predict failed (try 3)" in text and "no champion" in text


def test_failure_callback_survives_a_dead_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGY_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/nothing-listens")
    energy_jobs.alert_on_failure({"task_instance": _TaskInstance(), "exception": RuntimeError("x")})


def _callbacks(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def test_dag_files_never_import_a_service() -> None:
    services = ("energy_core", "energy_features", "energy_training", "energy_batch", "energy_api")
    for path in Path(DAGS).glob("*.py"):
        text = path.read_text()
        for package in services:
            assert f"import {package}" not in text and f"from {package}" not in text, (path.name, package)
