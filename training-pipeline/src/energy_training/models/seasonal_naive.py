"""Seasonal naive baselines (the value 24 h or 168 h earlier): nothing to fit, but a real model.

They are `FittedForecaster`s like the others so the backtest, the registry and the promotion
gate treat baselines and learned models the same way.
"""

from __future__ import annotations

from energy_training.config import ModelConfig
from energy_training.forecaster_model import FittedForecaster


def fit_seasonal_naive(cfg: ModelConfig, horizon: int) -> FittedForecaster:
    season = int(cfg.family.removeprefix("seasonal_naive_"))
    if season <= 0:
        raise ValueError(f"model {cfg.name!r}: seasonal naive needs a positive season, got {season}")
    return FittedForecaster(family=cfg.family, exog=[], horizon=horizon, extra={"engine": "seasonal_naive"})
