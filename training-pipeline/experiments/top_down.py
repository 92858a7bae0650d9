"""Does a model of the price-area totals improve the leaves? A top-down reconciliation, measured.

The 76 leaves sum to two price-area totals, and on the totals a change model
(`lightgbm_recursive_log`) beats seasonal naive (docs/experiments.md, robustness). If the totals
model knows the area's level better than the sum of the leaf forecasts does, scaling each area's
leaf forecasts toward it should help the big, wind-driven leaves. Per area, origin and target hour:

    leaf' = leaf · ((1 − w) · S + w · T) / S,   S = Σ leaf forecasts of the area, T = the totals forecast

w in 0 … 1 is picked on the 3 tuning origins; the backtest (the scorecard's 7 origins, fit once,
seed 42, the project's own `backtest_model`) reports that pick and, as hindsight only, the best w.
The totals are summed from the same training dataset's leaves (hours where every leaf of the area
has a label), so both models see the same hours.

    ENERGY_HOME=<a home backfilled through 2023-01-24T23:00Z> \\
        python training-pipeline/experiments/top_down.py --as-of 2023-01-24T22:00Z

It creates a training dataset (as `training-pipeline run` does) and registers nothing.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from origins import scorecard_setup

from energy_training.backtest import backtest_model
from energy_training.config import load_profile
from energy_training.metrics import wape

LABEL, TIME = "energy_consumption_kwh", "datetime_utc"
TOTALS_MODELS = ["lightgbm_recursive_log", "lightgbm_recursive_diff", "seasonal_naive_24"]
_AT = ["area", "origin", TIME]


def area_totals(frame: pd.DataFrame) -> pd.DataFrame:
    """One series per price area: the leaves' sum where every leaf has a label, else null."""
    leaves = frame.groupby("area")["consumer_type"].nunique()
    grouped = frame.groupby(["area", TIME], sort=True)
    out = grouped.first().drop(columns=["consumer_type", LABEL])
    labelled = grouped[LABEL].agg(["sum", "count"])
    complete = labelled["count"].to_numpy() == labelled.index.get_level_values("area").map(leaves).to_numpy()
    out[LABEL] = np.where(complete, labelled["sum"], np.nan)
    return out.reset_index().assign(consumer_type="all")[frame.columns]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", required=True)
    args = parser.parse_args()

    protocols, frame = scorecard_setup(args.as_of)
    totals = area_totals(frame)
    profile = load_profile("full")

    leaves, tops = {}, {}
    for label, protocol in protocols.items():
        rows = backtest_model(profile.model("lightgbm_ensemble"), frame, protocol, 42)
        up = rows.groupby(_AT)["prediction_kwh"].sum().rename("bottom_up")
        leaves[label] = rows = rows.join(up, on=_AT)
        top = None
        for name in TOTALS_MODELS:
            t = backtest_model(profile.model(name), totals, protocol, 42).set_index(_AT)
            top = t[["actual_kwh"]] if top is None else top
            top = top.assign(**{name: t["prediction_kwh"]})
        assert top is not None
        tops[label] = top.join(up).dropna()
        scored = tops[label]
        line = ", ".join(f"{c} {wape(scored['actual_kwh'], scored[c]):.4f}" for c in ["bottom_up", *TOTALS_MODELS])
        print(f"{label} totals WAPE: {line}", flush=True)

    print("\n| totals model | w picked on tuning | tuning leaf WAPE | backtest leaf WAPE | best w (hindsight) |")
    print("|---|---|---|---|---|")
    for name in TOTALS_MODELS:
        scores = []
        for w in np.round(np.arange(0.0, 1.001, 0.1), 1):
            by = {}
            for label, rows in leaves.items():
                top = rows.join(tops[label][name], on=_AT)[name].to_numpy()
                adjusted = rows["prediction_kwh"] * ((1 - w) * rows["bottom_up"] + w * top) / rows["bottom_up"]
                keep = rows["actual_kwh"].notna().to_numpy() & np.isfinite(top)
                by[label] = wape(rows["actual_kwh"].to_numpy()[keep], adjusted.to_numpy()[keep])
            scores.append((w, by["tuning"], by["backtest"]))
        pick, hindsight = min(scores, key=lambda s: s[1]), min(scores, key=lambda s: s[2])
        print(f"| {name} | {pick[0]:.1f} | {pick[1]:.4f} | {pick[2]:.4f} | {hindsight[0]:.1f}: {hindsight[2]:.4f} |")
    print(f"(w = 0, the leaves unchanged: tuning {scores[0][1]:.4f}, backtest {scores[0][2]:.4f})")


if __name__ == "__main__":
    main()
