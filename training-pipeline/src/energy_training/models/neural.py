"""NHITS with neuralforecast on torch: CPU here, the CUDA GPU on the training host, automatically.

Quantiles come from a multi-quantile loss (10 / 50 / 90 %); the median is the point forecast.
Missing exogenous values (e.g. no weather station) are filled with 0 by `forecaster_model`,
because neural models cannot take NaN inputs.
"""

from __future__ import annotations

import logging
import os
import warnings

import pandas as pd

from energy_training.config import ModelConfig
from energy_training.forecaster_model import FittedForecaster, regular_history, to_model_frame

ALIAS = "NHITS"


def _quiet() -> None:
    """Lightning prints banners and tips on every fit; the run log should carry our lines only."""
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning.*")
    warnings.filterwarnings("ignore", module="pytorch_lightning.*")
    os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")


def fit_neural(cfg: ModelConfig, frame: pd.DataFrame, horizon: int, seed: int, threads: int) -> FittedForecaster:
    import torch
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MQLoss
    from neuralforecast.models import NHITS

    _quiet()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    exog = list(cfg.exog)
    data = regular_history(to_model_frame(frame[frame["energy_consumption_kwh"].notna()], exog))
    data[exog] = data[exog].fillna(0.0)
    model = NHITS(
        h=horizon,
        loss=MQLoss(quantiles=[0.1, 0.5, 0.9]),
        futr_exog_list=exog or None,
        random_seed=seed,
        alias=ALIAS,
        accelerator="auto",
        devices=1,
        deterministic="warn",
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=False,
        **cfg.params,
    )
    nf = NeuralForecast(models=[model], freq="h")
    nf.fit(df=data)
    return FittedForecaster(
        family=cfg.family,
        exog=exog,
        horizon=horizon,
        model=nf,
        extra={"engine": "neuralforecast", "alias": ALIAS, "config": cfg.name},
    )
