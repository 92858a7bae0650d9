"""Staleness: what a model's age costs on the scorecard protocol, and what refitting costs.

The scorecard fits once before the first origin, so its last origins use a model six days old;
production retrains on a cadence. This scores one configured model on the same origins,
horizons and series with a refit every N origins (N = 7: fit once; N = 1: every origin, i.e.
daily with daily origins) and prints WAPE, 80 % coverage, the number of fits and fitting seconds
as a markdown table, from which the retraining cadence (RETRAIN_EVERY) is chosen.

    ENERGY_HOME=... python training-pipeline/experiments/staleness.py --as-of 2023-01-24T22:00Z \
        --profile full --model lightgbm_recursive --every 7 3 1

It reads the store's feature view through a new training dataset, exactly as `training-pipeline
run` does; it registers nothing.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from energy_core.feature_store import open_feature_store
from energy_core.settings import BacktestSettings, load
from energy_training import dataset
from energy_training.backtest import backtest_with_refits, known_until
from energy_training.config import load_profile
from energy_training.forecaster_model import FittedForecaster
from energy_training.metrics import score
from energy_training.models import fit_model
from energy_training.protocol import backtest_protocol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--profile", default="full")
    parser.add_argument("--model", default="lightgbm_recursive")
    parser.add_argument("--every", type=int, nargs="+", default=[7, 3, 1], help="refit every N origins")
    args = parser.parse_args()

    protocol = backtest_protocol(args.as_of, load(BacktestSettings))
    store = open_feature_store()
    frame = known_until(dataset.read(store, dataset.create(store, protocol).version).frame, protocol.as_of)
    cfg = load_profile(args.profile).model(args.model)
    print(f"| {cfg.name}: refit every | fits | WAPE | 80 % coverage | fitting s (all fits) |")
    print("|---|---|---|---|---|")
    n = len(protocol.origins)
    fitted_at = {every: [protocol.origins[i - i % every] for i in range(n)] for every in args.every}
    fits: dict[pd.Timestamp, FittedForecaster] = {}
    fit_seconds: dict[pd.Timestamp, float] = {}
    for origin in sorted({o for origins in fitted_at.values() for o in origins}):
        started = time.perf_counter()
        fits[origin] = fit_model(cfg, known_until(frame, origin), protocol.horizon_hours, 42)
        fit_seconds[origin] = time.perf_counter() - started
    for every in args.every:
        metrics = score(backtest_with_refits(cfg, frame, protocol, 42, every, fits))
        seconds = sum(fit_seconds[o] for o in set(fitted_at[every]))
        label = "fit once" if every >= n else f"every {every} origin(s) = {24 * every} h"
        used = len(set(fitted_at[every]))
        row = f"| {label} | {used} | {metrics['wape']:.4f} | {metrics['coverage_80']:.3f} | {seconds:.0f} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
