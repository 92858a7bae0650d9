"""LightGBM training on a Dask cluster (`ENERGY_TRAINING_ENGINE=dask`): the path past one machine.

Why mlforecast's `DistributedMLForecast`: it computes the same lag features as the local
`MLForecast` partition by partition (each partition holds whole series) and trains LightGBM's
own data-parallel Dask learner over the partitions, so a portfolio too large for one process
trains with the *same* model configuration, not a rewrite. The fitted object is converted back
to a local `MLForecast` (`to_local`), so the registered model, its bundle and batch prediction are
exactly those of the local engine: only training is distributed, serving stays in one process.

What is and is not distributed: the training frame still arrives as one pandas frame (the
feature store read), which is then split into partitions; feature engineering and tree
learning run on the workers. Direct (multi-horizon) models have no distributed fit in mlforecast,
so they are fitted locally, with a logged warning naming the model.

Agreement with the local engine: with one partition on one worker LightGBM's data-parallel
learner sees exactly the local rows and produces the same trees, so the forecasts are identical
(`tests/test_distributed.py`). With several partitions each worker bins its own rows and the
trees differ slightly; the forecasts then agree to about a percent (WAPE between the two), which
is what the test accepts for that case. Spark and Ray: docs/distributed-training.md.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from energy_core.settings import TrainingEngineSettings, load
from energy_training.config import ModelConfig
from energy_training.forecaster_model import CONFORMAL_KEY, FittedForecaster
from energy_training.models.lightgbm import (
    QUANTILE_MODELS,
    WEIGHT_COLUMN,
    conformal_quantiles,
    estimator_params,
    fit_lightgbm,
    lag_transforms,
    sample_weights,
    single_threaded_prediction,
    target_transforms,
    training_data,
)

if TYPE_CHECKING:
    from dask.distributed import Client

log = logging.getLogger(__name__)

ENGINE_LOCAL = "local"
ENGINE_DASK = "dask"


@lru_cache(maxsize=1)
def engine_settings() -> TrainingEngineSettings:
    """The engine settings, read once per process (a training run does not change engine midway)."""
    return load(TrainingEngineSettings)


def fit_lightgbm_on_engine(
    cfg: ModelConfig, frame: pd.DataFrame, horizon: int, seed: int, threads: int
) -> FittedForecaster:
    """Fit a LightGBM candidate on the engine the settings select (the hook `fit_model` calls)."""
    settings = engine_settings()
    if settings.engine == ENGINE_LOCAL:
        return fit_lightgbm(cfg, frame, horizon, seed, threads)
    if cfg.strategy == "direct" or cfg.members:
        log.warning(
            "model %s: ENERGY_TRAINING_ENGINE=dask trains single recursive LightGBM models only (mlforecast "
            "has no distributed direct fit; an ensemble's members are fitted in process); fitting it locally",
            cfg.name,
        )
        return fit_lightgbm(cfg, frame, horizon, seed, threads)
    client = shared_client(settings.dask_scheduler, settings.dask_workers)
    partitions = settings.dask_partitions or _worker_count(client)
    return fit_lightgbm_on_dask(cfg, frame, horizon, seed, client, partitions)


def fit_lightgbm_on_dask(
    cfg: ModelConfig, frame: pd.DataFrame, horizon: int, seed: int, client: Client, partitions: int
) -> FittedForecaster:
    """`fit_lightgbm`'s model, trained with DistributedMLForecast on `client` over `partitions`
    partitions of whole series, returned as a local (servable) forecaster."""
    import dask.dataframe as dd
    from mlforecast.distributed import DistributedMLForecast
    from mlforecast.distributed.models.dask.lgb import DaskLGBMForecast

    if cfg.strategy != "recursive":
        raise ValueError(
            f"model {cfg.name!r}: the Dask engine fits recursive LightGBM only, got strategy {cfg.strategy!r}"
        )
    if partitions < 1:
        raise ValueError(f"the Dask engine needs at least one partition, got {partitions}")
    # Workers decide LightGBM's threads (one per worker thread); n_jobs would only be ignored.
    base = {k: v for k, v in estimator_params(cfg, seed, threads=1).items() if k != "n_jobs"}
    models: dict[str, Any] = {"point": DaskLGBMForecast(objective="regression", **base)}
    if cfg.intervals == "quantile":
        for name, alpha in QUANTILE_MODELS.items():
            models[name] = DaskLGBMForecast(objective="quantile", alpha=alpha, **base)
    data, exog_complete = training_data(cfg, frame)
    weights = sample_weights(cfg, data)
    if weights is not None:
        data = data.assign(**{WEIGHT_COLUMN: weights})
    n_series = int(data["unique_id"].nunique())
    partitions = min(partitions, n_series)
    dmlf = DistributedMLForecast(
        models=models,
        freq="h",
        lags=list(cfg.lags),
        lag_transforms=lag_transforms(cfg.lag_transforms),
        target_transforms=target_transforms(cfg.target_transforms),
        engine=client,
        num_partitions=partitions,
    )
    log.info(
        "model %s: training on Dask (%s, %d workers), %d series in %d partitions, %d rows",
        cfg.name, client.scheduler_info().get("address", "?"), _worker_count(client),
        n_series, partitions, len(data),
    )  # fmt: skip
    dmlf.fit(
        dd.from_pandas(data, npartitions=partitions, sort=False),
        static_features=[],
        dropna=exog_complete,
        weight_col=WEIGHT_COLUMN if weights is not None else None,
    )
    mlf = dmlf.to_local()
    single_threaded_prediction(mlf)
    extra: dict[str, Any] = {
        "engine": "mlforecast",
        "strategy": cfg.strategy,
        "config": cfg.name,
        "training_engine": ENGINE_DASK,
        "dask_partitions": partitions,
    }
    if cfg.intervals == "conformal":
        # The calibration model is one point model on a few recent origins: fitted in process.
        labelled = data.drop(columns=[WEIGHT_COLUMN], errors="ignore")
        extra[CONFORMAL_KEY] = conformal_quantiles(cfg, labelled, horizon, seed, threads=1)
    return FittedForecaster(family="lightgbm", exog=list(cfg.exog), horizon=horizon, model=mlf, extra=extra)


@contextmanager
def dask_client(scheduler: str | None, workers: int, processes: bool = True) -> Iterator[Client]:
    """A client of the cluster at `scheduler`, or of a LocalCluster of `workers` single-threaded
    workers started here; whatever was started here is closed on exit."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        yield client


_SHARED: dict[tuple[str | None, int], tuple[Client, ExitStack]] = {}


def shared_client(scheduler: str | None, workers: int) -> Client:
    """One client per process and cluster, kept for every fit of a run (tuning fits dozens of
    models; starting a cluster for each would cost seconds every time); closed at exit."""
    key = (scheduler, workers)
    if key not in _SHARED:
        if not _SHARED:
            atexit.register(close_shared_clients)
        stack = ExitStack()
        client = stack.enter_context(dask_client(scheduler, workers))
        _SHARED[key] = (client, stack)
        log.info("Dask client for training: %s", scheduler or f"LocalCluster of {workers} workers")
    return _SHARED[key][0]


def close_shared_clients() -> None:
    """Close every shared client (and the LocalClusters started for them)."""
    while _SHARED:
        _, (_, stack) = _SHARED.popitem()
        stack.close()


def _worker_count(client: Client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))
