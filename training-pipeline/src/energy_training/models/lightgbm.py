"""Global LightGBM with mlforecast: one model for all series, per-series target scaling.

Three LightGBM regressors share the features: the point forecast (L2) and the 10 % / 90 %
quantiles (quantile objective). Recursive uses short lags fed by its own predictions; direct fits
one model per horizon step and only uses lags >= the step, so it never feeds on predictions.
Determinism: `deterministic=True`, fixed threads and seed, so a rerun reproduces the metrics.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from energy_training.config import ModelConfig
from energy_training.forecaster_model import FittedForecaster, regular_history, to_model_frame

QUANTILE_MODELS = {"q10": 0.1, "q90": 0.9}


def lag_transforms(spec: dict[int, tuple[str, ...]]) -> dict[int, list[Any]]:
    """`{24: ("rolling_mean_24", "rolling_std_24", "expanding_mean")}` → mlforecast transforms."""
    from mlforecast.lag_transforms import ExpandingMean, RollingMax, RollingMean, RollingMin, RollingStd

    rolling = {
        "rolling_mean": RollingMean,
        "rolling_std": RollingStd,
        "rolling_min": RollingMin,
        "rolling_max": RollingMax,
    }
    out: dict[int, list[Any]] = {}
    for lag, names in spec.items():
        out[lag] = []
        for name in names:
            if name == "expanding_mean":
                out[lag].append(ExpandingMean())
                continue
            kind, _, window = name.rpartition("_")
            if kind not in rolling or not window.isdigit():
                raise ValueError(f"unknown lag transform {name!r}; expected e.g. rolling_mean_24, expanding_mean")
            out[lag].append(rolling[kind](window_size=int(window)))
    return out


def fit_lightgbm(cfg: ModelConfig, frame: pd.DataFrame, horizon: int, seed: int, threads: int) -> FittedForecaster:
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.target_transforms import LocalStandardScaler

    base: dict[str, Any] = {
        "deterministic": True,
        "force_row_wise": True,
        "seed": seed,
        "n_jobs": threads,
        "verbose": -1,
        **cfg.params,
    }
    models = {"point": lgb.LGBMRegressor(objective="regression", **base)}
    for name, alpha in QUANTILE_MODELS.items():
        models[name] = lgb.LGBMRegressor(objective="quantile", alpha=alpha, **base)
    mlf = MLForecast(
        models=models,
        freq="h",
        lags=list(cfg.lags),
        lag_transforms=lag_transforms(cfg.lag_transforms),
        target_transforms=[LocalStandardScaler()],
        num_threads=threads,
    )
    data = regular_history(to_model_frame(frame[frame["energy_consumption_kwh"].notna()], list(cfg.exog)))
    # mlforecast's dropna removes every row with any null, missing weather included (all of DK1
    # offline). Then keep the rows and let LightGBM treat nulls as missing; only the warm-up rows
    # (lags not yet available) are dropped when nothing else is null.
    exog_complete = not data[list(cfg.exog)].isna().any().any() if cfg.exog else True
    mlf.fit(
        data,
        static_features=[],
        dropna=exog_complete,
        max_horizon=horizon if cfg.strategy == "direct" else None,
    )
    _single_threaded_prediction(mlf)
    return FittedForecaster(
        family="lightgbm",
        exog=list(cfg.exog),
        horizon=horizon,
        model=mlf,
        extra={"engine": "mlforecast", "strategy": cfg.strategy, "config": cfg.name},
    )


def _single_threaded_prediction(mlf: Any) -> None:
    """Serve with one thread: a recursive step predicts one row per series (76 rows), where
    thread start-up and OpenMP spinning cost far more than they save, badly so on a busy host."""
    mlf.ts.num_threads = 1
    for model in estimators(mlf.models_):
        model.set_params(n_jobs=1)


def estimators(fitted: Any) -> list[Any]:
    """Every fitted LightGBM model inside mlforecast's `models_` (a dict of models for recursive,
    nested per-horizon lists/dicts for direct)."""
    if isinstance(fitted, dict):
        return [m for v in fitted.values() for m in estimators(v)]
    if isinstance(fitted, list | tuple):
        return [m for v in fitted for m in estimators(v)]
    return [fitted]
