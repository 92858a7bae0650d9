"""Benchmark batch prediction on the real snapshot: predict after load, and one simulated hour.

Builds its own ENERGY_HOME (a temporary directory) through the real console scripts: a feature
backfill up to a few hours before the snapshot's end and a smoke-profile training run, so the
champion is whatever that training promotes. Then it measures, with the champion loaded once:

1. `predict`: all series × 24 h — model input from the feature view, the champion's predict, the
   contract check and the idempotent write (target ≤ 1 s); and the champion's `predict` alone;
2. one simulated hour end to end: `feature-pipeline run --as-of H` (subprocess), predict, monitor.

Prints the median of several repetitions. A benchmark is not a service: it imports `energy_batch`
directly to time the service's in-process functions.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

BIN = Path(sys.executable).parent
SNAPSHOT = Path(os.environ.get("ENERGY_SNAPSHOT_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
FIRST_HOUR = "2022-12-21T16:00Z"
TRAIN_AS_OF = pd.Timestamp("2023-01-24T14:00Z")


def run(*args: str) -> None:
    subprocess.run([str(BIN / args[0]), *args[1:]], check=True, capture_output=True, text=True)


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hours", type=int, default=3, help="simulated hours to time (≤ 8)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        measure(home, args.repeats, args.hours)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure(home: Path, repeats: int, hours: int) -> None:
    os.environ.update(
        ENERGY_HOME=str(home), ENERGY_SNAPSHOT_DIR=str(SNAPSHOT.resolve()), MLFLOW_DISABLE_TELEMETRY="true",
        WANDB_MODE="offline", WANDB_SILENT="true",
    )
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.chdir(home)
    first_simulated = TRAIN_AS_OF + pd.Timedelta(hours=1)
    print(f"setup in {home}: backfill to {TRAIN_AS_OF}, smoke training …", flush=True)
    run("feature-pipeline", "backfill", "--start", FIRST_HOUR, "--end", first_simulated.strftime("%Y-%m-%dT%H:%MZ"))
    run("training-pipeline", "run", "--as-of", TRAIN_AS_OF.strftime("%Y-%m-%dT%H:%MZ"), "--profile", "smoke")

    from energy_batch import champion as champion_mod
    from energy_batch import console_scripts as console
    from energy_batch import model_input as model_input_mod
    from energy_batch import pipeline as batch_pipeline
    from energy_batch.settings import BatchSettings
    from energy_core.feature_store import open_feature_store
    from energy_core.registry import open_registry
    from energy_core.settings import AlertSettings

    settings = BatchSettings()

    store, registry = open_feature_store(), open_registry()
    start = time.perf_counter()
    champion = champion_mod.load_champion(registry)
    load_s = time.perf_counter() - start
    frame = model_input_mod.build_model_input(store, TRAIN_AS_OF, settings.history_hours, settings.horizon_hours)

    predict_s = median_seconds(lambda: batch_pipeline.predict(store, champion, TRAIN_AS_OF, settings), repeats)
    model_only_s = median_seconds(lambda: champion.model.predict(frame), repeats)

    hour_times = []
    alerts = AlertSettings()
    for k in range(hours):
        hour = first_simulated + pd.Timedelta(hours=k)
        t0 = time.perf_counter()
        console.ingest_hour(hour)
        batch_pipeline.predict(store, champion, hour, settings)
        batch_pipeline.monitor(store, champion.info, hour, settings, alerts)
        hour_times.append(time.perf_counter() - t0)

    print(f"champion: {champion.label}, {frame[['area', 'consumer_type']].drop_duplicates().shape[0]} series")
    print(f"load champion (once)                       : {load_s:.3f} s")
    print(f"predict all series × 24 h after load       : median {predict_s:.3f} s over {repeats}")
    print(f"  of which the champion's predict alone    : median {model_only_s:.3f} s over {repeats}")
    print(f"one simulated hour (ingest+predict+monitor): median {statistics.median(hour_times):.3f} s over "
          f"{len(hour_times)} hours")


if __name__ == "__main__":
    main()
