"""Benchmark: LightGBM training + full backtest, and the neural model, on the scorecard protocol.

Reads the snapshot through a feature store it fills in a temporary ENERGY_HOME (feature-pipeline
console script), then times, over several repetitions, what `training-pipeline run` does per
candidate: fit once up to the first origin + forecast at the 7 origins. Prints medians.

    .venv/bin/python bench/bench_training.py [--repeats 3] [--neural-repeats 1] [--models a,b]
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

os.environ.setdefault("GOMP_SPINCOUNT", "10000")  # as the training CLI (energy_training/cli.py)
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

REPO = Path(__file__).resolve().parents[1]
AS_OF = "2023-01-24T22:00Z"


def _fill_store(home: Path) -> None:
    env = {**os.environ, "ENERGY_HOME": str(home)}
    env.setdefault("ENERGY_SNAPSHOT_DIR", str(REPO.parent / "shared" / "data"))
    subprocess.run(
        [str(Path(sys.executable).parent / "feature-pipeline"), "backfill", "--start", "2022-12-21T16:00Z",
         "--end", "2023-01-24T23:00Z"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--neural-repeats", type=int, default=1)
    parser.add_argument("--profile", default="full")
    parser.add_argument("--models", default="lightgbm_recursive,nhits", help="comma-separated model names")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ENERGY_HOME"] = tmp
        _fill_store(Path(tmp))
        from energy_core.feature_store import open_feature_store
        from energy_core.schemas import ENERGY_FORECASTING_VIEW
        from energy_core.settings import BacktestSettings
        from energy_training.backtest import fit_for_backtest, score_predictor
        from energy_training.config import load_profile
        from energy_training.forecaster_model import forecast
        from energy_training.metrics import score
        from energy_training.protocol import backtest_protocol

        store = open_feature_store()
        meta = store.create_training_dataset(ENERGY_FORECASTING_VIEW)
        frame = store.read_training_dataset(ENERGY_FORECASTING_VIEW, meta.version).all
        protocol = backtest_protocol(AS_OF, BacktestSettings())
        profile = load_profile(args.profile)
        try:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            device = "n/a"
        print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, torch device {device}")
        for cfg in profile.models:
            if cfg.name not in args.models.split(","):
                continue
            repeats = args.neural_repeats if cfg.family == "nhits" else args.repeats
            fit_s, predict_s, wall_s, cpu_s = [], [], [], []
            wape = float("nan")
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                fitted = fit_for_backtest(cfg, frame, protocol, seed=42)
                t1 = time.perf_counter()
                pred = score_predictor(lambda f, fitted=fitted: forecast(fitted, f), frame, protocol, cfg.name)
                t2, c2 = time.perf_counter(), time.process_time()
                fit_s.append(t1 - t0)
                predict_s.append(t2 - t1)
                wall_s.append(t2 - t0)
                cpu_s.append(c2 - c0)
                wape = score(pred)["wape"]
            print(
                f"{cfg.name:22s} repeats={repeats} median wall {statistics.median(wall_s):6.1f} s "
                f"(fit {statistics.median(fit_s):5.1f} s, 7-origin predict {statistics.median(predict_s):5.1f} s), "
                f"median process CPU {statistics.median(cpu_s):6.1f} s, WAPE {wape:.4f}"
            )


if __name__ == "__main__":
    main()
