"""Issue 13's "horizon-aware direct models for the first hours", measured against the champion.

A direct LightGBM (mlforecast `max_horizon`: one model per horizon step, each fed only what is
known at the origin, so no step feeds on a prediction) with the recursive models' full feature set
(lags from 1 h, the recent profile, calendar), next to `lightgbm_ensemble`. Scored on the 3 tuning
origins and the 7 backtest origins of the scorecard protocol, each model fitted once before its
protocol's first origin, seed 42, through the project's own `backtest_model`:

- WAPE per horizon step for both models;
- hybrids: the direct forecast for steps 1..k (or the mean of both there), the ensemble after;
  k is picked on the tuning origins, and the backtest reports that pick and, as hindsight only,
  the best k there.

    ENERGY_HOME=<a home backfilled through 2023-01-24T23:00Z> \\
        python training-pipeline/experiments/direct_first_hours.py --as-of 2023-01-24T22:00Z

It creates a training dataset (as `training-pipeline run` does) and registers nothing.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import pandas as pd
from origins import scorecard_setup

from energy_training.backtest import backtest_model
from energy_training.config import load_profile
from energy_training.metrics import wape

_KEY = ["area", "consumer_type", "origin", "datetime_utc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--trees", type=int, default=300, help="trees per horizon model")
    args = parser.parse_args()

    protocols, frame = scorecard_setup(args.as_of)
    profile = load_profile("full")
    recursive = profile.model("lightgbm_recursive")
    direct = replace(recursive, name="lightgbm_direct_full", strategy="direct",
                     params={**recursive.params, "n_estimators": args.trees})  # fmt: skip
    models = {"ensemble": profile.model("lightgbm_ensemble"), "direct": direct}

    forecasts: dict[str, pd.DataFrame] = {}
    for label, protocol in protocols.items():
        parts = []
        for name, cfg in models.items():
            rows = backtest_model(cfg, frame, protocol, 42)
            rows = rows[rows["actual_kwh"].notna()].set_index(_KEY)
            parts.append(rows[["prediction_kwh"]].rename(columns={"prediction_kwh": name}))
        f = pd.concat(parts, axis=1).assign(actual=rows["actual_kwh"]).reset_index()
        f["step"] = ((f["datetime_utc"] - f["origin"]) / pd.Timedelta(hours=1)).astype(int)
        forecasts[label] = f
        print(f"{label}: ensemble {wape(f['actual'], f['ensemble']):.4f}, direct {wape(f['actual'], f['direct']):.4f}",
              flush=True)  # fmt: skip

    print("\n| step | " + " | ".join(str(s) for s in range(1, 25)) + " |")
    print("|---|" + "---|" * 24)
    for label, f in forecasts.items():
        for name in models:
            by_step = f.groupby("step")[["actual", name]].apply(lambda g, n=name: wape(g["actual"], g[n]))
            print(f"| {label} {name} | " + " | ".join(f"{v:.3f}" for v in by_step) + " |")

    print("\n| hybrid | k picked on tuning | tuning WAPE | backtest WAPE | best backtest k (hindsight) |")
    print("|---|---|---|---|---|")
    for kind in ("direct", "mean"):
        scores = []
        for k in range(0, 25):
            by = {}
            for label, f in forecasts.items():
                first = f["step"] <= k
                early = f["direct"] if kind == "direct" else (f["direct"] + f["ensemble"]) / 2
                by[label] = wape(f["actual"].to_numpy(), np.where(first, early, f["ensemble"]))
            scores.append((k, by["tuning"], by["backtest"]))
        pick, hindsight = min(scores, key=lambda s: s[1]), min(scores, key=lambda s: s[2])
        row = [
            f"{kind} for steps 1..k",
            str(pick[0]),
            f"{pick[1]:.4f}",
            f"{pick[2]:.4f}",
            f"{hindsight[0]}: {hindsight[2]:.4f}",
        ]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
