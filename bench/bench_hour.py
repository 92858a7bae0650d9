"""Benchmark one simulated hour of operation, in process, with the feature worker warm.

One hour = ingest the new hour (`feature-pipeline worker`, a long-lived child over a pipe, as
`simulate` drives it), predict 24 h for every series with the champion (loaded once) in this
process, and monitor in `batch-prediction-pipeline worker` (another long-lived child), as
`simulate` runs them: monitor H starts after H's ingest, pinned to its table versions, and runs
beside predict H and the ingest of H + 1, which starts as predict H does (predict reads the same
pinned versions); monitor H is joined before monitor H + 1 starts. So an hour's wall time is the
cycle from the end of one predict to the next (waiting for the hour's ingest and the previous
monitor included), and each hour's monitor is done a little later, when it is joined: its latency
is printed too. `--ingest-in-turn`: ingest H + 1 only after predict H (as before 2026-12-02);
`--monitor-thread`: the monitor lane on a thread of this process; `--sequential`: ingest, predict,
then monitor, nothing side by side; all three to compare.
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
from concurrent.futures import Future, ThreadPoolExecutor
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
    parser.add_argument("--ingest-in-turn", action="store_true",
                        help="ingest H + 1 after predict H, not beside it (as `simulate` did before; to compare)")
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
        measure(home, args.hours, args.subprocess_hours, mode, args.warm_hours, not args.ingest_in_turn)
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


def measure(
    home: Path, hours: int, subprocess_hours: int, mode: str, warm_hours: int = 72, ingest_ahead: bool = True
) -> None:
    from energy_batch import console_scripts
    from energy_batch.champion import ChampionCache
    from energy_batch.health_checks import ReferenceCache
    from energy_batch.pipeline import ingested_versions, monitor, predict
    from energy_batch.service_workers import FeatureWorker, MonitorWorker
    from energy_batch.settings import BatchSettings
    from energy_batch.simulation import MonitorLane, predict_hour
    from energy_core.compute import cap_hourly_processes
    from energy_core.feature_store import open_feature_store
    from energy_core.registry import open_registry
    from energy_core.settings import AlertSettings

    settings, alerts = BatchSettings(), AlertSettings()
    store, registry = open_feature_store(), open_registry()
    champions = ChampionCache(registry)
    references: ReferenceCache = {}
    first = TRAIN_AS_OF + pd.Timedelta(hours=1)
    rows: list[dict[str, float]] = []
    # as `simulate` does: each hourly process caps its DuckDB and Arrow threads (ENERGY_BATCH_HOURLY_THREADS)
    capped = cap_hourly_processes(settings.hourly_threads)
    print(f"threads per hourly process: {settings.hourly_threads or 'uncapped'}", flush=True)
    monitoring = MonitorWorker(home / "logs" / "batch-prediction-worker.log", env=capped)
    step = None if mode != "worker" else lambda hour, info, pins: monitoring.monitor(hour, info.version, pins)
    lane = MonitorLane(store, settings, alerts, None, references, step)
    started: dict[int, float] = {}
    with FeatureWorker(home / "logs" / "feature-pipeline-worker.log", env=capped) as worker, lane:
        print(f"feature worker start-up (once): {worker.startup_s:.2f} s", flush=True)
        if mode == "worker":
            monitoring.start()
            print(f"monitor worker start-up (once): {monitoring.startup_s:.2f} s", flush=True)
        # the first hour warms the champion, the reference dataset and every table handle; the warm
        # hours fill monitoring's lookback (48 h of 24-step forecasts), after which monitor scores
        # ~87,000 rows an hour instead of the few hundred of the first hours
        ingesting: Future[None] | None = None  # the next hour's ingest, started beside this predict
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest") as ahead:
            for k in range(warm_hours + hours + 1):
                hour = first + pd.Timedelta(hours=k)
                wall, cpu = time.perf_counter(), time.process_time()
                started[k] = wall
                if ingesting is None:
                    worker.ingest_hour(hour)
                else:
                    ingesting.result()
                versions = ingested_versions(store)
                t_ingest = time.perf_counter()
                champion = champions.current()
                latency = float("nan")
                if mode == "sequential":
                    predict(store, champion, hour, settings)
                    t_predict = time.perf_counter()
                    monitor(store, champion.info, hour, settings, alerts, None, references, table_versions=versions)
                    t_join = time.perf_counter()
                else:  # what `simulate` does: join the previous hour's monitor, start this one's, predict
                    lane.join()
                    t_join = time.perf_counter()
                    latency = t_join - started.get(k - 1, float("nan"))
                    lane.start(hour, champion.info, versions)
                    if ingest_ahead and k < warm_hours + hours:
                        ingesting = ahead.submit(worker.ingest_hour, hour + pd.Timedelta(hours=1))
                    t_predict = time.perf_counter()
                    predict_hour(store, champion, hour, settings, None, versions)
                end, cpu_end = time.perf_counter(), time.process_time()
                if k > warm_hours:
                    rows.append({"ingest" if not ingest_ahead else "waiting for this hour's ingest": t_ingest - wall,
                                 "predict": end - t_predict if mode != "sequential" else t_predict - t_ingest,
                                 "monitor": t_join - t_predict if mode == "sequential" else float("nan"),
                                 "waiting for the previous monitor": t_join - t_ingest if mode != "sequential" else 0.0,
                                 "previous hour's latency (ingest start → monitor joined)": latency,
                                 "hour": end - wall, "cpu": cpu_end - cpu})  # fmt: skip
        lane.join()
        monitoring.stop()
    table = pd.DataFrame(rows)
    load = os.getloadavg()
    print(f"champion: {champion.label}; machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f}")
    for column in table.columns.drop(["hour", "cpu"]):
        if table[column].notna().any():
            print(f"  {column:<55} median {table[column].median():.3f} s")
    how = {"sequential": "ingest, predict, then monitor",
           "thread": "monitor one hour behind, on a thread",
           "worker": "monitor one hour behind, in its worker"}[mode]  # fmt: skip
    if ingest_ahead and mode != "sequential":
        how += ", ingest one hour ahead beside predict"
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
