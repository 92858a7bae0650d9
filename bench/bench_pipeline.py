"""Benchmark `make pipeline`: its three steps, timed separately, in a fresh ENERGY_HOME each time.

Runs exactly what the Makefile's `pipeline` target runs (the same console scripts, arguments and
defaults: backfill to 2023-01-17T23:00Z, `training-pipeline run --profile full` as of
2023-01-17T22:00Z, then `simulate` over the last week with a `retrain`-profile retrain every 24 h)
and prints, per step and in total, the median wall time over `--repeats` runs (default 3), with the
machine's load average beside it: on a shared 2-core machine wall time is only comparable between
runs at a similar load. `--training-profile` and `--simulate-end` exist to time a variant (e.g. a
shorter window); the defaults are the target's.

Every repetition starts from an empty ENERGY_HOME in a temporary directory, removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SNAPSHOT = Path(os.environ.get("ENERGY_SNAPSHOT_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
# The Makefile's defaults (PIPELINE_*, SIMULATE_*, RETRAIN_*).
PIPELINE_START, PIPELINE_END, PIPELINE_AS_OF = "2022-12-21T16:00Z", "2023-01-17T23:00Z", "2023-01-17T22:00Z"
SIMULATE_END = "2023-01-24T23:00Z"


def steps(training_profile: str, simulate_end: str, retrain_profile: str) -> list[tuple[str, list[str]]]:
    return [
        ("backfill", ["feature-pipeline", "backfill", "--start", PIPELINE_START, "--end", PIPELINE_END,
                      "--no-progress"]),
        ("initial training", ["training-pipeline", "run", "--as-of", PIPELINE_AS_OF, "--profile", training_profile]),
        ("simulate", ["batch-prediction-pipeline", "simulate", "--start", PIPELINE_END, "--end", simulate_end,
                      "--retrain-every", "24h", "--profile", retrain_profile, "--no-progress"]),
    ]  # fmt: skip


def run_once(training_profile: str, simulate_end: str, retrain_profile: str) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="bench-pipeline-")) / "home"
    env = dict(os.environ, ENERGY_HOME=str(home), ENERGY_SNAPSHOT_DIR=str(SNAPSHOT.resolve()),
               MLFLOW_DISABLE_TELEMETRY="true", WANDB_MODE="offline", WANDB_SILENT="true")  # fmt: skip
    env.pop("MLFLOW_TRACKING_URI", None)
    times: dict[str, float] = {}
    try:
        for name, command in steps(training_profile, simulate_end, retrain_profile):
            start = time.perf_counter()
            done = subprocess.run([str(BIN / command[0]), *command[1:]], env=env, cwd=home.parent,
                                  capture_output=True, text=True, check=False)  # fmt: skip
            times[name] = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(f"{name} exited {done.returncode}:\n{done.stderr[-3000:]}")
            print(f"  {name:<17} {times[name]:7.1f} s", flush=True)
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)
    times["total"] = sum(times.values())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--training-profile", default="full")
    parser.add_argument("--retrain-profile", default="retrain")
    parser.add_argument("--simulate-end", default=SIMULATE_END)
    args = parser.parse_args()

    runs = []
    for k in range(args.repeats):
        print(f"run {k + 1} of {args.repeats} (load average {os.getloadavg()[0]:.1f}):", flush=True)
        runs.append(run_once(args.training_profile, args.simulate_end, args.retrain_profile))
    load = os.getloadavg()[0]
    print(f"`make pipeline` (training profile {args.training_profile}, simulate to {args.simulate_end}); "
          f"medians over {len(runs)} runs on {os.cpu_count()} CPUs, load average now {load:.1f}:")  # fmt: skip
    for name in runs[0]:
        print(f"  {name:<17} median {statistics.median(r[name] for r in runs):7.1f} s")


if __name__ == "__main__":
    main()
