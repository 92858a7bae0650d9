"""Fitting one candidate model: dispatch on the configured family.

Each family module turns feature-view rows (labelled history up to a cutoff) into a
`FittedForecaster` that `forecaster_model.forecast` can predict with; nothing here predicts.
"""

from __future__ import annotations

import pandas as pd

from energy_training.config import FAMILIES_LIGHTGBM, FAMILIES_NEURAL, ModelConfig
from energy_training.forecaster_model import FittedForecaster
from energy_training.models.neural import fit_neural
from energy_training.models.seasonal_naive import fit_seasonal_naive

__all__ = ["default_threads", "fit_model"]


def default_threads() -> int:
    """CPU threads of a fit when the caller names none: ENERGY_TRAINING_THREADS (default 2)."""
    from energy_core.settings import TrainingEngineSettings, load

    return load(TrainingEngineSettings).threads


def fit_model(
    cfg: ModelConfig, frame: pd.DataFrame, horizon: int, seed: int, threads: int | None = None
) -> FittedForecaster:
    """Fit `cfg` on every labelled row of `frame` (the caller decides the cutoff) on `threads` CPU
    threads (None: `default_threads()`)."""
    threads = default_threads() if threads is None else threads
    if cfg.family.startswith("seasonal_naive_"):
        return fit_seasonal_naive(cfg, horizon)
    if cfg.family == FAMILIES_LIGHTGBM:
        # ENERGY_TRAINING_ENGINE picks where LightGBM trains (local or Dask); see distributed.py.
        from energy_training.distributed import fit_lightgbm_on_engine

        return fit_lightgbm_on_engine(cfg, frame, horizon, seed, threads)
    if cfg.family in FAMILIES_NEURAL:
        return fit_neural(cfg, frame, horizon, seed, threads)
    raise ValueError(f"model {cfg.name!r}: no fitter for family {cfg.family!r}")
