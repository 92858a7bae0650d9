"""Benchmark one simulated hour of operation, in process, with the feature worker warm.

One hour = ingest the new hour (`feature-pipeline worker`, a long-lived child over a pipe, as
`simulate` drives it), then predict 24 h for every series with the champion (loaded once) in this
process and monitor in `batch-prediction-pipeline worker` (another long-lived child), side by side
as `simulate` runs them (`--monitor-thread`: monitor on a thread of this process, as before;
`--sequential`: predict, then monitor, in this process; both to compare).
The setup builds an ENERGY_HOME through the real console scripts (a backfill up to
2023-01-17T23:00Z and a `retrain`-profile training: the champion is a LightGBM like production's),
or copies one given with `--home` (e.g. after `make pipeline`'s first two steps), so the store and
registry are never the caller's own.

Prints, per step and for the whole hour, the median wall time over `--hours` consecutive hours
(default 24) that follow `--warm-hours` untimed ones (default 72, so monitoring's 48 h lookback is
full, as in any hour after a deployment's first three days), the CPU time of this process (the
workers' CPU is not in it: see the workers' own `seconds`), and, with `--subprocess-hours N`,
the old way (`feature-pipeline run` as a fresh process per hour) for comparison. The machine's
load average is printed beside the numbers: on a shared 2-core machine wall time is only
comparable between runs at a similar load.

A benchmark is not a service: it imports `energy_batch` directly to time its in-process functions.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

BIN = Path(sys.executable).parent
SNAPSHOT = Path(os.environ.get("ENERGY_SNAPSHOT_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
FIRST_HOUR = "2022-12-21T16:00Z"
TRAIN_AS_OF = pd.Timestamp("2023-01-17T22:00Z")


def run(*args: str) -> None:
    subprocess.run([str(BIN / args[0]), *args[1:]], check=True, capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24, help="simulated hours to time (≤ 160 with the warm-up)")
    parser.add_argument("--warm-hours", type=int, default=72,
                        help="hours run before timing starts (default 72: monitoring's 48 h lookback is full, as in "
                             "every hour after the first three days; 0 times the first hours after training)")
    parser.add_argument("--subprocess-hours", type=int, default=0, help="also time N hours the old way")
    parser.add_argument("--home", type=Path, help="copy this ENERGY_HOME (backfilled to 2023-01-17T23:00Z, trained)")
    parser.add_argument("--sequential", action="store_true", help="predict, then monitor (to compare)")
    parser.add_argument("--monitor-thread", action="store_true", help="monitor on a thread, not the worker")
    parser.add_argument("--profile", default="retrain", help="training profile of the setup (default retrain)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-hour-")) / "home"
    try:
        if args.home:
            shutil.copytree(args.home, home)
        prepare_env(home)
        if not args.home:
            print(f"setup in {home}: backfill to {TRAIN_AS_OF}, {args.profile} training …", flush=True)
            end = iso(TRAIN_AS_OF + pd.Timedelta(hours=1))
            run("feature-pipeline", "backfill", "--start", FIRST_HOUR, "--end", end)
            run("training-pipeline", "run", "--as-of", iso(TRAIN_AS_OF), "--profile", args.profile)
        mode = "sequential" if args.sequential else "thread" if args.monitor_thread else "worker"
        measure(home, args.hours, args.subprocess_hours, mode, args.warm_hours)
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)


def prepare_env(home: Path) -> None:
    os.environ.update(
        ENERGY_HOME=str(home), ENERGY_SNAPSHOT_DIR=str(SNAPSHOT.resolve()), MLFLOW_DISABLE_TELEMETRY="true",
        WANDB_MODE="offline", WANDB_SILENT="true",
    )  # fmt: skip
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.chdir(home.parent)


def iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%MZ")


def measure(home: Path, hours: int, subprocess_hours: int, mode: str, warm_hours: int = 72) -> None:
    from energy_batch import console_scripts
    from energy_batch.champion import ChampionCache
    from energy_batch.health_checks import ReferenceCache
    from energy_batch.pipeline import monitor, predict
    from energy_batch.service_workers import FeatureWorker, MonitorWorker
    from energy_batch.settings import BatchSettings
    from energy_batch.simulation import predict_and_monitor
    from energy_core.feature_store import open_feature_store
    from energy_core.registry import open_registry
    from energy_core.settings import AlertSettings

    settings, alerts = BatchSettings(), AlertSettings()
    store, registry = open_feature_store(), open_registry()
    champions = ChampionCache(registry)
    references: ReferenceCache = {}
    first = TRAIN_AS_OF + pd.Timedelta(hours=1)
    rows: list[dict[str, float]] = []
    scorer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor")
    monitoring = MonitorWorker(home / "logs" / "batch-prediction-worker.log")
    step = None if mode != "worker" else lambda hour, champion: monitoring.monitor(hour, champion.version)
    with FeatureWorker(home / "logs" / "feature-pipeline-worker.log") as worker, scorer:
        print(f"feature worker start-up (once): {worker.startup_s:.2f} s", flush=True)
        if mode == "worker":
            monitoring.start()
            print(f"monitor worker start-up (once): {monitoring.startup_s:.2f} s", flush=True)
        # the first hour warms the champion, the reference dataset and every table handle; the warm
        # hours fill monitoring's lookback (48 h of 24-step forecasts), after which monitor scores
        # ~87,000 rows an hour instead of the few hundred of the first hours
        for k in range(warm_hours + hours + 1):
            hour = first + pd.Timedelta(hours=k)
            wall, cpu = time.perf_counter(), time.process_time()
            worker.ingest_hour(hour)
            t_ingest = time.perf_counter()
            champion = champions.current()
            if mode == "sequential":
                predict(store, champion, hour, settings)
                t_predict = time.perf_counter()
                monitor(store, champion.info, hour, settings, alerts, None, references)
            else:  # what `simulate` does: monitor in the worker (or a thread) while predict runs here
                predict_and_monitor(store, champion, hour, settings, alerts, None, references, None, scorer, step)
                t_predict = float("nan")
            end, cpu_end = time.perf_counter(), time.process_time()
            if k > warm_hours:
                rows.append({"ingest": t_ingest - wall, "predict": t_predict - t_ingest, "monitor": end - t_predict,
                             "predict+monitor": end - t_ingest, "hour": end - wall, "cpu": cpu_end - cpu})  # fmt: skip
        monitoring.stop()
    table = pd.DataFrame(rows)
    load = os.getloadavg()
    print(f"champion: {champion.label}; machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f}")
    for column in ("ingest", "predict", "monitor", "predict+monitor"):
        if table[column].notna().any():
            print(f"  {column:<15} median {table[column].median():.3f} s")
    how = {"sequential": "predict then monitor", "thread": "predict ‖ monitor on a thread",
           "worker": "predict ‖ monitor in its worker"}[mode]  # fmt: skip
    print(f"one in-process hour (warm workers, {how}): median {table['hour'].median():.3f} s wall, "
          f"{table['cpu'].median():.3f} s CPU of this process, over {len(table)} hours after {warm_hours} warm-up "
          f"(min {table['hour'].min():.3f}, max {table['hour'].max():.3f})")  # fmt: skip

    if subprocess_hours:
        old = []
        for k in range(subprocess_hours):
            hour = first + pd.Timedelta(hours=warm_hours + hours + 1 + k)
            start = time.perf_counter()
            console_scripts.ingest_hour(hour)
            champion = champions.current()
            predict(store, champion, hour, settings)
            monitor(store, champion.info, hour, settings, alerts, None, references)
            old.append(time.perf_counter() - start)
        print(f"one hour with `feature-pipeline run` as a subprocess: median {statistics.median(old):.3f} s "
              f"over {len(old)} hours")  # fmt: skip


if __name__ == "__main__":
    main()
