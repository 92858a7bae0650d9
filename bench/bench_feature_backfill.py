"""Benchmark the feature pipeline (issue 3).

- full snapshot backfill: `feature-pipeline backfill` over the whole real ConsumptionDE35Hour
  snapshot (62,548 rows, 5 weekly chunks, with weather and calendar) into a fresh temporary
  ENERGY_HOME, as a subprocess so process start and imports count (target < 10 s on 2 cores);
- one hourly `feature-pipeline run --as-of` after that backfill (what the simulation calls once per
  simulated hour), also as a subprocess.

Run: .venv/bin/python bench/bench_feature_backfill.py [--repeats 5]
Needs the snapshot in ENERGY_SNAPSHOT_DIR (default ../shared/data).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "feature-pipeline"
START, END = "2022-12-21T16:00Z", "2023-01-24T23:00Z"


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ENERGY_HOME=str(home),
        ENERGY_SNAPSHOT_DIR=os.environ.get("ENERGY_SNAPSHOT_DIR", str(REPO.parent / "shared" / "data")),
        ENERGY_SOURCE="snapshot",
        MLFLOW_DISABLE_TELEMETRY="true",
        WANDB_MODE="offline",
    )
    env.pop("ENERGY_FEATURE_STORE", None)
    return env


def _timed(args: list[str], home: Path) -> float:
    began = time.perf_counter()
    subprocess.run([str(SCRIPT), *args], env=_env(home), cwd=home, check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    backfills, runs = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="bench_features_") as tmp:
            home = Path(tmp)
            backfills.append(_timed(["backfill", "--start", START, "--end", END, "--no-progress"], home))
            runs.append(_timed(["run", "--as-of", "2023-01-24T22:00Z"], home))
    print(
        f"full snapshot backfill (62,548 rows), subprocess: median {statistics.median(backfills):.2f} s "
        f"over {args.repeats} runs (min {min(backfills):.2f}, max {max(backfills):.2f}); target < 10 s"
    )
    print(
        f"hourly run --as-of after backfill, subprocess:   median {statistics.median(runs):.2f} s "
        f"(min {min(runs):.2f}, max {max(runs):.2f})"
    )


if __name__ == "__main__":
    main()
