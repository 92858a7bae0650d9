"""ServiceWorker: the simulation's pipe to another service's long-lived worker.

The child here is a stand-in (a mock of `feature-pipeline worker`: a few lines of Python speaking
the same JSON-lines protocol), so these tests pin the driver's behaviour (replies, refusals, a
dying child, shutdown) without the feature pipeline; `test_real_pipelines` drives the real one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from energy_batch.exceptions import StepFailed
from energy_batch.service_workers import FeatureWorker, ServiceWorker, TrainingWorker

# Answers `ready`, then each request with ok (echoing as_of), refuses 1999 hours, dies on "crash".
STAND_IN = r"""
import json, sys
print(json.dumps({"ok": True, "ready": True, "pid": 0}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    if request.get("command") == "stop":
        break
    as_of = request.get("as_of", "")
    if as_of == "crash":
        print("worker: out of memory", file=sys.stderr, flush=True)
        sys.exit(7)
    if as_of.startswith("1999"):
        print(json.dumps({"ok": False, "as_of": as_of, "error": "EmptySourceWindow: nothing"}), flush=True)
        continue
    print(json.dumps({"ok": True, "as_of": as_of, "consumption_rows": 76, "seconds": 0.01}), flush=True)
"""


def _worker(tmp_path: Path, code: str = STAND_IN) -> ServiceWorker:
    return ServiceWorker("stand-in", tmp_path / "logs" / "worker.log", command=[sys.executable, "-c", code])


def test_requests_get_their_replies_and_stop_ends_the_child(tmp_path: Path) -> None:
    worker = _worker(tmp_path)
    with worker:
        assert worker.startup_s is not None
        assert worker.request({"as_of": "2023-01-18T00:00Z"})["as_of"] == "2023-01-18T00:00Z"
        assert worker.request({"as_of": "2023-01-18T01:00Z"})["consumption_rows"] == 76
        process = worker._process
    assert process is not None and process.returncode == 0  # stopped politely, not killed


def test_launched_workers_warm_up_together_and_start_waits_for_each_ready_line_once(tmp_path: Path) -> None:
    """`simulate` launches its three workers, then starts each: the ready line is read by `start`
    (never taken for a reply), a second `start` or `with` changes nothing, and stop resets it."""
    workers = [_worker(tmp_path / str(k)) for k in range(2)]
    for worker in workers:
        worker.launch()
        assert worker.startup_s is None
    for worker in workers:
        assert worker.start().startup_s is not None
        with worker:
            assert worker.start() is worker
            assert worker.request({"as_of": "2023-01-18T00:00Z"})["as_of"] == "2023-01-18T00:00Z"
        assert worker.startup_s is None and worker._process is None


def test_a_refused_request_raises_step_failed_with_the_workers_reason(tmp_path: Path) -> None:
    with _worker(tmp_path) as worker:
        with pytest.raises(StepFailed, match="EmptySourceWindow: nothing"):
            worker.request({"as_of": "1999-01-01T00:00Z"})
        assert worker.request({"as_of": "2023-01-18T00:00Z"})["ok"]  # still serving


def test_a_dying_worker_raises_step_failed_quoting_its_log(tmp_path: Path) -> None:
    with _worker(tmp_path) as worker, pytest.raises(StepFailed, match=r"exited \(7\)(.|\n)*out of memory"):
        worker.request({"as_of": "crash"})


def test_a_worker_that_fails_at_start_up_is_reported_with_its_log(tmp_path: Path) -> None:
    broken = _worker(tmp_path, "import sys; print('settings: ENERGY_SOURCE is invalid', file=sys.stderr); sys.exit(1)")
    with pytest.raises(StepFailed, match=r"during start-up(.|\n)*ENERGY_SOURCE is invalid"):
        broken.start()
    broken.stop()


def test_feature_worker_sends_the_hour_in_the_pipelines_iso_form(tmp_path: Path) -> None:
    worker = FeatureWorker(tmp_path / "worker.log")
    worker.command = [sys.executable, "-c", STAND_IN]
    with worker:
        worker.ingest_hour(pd.Timestamp("2023-01-18T05:00Z"))
        with pytest.raises(StepFailed):
            worker.ingest_hour(pd.Timestamp("1999-01-18T05:00Z"))


# `training-pipeline worker`'s two requests, answered by a stand-in that records what it was sent.
TRAINING_STAND_IN = r"""
import json, sys
print(json.dumps({"ok": True, "ready": True, "pid": 0}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    print(request, file=sys.stderr, flush=True)
    if request.get("command") == "stop":
        break
    if request["command"] == "pin":
        print(json.dumps({"ok": True, "as_of": request["as_of"], "dataset_version": 4}), flush=True)
    else:
        print(json.dumps({"ok": True, "request": request, "registered": {"m": 2}, "champion_version": 2}), flush=True)
"""


def test_training_worker_pins_then_retrains_on_that_dataset_with_the_simulated_clock(tmp_path: Path) -> None:
    worker = TrainingWorker(tmp_path / "worker.log")
    worker.command = [sys.executable, "-c", TRAINING_STAND_IN]
    with worker:
        version = worker.pin(pd.Timestamp("2023-01-18T23:00Z"))
        reply = worker.retrain(pd.Timestamp("2023-01-18T23:00Z"), "retrain", version, pd.Timestamp("2023-01-19T05:00Z"))
        capped = worker.retrain(pd.Timestamp("2023-01-18T23:00Z"), "retrain", version,
                                pd.Timestamp("2023-01-19T05:00Z"), threads=1)  # fmt: skip
    assert version == 4
    assert reply["request"] == {"command": "run", "as_of": "2023-01-18T23:00Z", "profile": "retrain",
                                "dataset_version": 4, "now": "2023-01-19T05:00Z"}  # fmt: skip
    assert capped["request"] == {**reply["request"], "threads": 1}  # `simulate` passes ENERGY_BATCH_RETRAIN_THREADS
