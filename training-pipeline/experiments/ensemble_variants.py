"""Round 3 of the accuracy experiments: variants of `lightgbm_ensemble` and blends with it.

Every row is scored on the scorecard protocol's 7 backtest origins *and* on the 3 tuning origins
before them (the only ones a choice may honestly be made on), each model fitted once before its
protocol's first origin, seed 42, through the project's own `backtest_model` and `score`:

- member variants: LightGBM parameters, the Christmas-window weight, a recency weight (half-life
  in days), and the series' identity as two numeric features (area 1/2, consumer type code);
- blends `w · ensemble + (1 − w) · other` for the other candidates, w picked on the tuning origins.

The recency weight and the identity features exist only here: they are hooked into the training
code for the run (`_recency_weights`, `_with_identity`), because neither won (docs/experiments.md,
round 3), so the served model does not carry them.

    ENERGY_HOME=<a home backfilled through 2023-01-24T23:00Z> \\
        python training-pipeline/experiments/ensemble_variants.py --as-of 2023-01-24T22:00Z

It creates a training dataset (as `training-pipeline run` does) and registers nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from origins import scorecard_setup

from energy_training import forecaster_model as served
from energy_training.backtest import backtest_model
from energy_training.config import ModelConfig, load_profile
from energy_training.metrics import score, wape
from energy_training.models import lightgbm as lgbm
from energy_training.protocol import Protocol

VARIANTS: list[dict[str, Any]] = [
    {},
    {"christmas_window_weight": 0.2},
    {"half_life_days": 14},
    {"half_life_days": 7},
    {"half_life_days": 3.5},
    {"params": {"n_estimators": 600, "learning_rate": 0.025}},
    {"params": {"num_leaves": 63}},
    {"params": {"num_leaves": 15}},
    {"params": {"colsample_bytree": 0.5}},
    {"identity": ["area_code", "consumer_type_code"]},
    {"identity": ["consumer_type_code"]},
]
BLENDED = ["seasonal_naive_24", "seasonal_naive_168", "nhits", "lightgbm_recursive_log"]
IDENTITY = ("area_code", "consumer_type_code")
_KEY = ["area", "consumer_type", "origin", "datetime_utc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--no-blends", action="store_true")
    args = parser.parse_args()

    protocols, frame = scorecard_setup(args.as_of)
    profile = load_profile("full")
    ensemble = profile.model("lightgbm_ensemble")

    print("| ensemble variant (every member) | tuning WAPE | backtest WAPE | backtest coverage |")
    print("|---|---|---|---|")
    for variant in VARIANTS:
        spec = dict(variant)
        half_life, identity = spec.pop("half_life_days", None), tuple(spec.pop("identity", ()))
        cfg = replace(ensemble, members=tuple(_member(m, spec, identity) for m in ensemble.members),
                      exog=tuple(ensemble.exog) + identity)  # fmt: skip
        with _hooked(half_life, identity):
            metrics = {name: score(backtest_model(cfg, frame, p, 42)) for name, p in protocols.items()}
        label = json.dumps(variant) if variant else "as configured"
        tuned, scored = metrics["tuning"], metrics["backtest"]
        print(f"| {label} | {tuned['wape']:.4f} | {scored['wape']:.4f} | {scored['coverage_80']:.3f} |", flush=True)
    if not args.no_blends:
        blends(profile.model, frame, protocols)


def _member(member: ModelConfig, spec: dict[str, Any], identity: tuple[str, ...]) -> ModelConfig:
    params = {**member.params, **spec.get("params", {})}
    others = {k: v for k, v in spec.items() if k != "params"}
    return replace(member, params=params, exog=tuple(member.exog) + identity, **others)


@contextlib.contextmanager
def _hooked(half_life_days: float | None, identity: tuple[str, ...]) -> Iterator[None]:
    """Install the experiment-only training hooks for one variant, and remove them after."""
    saved = (lgbm.sample_weights, served.to_model_frame, lgbm.to_model_frame)
    if half_life_days is not None:
        lgbm.sample_weights = _recency_weights(saved[0], half_life_days)
    if identity:
        served.to_model_frame = lgbm.to_model_frame = _with_identity(saved[1])
    try:
        yield
    finally:
        lgbm.sample_weights, served.to_model_frame, lgbm.to_model_frame = saved


def _recency_weights(base: Callable[..., pd.Series | None], half_life_days: float) -> Callable[..., pd.Series]:
    """Training rows weighted 0.5 ** (age / half-life), age in days before the newest row."""

    def weights(cfg: ModelConfig, data: pd.DataFrame) -> pd.Series:
        age = (data["ds"].max() - data["ds"]).dt.total_seconds() / 86400.0
        recency = pd.Series(0.5 ** (age / half_life_days), index=data.index)
        other = base(cfg, data)
        return recency if other is None else recency * other

    return weights


def _with_identity(base: Callable[[pd.DataFrame, list[str]], pd.DataFrame]) -> Callable[..., pd.DataFrame]:
    """The model frame plus the series' area (DK1 = 1, DK2 = 2) and consumer type as numbers."""

    def to_model_frame(frame: pd.DataFrame, exog: list[str]) -> pd.DataFrame:
        out = base(frame, [c for c in exog if c not in IDENTITY])
        area, consumer = out["unique_id"].str.split("|", n=1, expand=True).T.to_numpy()
        codes = {
            "area_code": pd.Series(area).map({"DK1": 1.0, "DK2": 2.0}).to_numpy(dtype="float64"),
            "consumer_type_code": pd.to_numeric(pd.Series(consumer), errors="coerce").to_numpy(dtype="float64"),
        }
        for name in (c for c in exog if c in IDENTITY):
            out[name] = codes[name]
        return out[["unique_id", "ds", "y", *exog]]

    return to_model_frame


def blends(model: Callable[[str], ModelConfig], frame: pd.DataFrame, protocols: dict[str, Protocol]) -> None:
    """`w · ensemble + (1 − w) · other`, w in 0.50 … 1.00, picked on the tuning origins."""
    names = ["lightgbm_ensemble", *BLENDED]
    forecasts: dict[str, pd.DataFrame] = {}
    for label, protocol in protocols.items():
        parts = []
        for name in names:
            rows = backtest_model(model(name), frame, protocol, 42)
            rows = rows[rows["actual_kwh"].notna()].set_index(_KEY)
            parts.append(rows[["prediction_kwh"]].rename(columns={"prediction_kwh": name}))
        forecasts[label] = pd.concat(parts, axis=1).assign(actual=rows["actual_kwh"])
    print("\n| blended with | w picked on tuning | tuning WAPE | backtest WAPE | best backtest w (hindsight) |")
    print("|---|---|---|---|---|")
    for other in BLENDED:
        scores = []
        for w in np.round(np.arange(0.5, 1.001, 0.05), 2):
            by = {label: wape(f["actual"].to_numpy(), (w * f["lightgbm_ensemble"] + (1 - w) * f[other]).to_numpy())
                  for label, f in forecasts.items()}  # fmt: skip
            scores.append((w, by["tuning"], by["backtest"]))
        pick, hindsight = min(scores, key=lambda s: s[1]), min(scores, key=lambda s: s[2])
        print(f"| {other} | {pick[0]:.2f} | {pick[1]:.4f} | {pick[2]:.4f} | {hindsight[0]:.2f}: {hindsight[2]:.4f} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
