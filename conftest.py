"""Repository-wide test fixtures.

`snapshot_home` is an ENERGY_HOME filled by the real pipelines from the real snapshot, through
their console scripts (services never import each other, tests included): a backfill, a
smoke-profile training run and a few simulated hours of prediction and monitoring. It is built
once per test session (minutes, not seconds); set ENERGY_TEST_SNAPSHOT_HOME to a directory to
build it there and reuse it across sessions while developing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent

# The snapshot's last known hour is 2023-01-24T22:00Z. The test store trains as of one day before
# and simulates a few hours after, so it holds history, forecasts and monitoring rows.
TEST_AS_OF = "2023-01-23T22:00Z"
SIMULATE_START = "2023-01-23T23:00Z"
SIMULATE_END = "2023-01-24T03:00Z"
_DONE_MARKER = ".snapshot_home_complete"


def snapshot_dir() -> Path | None:
    """The real data directory, or None when it is not beside the repository."""
    raw = os.environ.get("ENERGY_SNAPSHOT_DIR", str(REPO.parent / "shared" / "data"))
    path = Path(raw).expanduser().resolve()
    return path if any(path.glob("consumption_de35_hour_*.parquet")) else None


def pipeline_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ENERGY_HOME=str(home),
        ENERGY_SNAPSHOT_DIR=str(snapshot_dir()),
        MLFLOW_DISABLE_TELEMETRY="true",
        WANDB_MODE="offline",
        WANDB_SILENT="true",
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("ENERGY_FEATURE_STORE", None)
    return env


def run_cli(home: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run a service's console script against `home`; fail the test with its output if it fails."""
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        env=pipeline_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def build_snapshot_home(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    run_cli(home, "feature-pipeline", "backfill", "--start", "2022-12-21T16:00Z", "--end", "2023-01-23T23:00Z")
    run_cli(home, "training-pipeline", "run", "--as-of", TEST_AS_OF, "--profile", "smoke")
    run_cli(
        home,
        "batch-prediction-pipeline",
        "simulate",
        "--start",
        SIMULATE_START,
        "--end",
        SIMULATE_END,
        "--retrain-every",
        "1000h",
        "--profile",
        "smoke",
    )
    (home / _DONE_MARKER).write_text(json.dumps({"as_of": TEST_AS_OF, "simulated_until": SIMULATE_END}))
    return home


@pytest.fixture(scope="session")
def snapshot_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An ENERGY_HOME filled by the real pipelines from the snapshot (see module docstring)."""
    if snapshot_dir() is None:
        pytest.skip("the real snapshot (ENERGY_SNAPSHOT_DIR, default ../shared/data) is not available")
    reuse = os.environ.get("ENERGY_TEST_SNAPSHOT_HOME")
    if reuse:
        home = Path(reuse).resolve()
        if not (home / _DONE_MARKER).exists():
            shutil.rmtree(home, ignore_errors=True)
            build_snapshot_home(home)
        yield home
        return
    yield build_snapshot_home(tmp_path_factory.mktemp("snapshot_home"))
