"""Global LightGBM with mlforecast: one model for all series, per-series target scaling.

Three LightGBM regressors share the features: the point forecast (L2) and the 10 % / 90 %
quantiles (quantile objective). Recursive uses short lags fed by its own predictions; direct fits
one model per horizon step and only uses lags >= the step, so it never feeds on predictions.
Determinism: `deterministic=True`, fixed threads and seed, so a rerun reproduces the metrics.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from energy_training.config import ModelConfig
from energy_training.forecaster_model import (
    CHRISTMAS_WINDOW,
    CONFORMAL_KEY,
    MEMBERS_KEY,
    FittedForecaster,
    derived_feature,
    mean_point,
    recent_scale,
    regular_history,
    stack_origins,
    to_model_frame,
)

QUANTILE_MODELS = {"q10": 0.1, "q90": 0.9}
WEIGHT_COLUMN = "sample_weight"


def lag_transforms(spec: dict[int, tuple[str, ...]]) -> dict[int, list[Any]]:
    """`{24: ("rolling_mean_24", "seasonal_mean_24x7"), 1: ("ewm_0.1",)}` → mlforecast transforms.

    `seasonal_mean_<season>x<window>`: the mean of the same hour over the last `window` seasons
    (the series' recent daily profile); `ewm_<alpha>`: an exponentially weighted mean (its level).
    """
    from mlforecast.lag_transforms import (
        ExpandingMean,
        ExponentiallyWeightedMean,
        RollingMax,
        RollingMean,
        RollingMin,
        RollingStd,
        SeasonalRollingMean,
    )

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
            kind, _, arg = name.rpartition("_")
            if name == "expanding_mean":
                out[lag].append(ExpandingMean())
            elif kind == "ewm" and _is_fraction(arg):
                out[lag].append(ExponentiallyWeightedMean(alpha=float(arg)))
            elif kind == "seasonal_mean" and (seasonal := re.fullmatch(r"([1-9]\d*)x([1-9]\d*)", arg)):
                season, window = int(seasonal[1]), int(seasonal[2])
                out[lag].append(SeasonalRollingMean(season_length=season, window_size=window))
            elif kind in rolling and arg.isdigit():
                out[lag].append(rolling[kind](window_size=int(arg)))
            else:
                raise ValueError(
                    f"unknown lag transform {name!r}; expected e.g. rolling_mean_24, expanding_mean, ewm_0.1, "
                    "seasonal_mean_24x7"
                )
    return out


def _is_fraction(text: str) -> bool:
    try:
        return 0.0 < float(text) < 1.0
    except ValueError:
        return False


def estimator_params(cfg: ModelConfig, seed: int, threads: int) -> dict[str, Any]:
    """Keyword arguments of every LightGBM regressor of `cfg` (shared with the Dask engine, so
    both engines fit the same model)."""
    return {
        "deterministic": True,
        "force_row_wise": True,
        "seed": seed,
        "n_jobs": threads,
        "verbose": -1,
        **cfg.params,
    }


def training_data(cfg: ModelConfig, frame: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Labelled rows as a gap-free model frame, and whether mlforecast may drop rows with nulls.

    mlforecast's dropna removes every row with any null, missing weather included (all of DK1
    offline). Then keep the rows and let LightGBM treat nulls as missing; only the warm-up rows
    (lags not yet available) are dropped when nothing else is null.
    """
    data = regular_history(to_model_frame(frame[frame["energy_consumption_kwh"].notna()], list(cfg.exog)))
    exog_complete = not data[list(cfg.exog)].isna().any().any() if cfg.exog else True
    return data, exog_complete


def target_transforms(names: tuple[str, ...]) -> list[Any]:
    """Config names → mlforecast target transforms, applied in order (inverted in reverse).

    `log` (log1p / expm1) makes the errors multiplicative, so a series twice the size does not
    dominate the splits twice as much; `diff_24` models the change from the same hour yesterday
    (seasonal naive is then the zero forecast); `standard` scales each series to mean 0, sd 1.
    """
    from mlforecast.target_transforms import Differences, GlobalSklearnTransformer, LocalStandardScaler
    from sklearn.preprocessing import FunctionTransformer

    out: list[Any] = []
    for name in names:
        if name == "log":
            out.append(GlobalSklearnTransformer(FunctionTransformer(func=np.log1p, inverse_func=np.expm1)))
        elif name == "diff_24":
            out.append(Differences([24]))
        elif name == "standard":
            out.append(LocalStandardScaler())
        else:
            raise ValueError(f"unknown target transform {name!r}; expected log, diff_24 or standard")
    return out


def sample_weights(cfg: ModelConfig, data: pd.DataFrame) -> pd.Series | None:
    """Per-row training weights, or None when every row counts the same.

    The Christmas window is a third of the snapshot's training data and unlike any hour the
    model will forecast in January; down-weighting keeps its lags in the features without
    letting its odd targets set the splits.
    """
    if cfg.christmas_window_weight >= 1.0:
        return None
    ds = data["ds"].dt.tz_localize("UTC")
    inside = derived_feature(CHRISTMAS_WINDOW, ds) > 0
    return pd.Series(np.where(inside, cfg.christmas_window_weight, 1.0), index=data.index)


def fit_lightgbm(cfg: ModelConfig, frame: pd.DataFrame, horizon: int, seed: int, threads: int) -> FittedForecaster:
    """One MLForecast, or for an ensemble (`cfg.members`) one per member in a list, whose point
    forecasts the served model averages (forecaster_model._mlforecast)."""
    extra: dict[str, Any] = {"engine": "mlforecast", "strategy": cfg.strategy, "config": cfg.name}
    data, exog_complete = training_data(cfg, frame)  # an ensemble's exog is its members' union
    if cfg.members:
        model: Any = [_fit_mlforecast(m, *member_data(m, data), horizon, seed, threads, quantiles=False)
                      for m in cfg.members]  # fmt: skip
        extra[MEMBERS_KEY] = [{"config": m.name, "exog": list(m.exog)} for m in cfg.members]
    else:
        quantiles = cfg.intervals == "quantile"
        model = _fit_mlforecast(cfg, data, exog_complete, horizon, seed, threads, quantiles=quantiles)
    if cfg.intervals == "conformal":
        extra[CONFORMAL_KEY] = conformal_quantiles(cfg, data, horizon, seed, threads)
    return FittedForecaster(family="lightgbm", exog=list(cfg.exog), horizon=horizon, model=model, extra=extra)


def member_data(member: ModelConfig, data: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """`training_data(member, frame)` taken from `data`, the model frame of a configuration whose
    exog includes the member's: the same rows in the same order, only the member's columns, so it
    is prepared once per fit instead of once per member and calibration model."""
    part = data[["unique_id", "ds", "y", *member.exog]]
    return part, not part[list(member.exog)].isna().any().any() if member.exog else True


def conformal_quantiles(
    cfg: ModelConfig, data: pd.DataFrame, horizon: int, seed: int, threads: int
) -> dict[str, list[float]]:
    """Per horizon step, the 10 % / 90 % quantiles of (actual - forecast) / series scale.

    `data` is `training_data(cfg, frame)`'s model frame. A point model (every member of an
    ensemble) fitted up to the first of `cfg.calibration_origins` daily origins before the end of
    the labelled data forecasts each of them (fit once, like the backtest, so the errors include
    the model's ageing); the errors are pooled over series and origins per horizon step.
    """
    end = data["ds"].max()
    origins = [end - pd.Timedelta(hours=24 * k) for k in range(cfg.calibration_origins, 0, -1)]
    members = cfg.members or (cfg,)
    min_rows = 24 * 7 + max((lag for m in members for lag in m.lags), default=0)
    first = data[data["ds"] <= origins[0]]
    if first.groupby("unique_id").size().min() < min_rows:
        raise ValueError(
            f"model {cfg.name!r}: conformal calibration needs {min_rows} hours per series before its first "
            f"origin {origins[0]}; lower calibration_origins or give it more history"
        )
    models = []
    for m in members:
        part, exog_complete = member_data(m, data)  # completeness over all rows, as the served model's fit
        models.append(_fit_mlforecast(m, part[part["ds"] <= origins[0]], exog_complete, horizon, seed, threads,
                                      quantiles=False))  # fmt: skip
    exogs = [list(m.exog) for m in members]
    pairs = [(data[data["ds"] <= o], data[(data["ds"] > o) & (data["ds"] <= o + pd.Timedelta(hours=horizon))])
             for o in origins]  # fmt: skip
    steps = [int(future.groupby("unique_id").size().max()) for _, future in pairs]
    # All origins in one forecast call when they ask for the same steps, each origin's copy of a
    # series a series of its own (forecaster_model.stack_origins: the numbers of one call per origin).
    if len(set(steps)) == 1:
        batches = [(stack_origins(pairs), steps[0])]
    else:
        batches = [(stack_origins([pair]), n) for pair, n in zip(pairs, steps, strict=True)]
    errors = []
    for (history, future), n_steps in batches:
        merged = future[["unique_id", "ds", "y"]].copy()
        merged["point"] = mean_point(models, exogs, history, future, n_steps)
        merged["step"] = merged.groupby("unique_id").cumcount()
        scale = merged["unique_id"].map(recent_scale(history[["unique_id", "ds", "y"]]))
        merged["error"] = (merged["y"] - merged["point"]) / scale
        errors.append(merged[["step", "error"]])
    by_step = pd.concat(errors).groupby("step")["error"]
    return {"lo": by_step.quantile(0.1).tolist(), "hi": by_step.quantile(0.9).tolist()}


def _fit_mlforecast(
    cfg: ModelConfig, data: pd.DataFrame, exog_complete: bool, horizon: int, seed: int, threads: int, quantiles: bool
) -> Any:
    """The fitted MLForecast: point model, plus the q10 / q90 quantile models when `quantiles`."""
    import lightgbm as lgb
    from mlforecast import MLForecast

    base = estimator_params(cfg, seed, threads)
    models = {"point": lgb.LGBMRegressor(**{"objective": "regression", **base})}
    if quantiles:
        for name, alpha in QUANTILE_MODELS.items():
            models[name] = lgb.LGBMRegressor(**{**base, "objective": "quantile", "alpha": alpha})
    mlf = MLForecast(
        models=models,
        freq="h",
        lags=list(cfg.lags),
        lag_transforms=lag_transforms(cfg.lag_transforms),
        target_transforms=target_transforms(cfg.target_transforms),
        num_threads=threads,
    )
    weights = sample_weights(cfg, data)
    if weights is not None:
        data = data.assign(**{WEIGHT_COLUMN: weights})
    mlf.fit(
        data,
        static_features=[],
        dropna=exog_complete,
        max_horizon=horizon if cfg.strategy == "direct" else None,
        weight_col=WEIGHT_COLUMN if weights is not None else None,
    )
    single_threaded_prediction(mlf)
    return mlf


def single_threaded_prediction(mlf: Any) -> None:
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
