"""`training-pipeline worker`: the JSON-lines protocol (fast, with stand-in handlers) and one real
worker process pinning and training on a store built from the snapshot (slow; nothing mocked)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from energy_core.registry import open_registry
from energy_core.settings import RegistrySettings
from energy_training.worker import handle, serve

BIN = Path(sys.executable).parent
SNAPSHOT = Path(os.environ.get("ENERGY_SNAPSHOT_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))


def _echo(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("as_of") == "boom":
        raise ValueError("no data as of boom")
    return {"as_of": request.get("as_of"), "dataset_version": 7}


def test_serve_answers_every_request_on_one_line_and_keeps_serving_after_a_failure() -> None:
    requests = [
        '{"command": "pin", "as_of": "2023-01-18T00:00Z"}',
        '{"command": "pin", "as_of": "boom"}',
        "not json",
        "[1, 2]",
        "",
        '{"command": "train"}',
        '{"command": "pin", "as_of": "2023-01-19T00:00Z"}',
        '{"command": "stop"}',
        '{"command": "pin", "as_of": "never read"}',
    ]
    out = io.StringIO()

    served = serve(requests, out, {"pin": _echo})

    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert replies[0]["ready"] is True and replies[0]["pid"] == os.getpid()
    assert replies[1]["ok"] and replies[1]["dataset_version"] == 7 and replies[1]["command"] == "pin"
    assert replies[2] == {**replies[2], "ok": False, "error": "ValueError: no data as of boom"}
    assert not replies[3]["ok"] and "unreadable request" in replies[3]["error"]
    assert not replies[4]["ok"] and "expected a JSON object" in replies[4]["error"]
    assert not replies[5]["ok"] and "unknown command 'train'" in replies[5]["error"]
    assert replies[6]["ok"] and replies[6]["as_of"] == "2023-01-19T00:00Z"
    assert len(replies) == 7 and served == 4  # stop ends it; blank lines and unreadable ones are not requests


def test_a_reply_always_carries_ok_and_the_seconds_it_took() -> None:
    reply = handle({"command": "pin", "as_of": "x"}, {"pin": _echo})
    assert reply["ok"] is True and isinstance(reply["seconds"], float)


@pytest.mark.slow
def test_a_real_worker_pins_a_dataset_then_trains_on_it_and_survives_a_bad_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backfill a short window, then one worker process: pin as of T, train the `weak` profile on
    that dataset version with a fixed clock, refuse a run whose dataset is as of another hour."""
    # mlflow.set_tracking_uri (called by earlier tests) exports MLFLOW_TRACKING_URI, which would
    # point this test's registry read at another test's database
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    if not any(SNAPSHOT.glob("consumption_de35_hour_*.parquet")):
        pytest.skip(f"snapshot not found in {SNAPSHOT}")
    env = dict(os.environ, ENERGY_HOME=str(tmp_path), ENERGY_SNAPSHOT_DIR=str(SNAPSHOT),
               MLFLOW_DISABLE_TELEMETRY="true", WANDB_MODE="offline", WANDB_SILENT="true")  # fmt: skip
    env.pop("MLFLOW_TRACKING_URI", None)
    subprocess.run(
        [str(BIN / "feature-pipeline"), "backfill", "--start", "2022-12-21T16:00Z", "--end", "2023-01-10T00:00Z",
         "--no-progress"], env=env, cwd=tmp_path, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    as_of = "2023-01-09T23:00Z"
    requests = [
        {"command": "pin", "as_of": as_of},
        {"command": "run", "as_of": as_of, "profile": "weak", "dataset_version": 1, "now": "2023-01-10T00:00Z"},
        {"command": "run", "as_of": "2023-01-09T22:00Z", "profile": "weak", "dataset_version": 1},
        {"command": "run", "as_of": as_of, "profile": "weak", "dataset_version": "one"},
        {"command": "stop"},
    ]
    lines = "".join(json.dumps(r) + "\n" for r in requests)
    done = subprocess.run(
        [str(BIN / "training-pipeline"), "worker", "--threads", "1"], input=lines, env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    ready, pinned, trained, wrong_hour, wrong_type = (json.loads(line) for line in done.stdout.splitlines())
    assert ready["ready"] is True
    assert pinned["ok"] and pinned["dataset_version"] == 1
    assert trained["ok"], trained
    assert trained["dataset_version"] == 1 and trained["registered"] == {"lightgbm_weak": 1}
    assert trained["decisions"] == {"lightgbm_weak": "challenger"}  # one tree never beats naive 24 by 15 %
    assert not wrong_hour["ok"] and "is as of 2023-01-09 23:00:00+00:00" in wrong_hour["error"]
    assert not wrong_type["ok"] and "'dataset_version' must be an integer" in wrong_type["error"]
    version = open_registry(RegistrySettings(ENERGY_HOME=str(tmp_path))).get(version=1)  # type: ignore[call-arg]
    assert version.lineage is not None and version.lineage.training_dataset_version == 1
    audit = [json.loads(v) for k, v in version.tags.items() if k.startswith("audit.")]
    assert audit and all(record["at"].startswith("2023-01-10T00:00") for record in audit)  # the request's clock
