"""Does the champion's own recent error say where its next day goes? A residual correction, measured.

The big wind-driven leaves (docs/experiments.md, round 2) are over-forecast for days on end in the
calm backtest week: the error persists. At an origin o the fitted model's forecasts made at
o − 24 h, o − 48 h and o − 72 h are knowable with all their actuals (every hour they cover is <= o),
so the model's recent error can be carried into its next 24 hours. Per series and origin, with h
the horizon step and the errors taken from the forecast made k days before:

    ratio:        f' = f · (1 + α · d^(h−1) · (clip(r, 0.5, 2) − 1)),  r = Σ actual / Σ forecast, k = 1
    mean error:   f' = f + α · d^(h−1) · mean(actual − forecast),              k = 1
    same hour:    f' = f + α · mean over k of (actual − forecast) at the same hour k days before
    daily mean:   f' = f + α · mean over k of mean(actual − forecast) of that day

α (and the decay d) are picked on the 3 tuning origins; the backtest (the scorecard's 7 origins,
fit once, seed 42) reports that pick and, as hindsight only, the best setting.

    ENERGY_HOME=<a home backfilled through 2023-01-24T23:00Z> \\
        python training-pipeline/experiments/bias_correction.py --as-of 2023-01-24T22:00Z

It creates a training dataset (as `training-pipeline run` does) and registers nothing.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
from origins import scorecard_setup

from energy_training.backtest import fit_for_backtest, score_predictor
from energy_training.config import load_profile
from energy_training.forecaster_model import forecast, forecast_origins
from energy_training.metrics import wape
from energy_training.protocol import Protocol

TIME, KEYS = "datetime_utc", ["area", "consumer_type"]
DAY = pd.Timedelta(hours=24)
DAYS_BACK = (1, 2, 3)
ALPHAS = np.round(np.arange(0.0, 1.01, 0.1), 1)
DECAYS = (1.0, 0.97, 0.93, 0.9, 0.8)


def with_earlier_errors(cfg_name: str, frame: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """The protocol's forecasts; each row also holds `err{k}`, the error of the forecast made k days
    before its origin at the same hour k days earlier, and `day{k}`, that forecast's mean error over
    its 24 hours (per series and origin), for k in DAYS_BACK."""
    cfg = load_profile("full").model(cfg_name)
    fitted = fit_for_backtest(cfg, frame, protocol, 42)

    def run(p: Protocol) -> pd.DataFrame:
        return score_predictor(partial(forecast, fitted), frame, p, cfg.name, partial(forecast_origins, fitted))

    rows = run(protocol)
    for k in DAYS_BACK:
        back = run(Protocol(protocol.as_of, tuple(o - k * DAY for o in protocol.origins), protocol.horizon_hours))
        back = back.assign(origin=back["origin"] + k * DAY, **{TIME: back[TIME] + k * DAY})
        back[f"err{k}"] = back["actual_kwh"] - back["prediction_kwh"]
        back[f"day{k}"] = back.groupby([*KEYS, "origin"])[f"err{k}"].transform("mean")
        back[f"ratio{k}"] = back.groupby([*KEYS, "origin"])["actual_kwh"].transform("sum") / back.groupby(
            [*KEYS, "origin"]
        )["prediction_kwh"].transform("sum")
        rows = rows.merge(back[[*KEYS, "origin", TIME, f"err{k}", f"day{k}", f"ratio{k}"]], on=[*KEYS, "origin", TIME],
                          how="left")  # fmt: skip
    rows["h"] = ((rows[TIME] - rows["origin"]) / pd.Timedelta(hours=1)).astype(int)
    return rows.dropna(subset=["actual_kwh"])


def where_the_error_is(rows: pd.DataFrame) -> None:
    """The backtest error split into each series' daily level (its mean error over an origin's 24
    hours) and the shape around it, the series that carry it, and WAPE per origin."""
    error = rows["prediction_kwh"] - rows["actual_kwh"]
    kwh = rows["actual_kwh"].sum()
    level = error.groupby([rows[k] for k in [*KEYS, "origin"]]).transform("mean")
    print(f"level part {level.abs().sum() / kwh:.4f}, shape part {(error - level).abs().sum() / kwh:.4f}")
    by = rows.assign(abs_error=error.abs(), error=error).groupby(KEYS)[["abs_error", "error", "actual_kwh"]].sum()
    by = by.sort_values("abs_error", ascending=False).head(5)
    for (area, ctype), r in by.iterrows():
        print(f"  {area} {ctype}: {r['abs_error'] / error.abs().sum():.0%} of the error, WAPE "
              f"{r['abs_error'] / r['actual_kwh']:.3f}, bias {r['error'] / r['actual_kwh']:+.1%}")  # fmt: skip
    for origin, part in rows.groupby("origin"):
        print(f"  origin {origin:%Y-%m-%d %H:%M}: WAPE {wape(part['actual_kwh'], part['prediction_kwh']):.4f}")


Correction = Callable[[pd.DataFrame, float, float], np.ndarray]


def ratio(rows: pd.DataFrame, alpha: float, decay: float) -> np.ndarray:
    r = np.clip(rows["ratio1"], 0.5, 2.0).fillna(1.0).to_numpy()
    return rows["prediction_kwh"].to_numpy() * (1 + alpha * decay ** (rows["h"].to_numpy() - 1) * (r - 1))


def mean_error(rows: pd.DataFrame, alpha: float, decay: float) -> np.ndarray:
    shift = alpha * decay ** (rows["h"].to_numpy() - 1) * rows["day1"].fillna(0.0).to_numpy()
    return rows["prediction_kwh"].to_numpy() + shift


def averaged(column: str, days: int) -> Correction:
    def correct(rows: pd.DataFrame, alpha: float, _decay: float) -> np.ndarray:
        errors = np.column_stack([rows[f"{column}{k}"].to_numpy() for k in range(1, days + 1)])
        with np.errstate(all="ignore"):
            mean = np.nan_to_num(np.nanmean(errors, axis=1))
        return rows["prediction_kwh"].to_numpy() + alpha * mean

    return correct


VARIANTS: dict[str, tuple[Correction, tuple[float, ...]]] = {
    "x (1 + a*d^(h-1)*(r - 1)), r of the day before": (ratio, DECAYS),
    "+ a*d^(h-1) * mean error of the day before": (mean_error, DECAYS),
    **{f"+ a * error at the same hour, {k} day(s) before (mean)": (averaged("err", k), (1.0,)) for k in DAYS_BACK},
    **{f"+ a * mean error of the day, {k} day(s) before (mean)": (averaged("day", k), (1.0,)) for k in DAYS_BACK},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--model", default="lightgbm_ensemble")
    args = parser.parse_args()

    protocols, frame = scorecard_setup(args.as_of)
    data = {label: with_earlier_errors(args.model, frame, p) for label, p in protocols.items()}
    for label, rows in data.items():
        print(f"{label}: uncorrected WAPE {wape(rows['actual_kwh'], rows['prediction_kwh']):.4f}", flush=True)
    where_the_error_is(data["backtest"])

    print("\n| correction | (α, d) picked on tuning | tuning WAPE | backtest WAPE | best (α, d) with hindsight |")
    print("|---|---|---|---|---|")
    for name, (correct, decays) in VARIANTS.items():
        scores = []
        for alpha, decay in itertools.product(ALPHAS, decays):
            by = {label: wape(rows["actual_kwh"].to_numpy(), correct(rows, alpha, decay))
                  for label, rows in data.items()}  # fmt: skip
            scores.append((alpha, decay, by["tuning"], by["backtest"]))
        pick, best = min(scores, key=lambda s: s[2]), min(scores, key=lambda s: s[3])
        hindsight = f"({best[0]:.1f}, {best[1]}): {best[3]:.4f}"
        print(f"| {name} | ({pick[0]:.1f}, {pick[1]}) | {pick[2]:.4f} | {pick[3]:.4f} | {hindsight} |")


if __name__ == "__main__":
    main()
