"""End to end with the real services' console scripts on the snapshot (slow): a simulation killed
with SIGTERM mid-way and restarted ends with exactly the rows of an uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import (
    ALERTS,
    ENERGY_CONSUMPTION,
    MONITORING,
    MONITORING_HORIZON,
    MONITORING_HOURLY,
    PREDICTIONS,
    SERIES,
    TOTAL,
)

BIN = Path(sys.executable).parent
SNAPSHOT = Path(os.environ.get("ENERGY_SNAPSHOT_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
START, END = "2023-01-24T18:00Z", "2023-01-24T22:00Z"
SIMULATE = ["simulate", "--start", START, "--end", END, "--retrain-every", "1000h", "--profile", "smoke",
            "--no-progress"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all((BIN / s).exists() for s in ("feature-pipeline", "training-pipeline"))
        or not any(SNAPSHOT.glob("consumption_de35_hour_*.parquet")),
        reason="needs the feature-pipeline and training-pipeline console scripts and the snapshot",
    ),
]


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, ENERGY_HOME=str(home), ENERGY_SNAPSHOT_DIR=str(SNAPSHOT.resolve()),
               MLFLOW_DISABLE_TELEMETRY="true", WANDB_MODE="offline", WANDB_SILENT="true")
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _run(home: Path, *args: str) -> None:
    result = subprocess.run([str(BIN / args[0]), *args[1:]], env=_env(home), cwd=home, capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stderr[-3000:]}"


def _completed_through(home: Path) -> str | None:
    path = home / "state" / "simulation.json"
    return json.loads(path.read_text()).get("completed_through") if path.exists() else None


def test_real_pipelines_simulation_killed_midway_resumes_to_identical_rows(tmp_path: Path) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    straight.mkdir()
    _run(straight, "feature-pipeline", "backfill", "--start", "2022-12-21T16:00Z", "--end", START)
    _run(straight, "training-pipeline", "run", "--as-of", "2023-01-24T17:00Z", "--profile", "smoke")
    # Both runs start from the same trained home (store, training datasets, registry). MLflow keeps
    # absolute artifact paths, so the copy loads the model from the original's artifact folder,
    # which stays in place for the whole test; no retraining happens in the window.
    shutil.copytree(straight, resumed)

    _run(straight, "batch-prediction-pipeline", *SIMULATE)

    proc = subprocess.Popen([str(BIN / "batch-prediction-pipeline"), *SIMULATE], env=_env(resumed), cwd=resumed,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while _completed_through(resumed) is None and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    assert json.loads((resumed / "state" / "simulation.json").read_text())["finished"] is False

    _run(resumed, "batch-prediction-pipeline", *SIMULATE)

    a, b = EmbeddedFeatureStore(straight / "feature_store"), EmbeddedFeatureStore(resumed / "feature_store")
    for group in (ENERGY_CONSUMPTION, PREDICTIONS, MONITORING, MONITORING_HOURLY, MONITORING_HORIZON, ALERTS):
        pd.testing.assert_frame_equal(a.read(group), b.read(group), obj=group.name)
    predictions = a.read(PREDICTIONS)
    is_total = predictions["consumer_type"] == TOTAL
    assert predictions[~is_total].groupby("forecast_made_at").size().eq(76 * 24).all()
    # with the catalogue, DK1, DK2 and DK totals are forecast bottom-up beside the leaves
    expected_totals = 3 * 24 if a.exists(SERIES) else 0
    assert predictions[is_total].groupby("forecast_made_at").size().reindex(
        predictions["forecast_made_at"].unique(), fill_value=0
    ).eq(expected_totals).all()
    assert predictions["forecast_made_at"].nunique() == 4
    assert (a.read(MONITORING_HOURLY)["count"] > 0).all()
