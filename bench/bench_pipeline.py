"""Benchmark `make pipeline`: its three steps, timed separately, in a fresh ENERGY_HOME each time.

Runs exactly what the Makefile's `pipeline` target runs (the same console scripts, arguments and
defaults: backfill to 2023-01-17T23:00Z, `training-pipeline run --profile pipeline` as of
2023-01-17T22:00Z, then `simulate` over the last week with a `retrain`-profile retrain every 24 h,
each serving from 6 h after its as-of hour) and prints, per step and in total, the median wall time
over `--repeats` runs (default 3), with the machine's load average beside each step: on a shared
2-core machine wall time is only comparable between runs at a similar load. It also prints the
initial training's tuning line (trials run, the budget's cap) and the CPU time of each step's
process tree. `--training-profile`, `--retrain-lag` and `--simulate-end` time a variant; the
defaults are the target's.

Every repetition starts from an empty ENERGY_HOME in a temporary directory, removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import resource
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


def steps(
    training_profile: str, simulate_end: str, retrain_profile: str, retrain_lag: str
) -> list[tuple[str, list[str]]]:
    return [
        ("backfill", ["feature-pipeline", "backfill", "--start", PIPELINE_START, "--end", PIPELINE_END,
                      "--no-progress"]),
        ("initial training", ["training-pipeline", "run", "--as-of", PIPELINE_AS_OF, "--profile", training_profile]),
        ("simulate", ["batch-prediction-pipeline", "simulate", "--start", PIPELINE_END, "--end", simulate_end,
                      "--retrain-every", "24h", "--retrain-lag", retrain_lag, "--profile", retrain_profile,
                      "--no-progress"]),
    ]  # fmt: skip


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(training_profile: str, simulate_end: str, retrain_profile: str, retrain_lag: str) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="bench-pipeline-")) / "home"
    env = dict(os.environ, ENERGY_HOME=str(home), ENERGY_SNAPSHOT_DIR=str(SNAPSHOT.resolve()),
               MLFLOW_DISABLE_TELEMETRY="true", WANDB_MODE="offline", WANDB_SILENT="true")  # fmt: skip
    env.pop("MLFLOW_TRACKING_URI", None)
    times: dict[str, float] = {}
    try:
        for name, command in steps(training_profile, simulate_end, retrain_profile, retrain_lag):
            start, cpu = time.perf_counter(), _children_cpu_s()
            done = subprocess.run([str(BIN / command[0]), *command[1:]], env=env, cwd=home.parent,
                                  capture_output=True, text=True, check=False)  # fmt: skip
            times[name] = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(f"{name} exited {done.returncode}:\n{done.stderr[-3000:]}")
            tuning = next((line.strip() for line in done.stdout.splitlines() if line.startswith("tuning ")), "")
            print(f"  {name:<17} {times[name]:7.1f} s wall, {_children_cpu_s() - cpu:6.1f} s CPU, load average "
                  f"{os.getloadavg()[0]:.1f}  {tuning}", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)
    times["total"] = sum(times.values())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--training-profile", default="pipeline")
    parser.add_argument("--retrain-profile", default="retrain")
    parser.add_argument("--retrain-lag", default="6h", help="the Makefile's RETRAIN_LAG")
    parser.add_argument("--simulate-end", default=SIMULATE_END)
    args = parser.parse_args()

    runs = []
    for k in range(args.repeats):
        print(f"run {k + 1} of {args.repeats} (load average {os.getloadavg()[0]:.1f}):", flush=True)
        runs.append(run_once(args.training_profile, args.simulate_end, args.retrain_profile, args.retrain_lag))
    load = os.getloadavg()[0]
    print(f"`make pipeline` (training profile {args.training_profile}, retrain lag {args.retrain_lag}, simulate to "
          f"{args.simulate_end}); "
          f"medians over {len(runs)} runs on {os.cpu_count()} CPUs, load average now {load:.1f}:")  # fmt: skip
    for name in runs[0]:
        print(f"  {name:<17} median {statistics.median(r[name] for r in runs):7.1f} s")


if __name__ == "__main__":
    main()
