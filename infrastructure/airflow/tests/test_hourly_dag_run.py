"""`airflow dags test energy_hourly` runs the real jobs and leaves the store the hand-run jobs leave.

Two copies of one ENERGY_HOME (snapshot backfill + a smoke-profile training): in one, the three
console scripts run by hand as of the last known hour; in the other, Airflow runs the hourly DAG in
process mode at the logical date one hour later. Every feature group must then hold the same rows.
Nothing is mocked: real snapshot, real jobs, real Airflow (SQLite metadata database).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# conftest.py sets it (default: the repository's .venv/bin).
SERVICES_BIN = Path(os.environ["ENERGY_SERVICES_BIN"])

SNAPSHOT = Path(os.environ.get("ENERGY_SNAPSHOT_DIR", Path(__file__).resolve().parents[4] / "shared" / "data"))
LOGICAL_DATE = "2023-01-20T10:00:00+00:00"
AS_OF = "2023-01-20T09:00Z"  # data_interval_end - 1 h: the last hour that is over at 10:00

# Run with the services' interpreter (Airflow's environment has no energy_core): one digest per group.
_DIGEST = """
import hashlib, json
from energy_core.feature_store import open_feature_store
from energy_core.schemas import FEATURE_GROUPS
store = open_feature_store()
out = {}
for group in FEATURE_GROUPS:
    if not store.exists(group):
        continue
    frame = store.read(group)
    frame = frame[sorted(frame.columns)].sort_values(sorted(frame.columns)).reset_index(drop=True)
    out[group.name] = [len(frame), hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()]
print(json.dumps(out))
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not any(SNAPSHOT.glob("*.parquet")), reason=f"no data snapshot in {SNAPSHOT}"),
    pytest.mark.skipif(not (SERVICES_BIN / "feature-pipeline").exists(), reason=f"no services in {SERVICES_BIN}"),
]


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ENERGY_HOME=str(home),
        ENERGY_SNAPSHOT_DIR=str(SNAPSHOT.resolve()),
        MLFLOW_DISABLE_TELEMETRY="true",
        WANDB_MODE="offline",
        WANDB_SILENT="true",
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("ENERGY_FEATURE_STORE", None)
    return env


def _run(home: Path, *command: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, env=_env(home), cwd=home, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def _digests(home: Path) -> dict[str, list[object]]:
    return json.loads(_run(home, str(SERVICES_BIN / "python"), "-c", _DIGEST).stdout)


def test_dags_test_of_the_hourly_dag_leaves_the_same_store_as_the_jobs_run_by_hand(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    _run(
        base,
        str(SERVICES_BIN / "feature-pipeline"),
        "backfill",
        "--start",
        "2022-12-21T16:00Z",
        "--end",
        "2023-01-19T23:00Z",
    )
    _run(base, str(SERVICES_BIN / "training-pipeline"), "run", "--as-of", "2023-01-19T22:00Z", "--profile", "smoke")
    # The smoke profile's model may not pass the gate; approving it makes it champion, as a person would.
    _run(base, str(SERVICES_BIN / "training-pipeline"), "approve", "1")
    by_hand, by_airflow = tmp_path / "by_hand", tmp_path / "by_airflow"
    # MLflow records absolute artifact paths under `base`; both copies load the same model from there.
    shutil.copytree(base, by_hand, symlinks=True)
    shutil.copytree(base, by_airflow, symlinks=True)
    before = _digests(by_airflow)

    _run(by_hand, str(SERVICES_BIN / "feature-pipeline"), "run", "--as-of", AS_OF)
    _run(by_hand, str(SERVICES_BIN / "batch-prediction-pipeline"), "predict", "--as-of", AS_OF)
    _run(by_hand, str(SERVICES_BIN / "batch-prediction-pipeline"), "monitor", "--as-of", AS_OF)

    airflow = Path(sys.executable).parent / "airflow"
    _run(by_airflow, str(airflow), "db", "migrate", timeout=600)
    # A wrong as-of (say the logical date itself) would forecast from another origin: the digests differ.
    _run(by_airflow, str(airflow), "dags", "test", "energy_hourly", LOGICAL_DATE)

    after_hand, after_airflow = _digests(by_hand), _digests(by_airflow)
    assert after_airflow != before, "the DAG run changed nothing in the store"
    assert after_airflow == after_hand
    changed = {name for name, digest in after_airflow.items() if before.get(name) != digest}
    assert "predictions" in changed, f"no new predictions; changed groups: {sorted(changed)}"
